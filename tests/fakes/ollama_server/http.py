"""The fake's HTTP side on the shared loopback base: what a request records, and the handler
that writes plain answers, chunked NDJSON streams, drops connections and notices a client leave."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.http_server import BaseHandler, BodyTooLarge
from tests.fakes.ollama_server.replies import Reply
from tests.fakes.ollama_server.wire import JSON_CT, NDJSON_CT, enc, go_json

_BATCH_BYTES = 16384  # with no token delay, lines (one chunk each) are sent in batches


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any
    time: float  # time.monotonic() when the request was read
    body: bytes = field(default=b"", repr=False)
    client: tuple | None = None
    status: int | None = None  # HTTP status sent (None: no response)
    lines_sent: int = 0  # NDJSON lines written (flushed) to the socket
    disconnected: bool = False  # the client went away before the response was complete
    aborted: bool = False  # the fake closed the connection on purpose (drop_after, reset)
    completed: bool = False  # the response was written in full
    reply: Reply | None = None  # the reply used (scripted or default)
    t0_ns: int = field(default=0, repr=False)


class ClientGone(Exception):
    """The client closed the connection."""


class ServerStopping(Exception):
    """The fake is shutting down."""


class OllamaHandler(BaseHandler):
    """One connection to the fake: hands each request to ``server.owner`` (the FakeOllama)."""

    server_version = "FakeOllama/1.0"

    rec: RecordedRequest | None = None

    def _dispatch(self) -> None:
        fake = self.server.owner
        try:
            body = self.read_body()
        except BodyTooLarge:
            self.send_text_error(413, "http: request body too large")
            return
        if body is None:
            self.close_connection = True
            body = b""
        rec = fake._record(self.command, self.path, self.headers, body, self.client_address)
        self.rec = rec
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_lines = 0
        if fake.reset_connections:
            rec.aborted = True
            self.abort()
            return
        try:
            fake._handle(self, rec)
            rec.completed = not rec.aborted
        except (ClientGone, ConnectionError, BrokenPipeError):
            rec.disconnected = True
            self.close_connection = True
        except ServerStopping:
            self.close_connection = True
        except OSError:
            rec.disconnected = True
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # -- plain responses ----------------------------------------------------------------------

    def send_body(self, status: int, body: bytes, ctype: str) -> None:
        self.rec.status = status
        self.send_bytes(status, body, ctype)

    def send_json(self, status: int, obj: Any) -> None:
        self.send_body(status, enc(go_json(obj)), JSON_CT)

    # -- chunked NDJSON -----------------------------------------------------------------------

    def begin_stream(self, status: int = 200, ctype: str = NDJSON_CT) -> None:
        self.rec.status = status
        self.begin_chunked(status, ctype)

    def queue_line(self, line: bytes) -> None:
        """Queue one line as one chunk; call :meth:`flush` to write."""
        self._pending.append(self.chunk(line))
        self._pending_bytes += len(line) + 8
        self._pending_lines += 1

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        n = self._pending_lines
        self._pending.clear()
        self._pending_bytes = 0
        self._pending_lines = 0
        self.wfile.write(data)
        self.rec.lines_sent += n

    def send_line(self, line: bytes, batch: bool) -> None:
        self.queue_line(line)
        if not batch or self._pending_bytes >= _BATCH_BYTES:
            if batch and self.peer_closed():
                raise ClientGone
            self.flush()

    def end_stream(self) -> None:
        self.flush()
        self.end_chunked()

    def abort(self) -> None:
        """Close the connection now (mid-body if a stream was started)."""
        with contextlib.suppress(OSError):
            self.flush()
        self.close_connection = True
        if self.rec is not None:
            self.rec.aborted = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- client liveness ----------------------------------------------------------------------

    def peer_closed(self) -> bool:
        """True when the client has closed its side (EOF or reset), without blocking."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, raising :class:`ClientGone` as soon as the client goes away."""
        fake = self.server.owner
        self.flush()
        deadline = time.monotonic() + seconds
        conn = self.connection
        while True:
            if fake.stopping.is_set():
                raise ServerStopping
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = min(remaining, 0.05)
            try:
                r, _, _ = select.select([conn], [], [], step)
            except (OSError, ValueError) as exc:
                raise ClientGone from exc
            if r:
                if self.peer_closed():
                    raise ClientGone
                # The client sent more bytes (pipelining): just sleep the step out.
                fake.stopping.wait(step)

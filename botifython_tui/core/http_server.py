"""A small threaded HTTP server on loopback, in a daemon thread: the one base of every server here.

The downloads server for Cosmograph (`core/fileserver.py`), the Botify simulator behind `--demo`
(`core/botify_sim/`) and the test suite's fake Ollama share it; what differs stays in each.

- `LoopbackHTTPServer`: a `ThreadingHTTPServer` that never looks up its own name (no reverse DNS),
  wakes at once when asked to stop, tracks its open connections (`admit` decides whether a new
  one is served) and logs handler errors instead of printing them over the terminal.
- `BaseHandler`: HTTP/1.1 keep-alive, quiet, with helpers to read a bounded body (Content-Length
  or chunked) and to send bytes, JSON, errors and chunked streams.
- `BackgroundServer`: binds a given or free port (a taken port can fall back to a free one),
  starts and stops idempotently (stop joins the thread and cuts open connections), and records
  requests (`record`, with an optional `on_request` hook).

Standard library only; no Textual.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import selectors
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = [
    "MAX_BODY_BYTES",
    "BackgroundServer",
    "BaseHandler",
    "BodyTooLarge",
    "ConnectionState",
    "LoopbackHTTPServer",
    "address_in_use",
]

MAX_BODY_BYTES = 64 * 1024 * 1024  # a request body larger than this is refused (413)
_CHUNK_LINE = 65537  # a chunk-size line longer than this is malformed
_ADDRESS_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}

R = TypeVar("R")


def address_in_use(exc: OSError) -> bool:
    """Whether binding failed because the port is taken."""
    return exc.errno in _ADDRESS_IN_USE


class BodyTooLarge(Exception):
    """A request body (announced or chunked) is over the handler's `max_body` bytes."""


@dataclass
class ConnectionState:
    """An open connection: since when it is idle or busy, and whether it was cut for a newcomer."""

    since: float
    busy: bool = False
    evicted: bool = False


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that stops at once and never writes to stderr."""

    daemon_threads = True
    request_queue_size = 128
    # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; on Windows it would let two servers
    # share a port, hiding the "port busy" error.
    allow_reuse_address = os.name != "nt"
    log = logging.getLogger("botifython.http")

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        family: int | None = None,
        owner: Any = None,
    ) -> None:
        self.address_family = (
            family
            if family is not None
            else socket.AF_INET6
            if ":" in address[0]
            else socket.AF_INET
        )
        self.owner = owner  # what the handlers serve (the simulator, the fake, the config)
        self._connections: dict[socket.socket, ConnectionState] = {}
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()  # closed by server_close(), even on errors
        try:
            super().__init__(address, handler)
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang for
        # seconds on a box with no DNS; the name is never needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    # -- serving and stopping --

    def serve_until_stopped(self) -> None:
        """Like serve_forever(), but request_stop() wakes it at once instead of polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stopping.is_set():
                        self._handle_request_noblock()

    def request_stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    # -- connections --

    def admit(self, request: socket.socket) -> bool:
        """Whether to serve a new connection (called with the connections lock held)."""
        return True

    def refuse(self, request: socket.socket) -> None:
        """Answer a connection `admit` turned away (by default: just close it)."""
        self.shutdown_request(request)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            admitted = self.admit(request)
            if admitted:
                self._connections[request] = ConnectionState(time.monotonic())
        if not admitted:
            self.refuse(request)
            return
        super().process_request(request, client_address)

    def mark(self, request: socket.socket, *, busy: bool) -> None:
        """Note that a connection is answering a request (busy) or waiting for the next one."""
        with self._connections_lock:
            state = self._connections.get(request)
            if state is not None:
                state.busy = busy
                state.since = time.monotonic()

    def open_connections(self) -> int:
        with self._connections_lock:
            return sum(1 for c in self._connections.values() if not c.evicted)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection (idle keep-alive ones too) so nothing is served after stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr, which would scribble over the TUI.
        self.log.debug("error while serving %s", client_address, exc_info=True)


class BaseHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, quiet; bounded body reads and helpers to answer."""

    server: LoopbackHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "Botifython"
    sys_version = ""
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on keep-alive
    max_body = MAX_BODY_BYTES

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        self.server.log.debug("%s " + format, self.address_string(), *args)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # BrokenPipe, ConnectionReset, timeouts, cut by stop(): the client is gone
            self.close_connection = True

    # -- reading --

    def read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None when malformed or cut short.

        Raises BodyTooLarge when the body is over `max_body` bytes; nothing more is read then.
        """
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0:
            return None
        if length > self.max_body:
            raise BodyTooLarge(f"{length} bytes announced, at most {self.max_body} accepted")
        if length == 0:
            return b""
        data = self.rfile.read(length)
        return data if len(data) == length else None

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_CHUNK_LINE)
            if not line:
                return None
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return None
            if size < 0:
                return None
            if size == 0:
                while self.rfile.readline(_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > self.max_body:
                raise BodyTooLarge(f"over {self.max_body} bytes in chunks")
            data = self.rfile.read(size)
            if len(data) != size:
                return None
            chunks.append(data)
            self.rfile.readline(_CHUNK_LINE)

    # -- answering --

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str | None = None,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        *,
        close: bool = False,
    ) -> None:
        """One whole response; the body is left out for HEAD."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(
        self,
        status: int,
        payload: Any,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        *,
        content_type: str = "application/json",
    ) -> None:
        self.send_bytes(status, json.dumps(payload).encode("utf-8"), content_type, headers)

    def send_text_error(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    ) -> None:
        """A short plain-text error; the connection closes (an unread body may follow)."""
        body = f"{status} {reason}\n".encode()
        self.send_bytes(status, body, "text/plain; charset=utf-8", headers, close=True)

    def begin_chunked(
        self,
        status: int,
        content_type: str,
        headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Start a chunked response; follow with `chunk(...)` calls and `end_chunked()`."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    @staticmethod
    def chunk(data: bytes) -> bytes:
        """`data` framed as one HTTP chunk (write it, or join several into one write)."""
        return b"%X\r\n%s\r\n" % (len(data), data)

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def cut(self) -> None:
        """Close the connection now, mid-body if need be (the client sees a dropped connection)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class BackgroundServer(Generic[R]):
    """An HTTP server on loopback in a daemon thread: start/stop, port, requests recorded.

    Subclasses set `handler` (a BaseHandler subclass) and may override `make_server`. Port 0
    picks a free port; with `fallback_to_free_port`, a taken port does too (`notice` says so).
    `requests` holds what `record` was given; `on_request`, when set, sees each one as well.
    """

    handler: type[BaseHTTPRequestHandler] = BaseHandler
    server_class: type[LoopbackHTTPServer] = LoopbackHTTPServer
    thread_name = "http-server"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, fallback_to_free_port: bool = False
    ) -> None:
        self.host = host
        self.requested_port = int(port)
        self.fallback_to_free_port = fallback_to_free_port
        self.notice = ""  # set when the requested port was busy and another one was used
        self.requests: list[R] = []
        self.on_request: Any = None  # Callable[[R], None] | None
        self._lock = threading.RLock()
        self._life = threading.Lock()
        self._stopping = threading.Event()  # handlers wait on it, so stop() cuts their sleeps
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- state --

    @property
    def running(self) -> bool:
        server, thread = self._server, self._thread
        return server is not None and thread is not None and thread.is_alive()

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return server.port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- life cycle --

    def make_server(self, port: int) -> LoopbackHTTPServer:
        """Bind (raises OSError); override to give the server more configuration."""
        return self.server_class((self.host, port), self.handler, owner=self)

    def start(self) -> BackgroundServer[R]:
        """Bind and serve in a daemon thread; does nothing if already running."""
        with self._life:
            if self.running:
                return self
            self._stop_locked()  # a thread that died on its own: clean up before restarting
            self._stopping.clear()
            self.notice = ""
            try:
                server = self.make_server(self.requested_port)
            except OSError as exc:
                if (
                    not self.fallback_to_free_port
                    or self.requested_port == 0
                    or not address_in_use(exc)
                ):
                    raise
                server = self.make_server(0)
                self.notice = (
                    f"Port {self.requested_port} is in use; serving on port {server.port} instead."
                )
            thread = threading.Thread(
                target=server.serve_until_stopped,
                name=f"{self.thread_name}:{server.port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
            return self

    def stop(self) -> None:
        """Stop serving, join the thread and cut open connections; does nothing if stopped."""
        with self._life:
            self._stop_locked()

    def _stop_locked(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.request_stop()
        if thread is not None:
            thread.join(timeout=5)
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Start (if needed) and block until Ctrl-C."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> BackgroundServer[R]:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- records --

    def record(self, request: R) -> R:
        """Keep a request (whatever the subclass records) and tell `on_request`."""
        with self._lock:
            self.requests.append(request)
        hook = self.on_request
        if hook is not None:
            hook(request)
        return request

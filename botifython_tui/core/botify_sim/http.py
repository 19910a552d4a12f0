"""The simulator's HTTP side: what a request records, what an answer holds, and the handler
that reads one and writes the other (on the shared loopback base, `core/http_server.py`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.http_server import BaseHandler, BodyTooLarge


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    time: float
    body: bytes = b""
    raw_path: str = ""
    status: int | None = None  # filled in once the response is chosen
    injected: bool = False
    client: tuple | None = None  # (host, port) of the client socket (keep-alive checks)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    file: str | None = None  # stream this file instead of body
    length: int = 0  # bytes of `file` to send
    delay: float = 0.0
    rate_limited_stream: bool = False
    offset: int = 0  # first byte of `file` to send (a Range request)
    rate: float | None = None  # bytes/s for this response (else the server's download_rate)
    cut: int | None = None  # close the connection after this many bytes (a dropped download)


def json_response(status: int, payload: Any, headers: list | None = None) -> Response:
    """A JSON answer."""
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json"), *(headers or [])])


class SimulatorHandler(BaseHandler):
    """Reads a request, lets the simulator (`server.owner`) choose the answer, writes it."""

    server_version = "FakeBotify/1.0"

    def _dispatch(self) -> None:
        sim = self.server.owner
        try:
            body = self.read_body()
        except BodyTooLarge:
            self.send_json(
                413,
                {"error": {"error_code": "1020", "message": "Request body too large"}},
                [("Connection", "close")],
            )
            self.close_connection = True
            return
        if body is None:  # malformed or cut short: answer, then drop the connection
            self.close_connection = True
            body = b""
        rec = sim._record(self.command, self.path, self.headers, body, self.client_address)
        resp = sim._respond(rec)
        rec.status = resp.status
        self._send(resp, head_only=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, resp: Response, head_only: bool) -> None:
        sim = self.server.owner
        stopping = sim.stopping
        if resp.delay > 0:
            stopping.wait(resp.delay)
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        length = resp.length if resp.file is not None else len(resp.body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head_only:
            return
        if resp.file is None:
            if resp.body:
                self.wfile.write(resp.body)
            return
        with open(resp.file, "rb") as fh:
            fh.seek(resp.offset)
            remaining = length if resp.cut is None else min(length, resp.cut)
            while remaining > 0 and not stopping.is_set():
                rate = (resp.rate or sim.download_rate) if resp.rate_limited_stream else None
                chunk = 65536 if not rate else max(256, min(65536, int(rate / 20)))
                data = fh.read(min(chunk, remaining))
                if not data:
                    break
                self.wfile.write(data)
                remaining -= len(data)
                if rate:
                    time.sleep(len(data) / float(rate))
            if remaining > 0 or resp.cut is not None:
                self.close_connection = True
                if resp.cut is not None:  # the peer sees the body end early
                    self.cut()

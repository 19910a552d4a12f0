"""The shared loopback HTTP base (core/http_server.py) that the downloads server and the fakes use."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest

from botifython_tui.core.http_server import BackgroundServer, BaseHandler, BodyTooLarge


class _Echo(BaseHandler):
    max_body = 1024

    def do_POST(self) -> None:
        try:
            body = self.read_body()
        except BodyTooLarge:
            self.send_text_error(413, "Payload Too Large")
            return
        if body is None:
            self.send_text_error(400, "Bad Request")
            return
        self.server.owner.record(("POST", self.path, body))
        self.send_json(200, {"length": len(body)})

    def do_GET(self) -> None:
        self.server.owner.record(("GET", self.path, b""))
        self.begin_chunked(200, "text/plain")
        self.wfile.write(self.chunk(b"one ") + self.chunk(b"two"))
        self.end_chunked()


class _EchoServer(BackgroundServer[tuple]):
    handler = _Echo
    thread_name = "echo"


def _get(server: BackgroundServer, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _raw(server: BackgroundServer, data: bytes) -> bytes:
    """Send raw bytes and read the whole answer (the server closes after an error)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_start_and_stop_are_idempotent_and_stop_joins_the_thread():
    server = _EchoServer()
    assert not server.running
    server.stop()  # stopping a server never started does nothing
    server.start()
    port, thread = server.port, server._thread
    server.start()  # already running: the same server, the same port
    assert server.port == port and server._thread is thread
    assert _get(server) == (200, b"one two")
    server.stop()
    server.stop()
    assert not server.running and thread is not None and not thread.is_alive()
    with pytest.raises(RuntimeError):
        server.port  # noqa: B018 - a stopped server has no port
    with server:  # and it starts again
        assert _get(server)[0] == 200
    assert not server.running


def test_stop_cuts_idle_keep_alive_connections():
    with _EchoServer() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"one two"
    # The connection stayed open (keep-alive); after stop() nothing answers on it.
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/")
        conn.getresponse().read()
    conn.close()


def test_a_taken_port_falls_back_to_a_free_one_only_when_asked():
    with _EchoServer() as first:
        taken = first.port
        with pytest.raises(OSError):
            _EchoServer(port=taken).start()
        second = _EchoServer(port=taken, fallback_to_free_port=True)
        with second:
            assert second.port != taken
            assert f"Port {taken} is in use" in second.notice
            assert _get(second)[0] == 200
        assert first.notice == "" and _get(first)[0] == 200


def test_requests_are_recorded_and_the_hook_sees_each():
    seen: list[tuple] = []
    with _EchoServer() as server:
        server.on_request = seen.append
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/a", body=b"hello")
        response = conn.getresponse()
        assert json.loads(response.read()) == {"length": 5}
        assert _get(server, "/b")[0] == 200
        conn.close()
    assert server.requests == [("POST", "/a", b"hello"), ("GET", "/b", b"")]
    assert seen == server.requests


def test_a_chunked_body_is_read_whole():
    with _EchoServer() as server:
        answer = _raw(
            server,
            b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
            b"\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"length": 7}')
    assert server.requests == [("POST", "/c", b"abcdefg")]


@pytest.mark.parametrize(
    "request_head",
    [
        # announced: refused before a byte of the body is read
        b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n",
        # chunked: refused as soon as the chunks pass the limit
        b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"400\r\n"
        + b"x" * 1024
        + b"\r\n"
        + b"1\r\ny\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_an_over_long_body_is_refused_with_413(request_head):
    with _EchoServer() as server:
        done = threading.Event()
        answer: list[bytes] = []

        def send() -> None:
            answer.append(_raw(server, request_head))
            done.set()

        threading.Thread(target=send, daemon=True).start()
        assert done.wait(10), "the server waited for a body it should have refused"
    assert answer[0].startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in answer[0]
    assert server.requests == []  # nothing was handled


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc",
        b"POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"zz\r\nabc\r\n",
    ],
    ids=["cut-short", "bad-chunk-size"],
)
def test_a_malformed_body_is_none_not_a_crash(request_head):
    with (
        _EchoServer() as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(request_head)
        sock.shutdown(socket.SHUT_WR)  # the client gives up mid-body
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 400")
    assert server.requests == []

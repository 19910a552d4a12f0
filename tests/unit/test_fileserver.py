"""The exports server for Cosmograph, over real HTTP: a capability, not an open door."""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from botifython_tui.core.fileserver import (
    MAX_CONNECTIONS,
    DownloadsServer,
    FileServerError,
    export_files,
)

BASE = "acme_example.com_20241108"
LINKS = f"{BASE}_linkgraph_depth-3.csv"
META = f"{BASE}_depth-3_meta.csv"
NODES = f"{BASE}_depth-3_nodes.csv"
LINKS_CSV = "source,target\nhttps://e.com/,https://e.com/a\nhttps://e.com/a,https://e.com/b\n"
SECRET_TEXT = "TOP-SECRET-OUTSIDE-ROOT"
COSMOGRAPH = "https://cosmograph.app"
REFUSED = (400, 403, 404, 421)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "downloads"
    root.mkdir()
    (root / LINKS).write_text(LINKS_CSV, encoding="utf-8")
    (root / META).write_text("id,depth,pagetype\nhttps://e.com/,0,home\n", encoding="utf-8")
    (root / NODES).write_text("id,pagerank\nhttps://e.com/,0.5\n", encoding="utf-8")
    (root / f".{LINKS}.part").write_text("half-written\n")
    (root / "notes.txt").write_text("not an export\n")
    (root / "other-client_linkgraph_depth-2.csv").write_text("another client's crawl\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET_TEXT)
    (tmp_path / "secret").write_text(SECRET_TEXT)
    return root


def record(root: Path, links: str = LINKS, meta: str | None = META) -> SimpleNamespace:
    """The two fields of a store ExportRecord the server reads."""
    return SimpleNamespace(
        links_path=str(root / links), meta_path=str(root / meta) if meta else None
    )


@pytest.fixture
def exports(root: Path) -> list[SimpleNamespace]:
    return [record(root)]


@pytest.fixture
def server(root: Path, exports) -> Iterator[DownloadsServer]:
    with DownloadsServer(root, port=0, allowed=lambda: export_files(exports)) as srv:
        yield srv


def at(srv: DownloadsServer, name: str) -> str:
    return f"/{srv.secret}/{name}"


def request(
    srv: DownloadsServer, method: str, path: str, headers: dict[str, str] | None = None, body=None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send the path verbatim (httpx would normalise `..` away); Host is 127.0.0.1:PORT."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def raw_request(srv: DownloadsServer, data: bytes, timeout: float = 5) -> bytes:
    """Bytes on the wire, for what http.client refuses to send."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def assert_still_serves(srv: DownloadsServer) -> None:
    status, _, body = request(srv, "GET", at(srv, LINKS))
    assert (status, body) == (200, LINKS_CSV.encode())


def assert_no_cors(headers) -> None:
    assert "Access-Control-Allow-Origin" not in headers
    assert "Access-Control-Allow-Private-Network" not in headers


# --- serving the exports to Cosmograph -----------------------------------------------------------


def test_serves_an_export_to_cosmograph_with_cors_for_its_origin_only(server: DownloadsServer):
    response = httpx.get(server.url_for(Path(LINKS)), headers={"Origin": COSMOGRAPH})
    assert response.status_code == 200
    assert response.text == LINKS_CSV
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-length"] == str(len(LINKS_CSV.encode()))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["access-control-allow-origin"] == COSMOGRAPH
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"Content-Length", "Content-Range"} <= exposed  # else Cosmograph loads partially
    assert response.headers["vary"] == "Origin"
    assert "*" not in " ".join(response.headers.values())


def test_url_carries_a_secret_of_at_least_128_bits(server: DownloadsServer, root: Path):
    url = server.url_for(root / LINKS)
    assert url == f"{server.base_url}/{server.secret}/{LINKS}"
    assert len(server.secret) * 6 >= 128
    other = DownloadsServer(root, port=0)
    assert other.secret != server.secret


def test_without_origin_a_plain_get_is_served_without_cors(server: DownloadsServer):
    status, headers, body = request(server, "GET", at(server, LINKS))
    assert (status, body) == (200, LINKS_CSV.encode())
    assert_no_cors(headers)


def test_preflight_allows_private_network_access_for_cosmograph_only(server: DownloadsServer):
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range",
        "Access-Control-Request-Private-Network": "true",
    }
    status, headers, body = request(
        server, "OPTIONS", at(server, LINKS), {**preflight, "Origin": COSMOGRAPH}
    )
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == COSMOGRAPH
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "Range" in headers["Access-Control-Allow-Headers"]

    for origin in ("https://evil.example", "null", "https://cosmograph.app.evil.example"):
        status, headers, _ = request(
            server, "OPTIONS", at(server, LINKS), {**preflight, "Origin": origin}
        )
        assert status == 403, origin
        assert_no_cors(headers)


def test_an_origin_not_on_the_list_is_refused(server: DownloadsServer):
    for origin in ("https://evil.example", "http://cosmograph.app", "null"):
        status, headers, body = request(server, "GET", at(server, LINKS), {"Origin": origin})
        assert status == 403, origin
        assert LINKS_CSV.encode() not in body
        assert_no_cors(headers)
    assert_still_serves(server)


def test_the_allowed_origins_are_configurable(root: Path, exports):
    mine = "https://graphs.example.org"
    allowed = lambda: export_files(exports)  # noqa: E731
    with DownloadsServer(root, port=0, allowed=allowed, origins=[mine]) as srv:
        status, headers, _ = request(srv, "GET", at(srv, LINKS), {"Origin": mine})
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, mine)
        status, _, _ = request(srv, "GET", at(srv, LINKS), {"Origin": COSMOGRAPH})
        assert status == 403


# --- who may ask: Host and the secret ------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1",
        "127.0.0.1:{other}",
        "localhost.evil:{port}",
        "",
    ],
)
def test_a_foreign_host_is_misdirected(server: DownloadsServer, host: str):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host."""
    value = host.format(port=server.port, other=server.port + 1)
    status, headers, body = request(server, "GET", at(server, LINKS), {"Host": value})
    assert status == 421
    assert LINKS_CSV.encode() not in body
    assert_no_cors(headers)
    assert_still_serves(server)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_loopback_hosts_with_the_port_are_answered(server: DownloadsServer, name: str):
    status, _, body = request(server, "GET", at(server, LINKS), {"Host": f"{name}:{server.port}"})
    assert (status, body) == (200, LINKS_CSV.encode())


def test_without_the_secret_nothing_is_learnt(server: DownloadsServer):
    wrong = "x" * len(server.secret)
    not_found = request(server, "GET", at(server, "missing.csv"))
    for path in (
        f"/{LINKS}",
        f"/{wrong}/{LINKS}",
        f"/{server.secret[:-1]}/{LINKS}",
        f"/{server.secret}x/{LINKS}",
        "/",
        f"/{server.secret}",
        f"/{server.secret}/",
        f"/{server.secret.upper()}/{LINKS}" if server.secret != server.secret.upper() else "/x",
    ):
        status, headers, body = request(server, "GET", path)
        assert status == 404, path
        assert body == not_found[2] == b"404 Not Found\n"  # the same answer: no oracle
        assert_no_cors(headers)
    assert_still_serves(server)


# --- what may be served: recorded exports only ---------------------------------------------------


def test_meta_and_the_nodes_file_beside_the_links_are_served(server: DownloadsServer):
    for name in (META, NODES):
        status, _, body = request(server, "GET", at(server, name))
        assert status == 200, name
        assert body.startswith(b"id,")


def test_export_files_follow_the_file_name_contract(root: Path):
    assert export_files([record(root)]) == [root / LINKS, root / META, root / NODES]
    (root / NODES).unlink()
    assert export_files([record(root, meta=None)]) == [root / LINKS]


@pytest.mark.parametrize(
    "name", ["notes.txt", "other-client_linkgraph_depth-2.csv", f".{LINKS}.part", "missing.csv"]
)
def test_files_that_are_not_recorded_exports_are_not_served(server: DownloadsServer, name: str):
    status, _, body = request(server, "GET", at(server, name))
    assert status == 404
    assert b"crawl" not in body and b"half-written" not in body and b"export\n" not in body
    with pytest.raises(FileServerError):
        server.url_for(name)


def test_only_the_current_exports_count(root: Path):
    exports = [record(root)]
    with DownloadsServer(root, port=0, allowed=lambda: export_files(exports)) as srv:
        assert_still_serves(srv)
        exports.clear()  # the profile changed, or the export was forgotten
        assert request(srv, "GET", at(srv, LINKS))[0] == 404


def test_a_recorded_symlink_out_of_the_folder_is_not_served(root: Path, tmp_path: Path):
    (root / "evil_linkgraph_depth-1.csv").symlink_to(tmp_path / "secret")
    (root / "evil-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    exports = [
        record(root, "evil_linkgraph_depth-1.csv", None),
        SimpleNamespace(links_path=str(root / "evil-dir" / "secret.txt"), meta_path=None),
        SimpleNamespace(links_path=str(tmp_path / "secret"), meta_path=None),
    ]
    with DownloadsServer(root, port=0, allowed=lambda: export_files(exports)) as srv:
        for name in ("evil_linkgraph_depth-1.csv", "evil-dir/secret.txt", "../secret"):
            status, _, body = request(srv, "GET", at(srv, name))
            assert status == 404, name
            assert SECRET_TEXT.encode() not in body
        for path in (root / "evil_linkgraph_depth-1.csv", tmp_path / "secret"):
            with pytest.raises(FileServerError):
                srv.url_for(path)


@pytest.mark.parametrize(
    "tail",
    [
        "../secret",
        "../../etc/passwd",
        "%2e%2e/secret",
        "%2E%2E%2Fsecret",
        "..%2fsecret",
        "..%2Foutside%2Fsecret.txt",
        "%252e%252e%252fsecret",  # double encoding
        "%25252e%25252e/secret",
        "..\\secret",
        "%5c..%5csecret",
        "..%5Csecret",
        "%c0%ae%c0%ae/secret",  # overlong UTF-8
        "%ef%bc%8e%ef%bc%8e/secret",  # fullwidth dots
        "\u2025/secret".encode().decode("latin-1"),  # raw UTF-8 bytes on the wire
        "%e2%80%a5/secret",  # two-dot leader
        "./" + LINKS,
        f"sub/../{LINKS}",
        f"{LINKS}/.",
        f"{LINKS}%00",
        f"{LINKS}%00.csv",
        "%00",
        "%ff%fe",
        f"/{LINKS}",
        f"//{LINKS}",
    ],
)
def test_traversal_in_every_encoding_is_refused(server: DownloadsServer, tail: str):
    for path in (f"/{server.secret}/{tail}", f"/{tail}", f"/{tail}/{server.secret}/{LINKS}"):
        response = raw_request(
            server,
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n".encode(
                "latin-1"
            ),
        )
        assert status_of(response) in REFUSED, (path, response[:40])
        assert SECRET_TEXT.encode() not in response and b"root:" not in response
    assert_still_serves(server)


def test_raw_control_characters_and_backslashes_are_refused(server: DownloadsServer):
    host = f"Host: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n".encode()
    secret = server.secret.encode()
    for line in (
        b"GET /" + secret + b"/\x00../secret HTTP/1.1\r\n",
        b"GET /" + secret + b"/..\\..\\secret HTTP/1.1\r\n",
        b"GET /" + secret + b"/\x1b]0;x\x07 HTTP/1.1\r\n",
    ):
        response = raw_request(server, line + host)
        assert status_of(response) in REFUSED, line
        assert SECRET_TEXT.encode() not in response
    assert_still_serves(server)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_writes_are_refused(server: DownloadsServer, root: Path, method: str):
    status, headers, _ = request(server, method, at(server, LINKS), body=b"x,y\n")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD, OPTIONS"
    assert (root / LINKS).read_text() == LINKS_CSV


def test_head_gives_headers_without_body(server: DownloadsServer):
    status, headers, body = request(server, "HEAD", at(server, LINKS))
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(LINKS_CSV.encode()))


# --- malformed and oversized requests: a prompt answer ------------------------------------------


def test_range_requests(server: DownloadsServer):
    data = LINKS_CSV.encode()
    path = at(server, LINKS)
    status, headers, body = request(server, "GET", path, {"Range": "bytes=0-9"})
    assert (status, body) == (206, data[:10])
    assert headers["Content-Range"] == f"bytes 0-9/{len(data)}"
    assert headers["Content-Length"] == "10"
    assert request(server, "GET", path, {"Range": "bytes=-5"})[::2] == (206, data[-5:])
    assert request(server, "GET", path, {"Range": "bytes=20-"})[::2] == (206, data[20:])
    assert request(server, "GET", path, {"Range": "bytes=0-99999"})[::2] == (206, data)
    # Several ranges, or a unit we do not know: the whole file.
    for value in ("bytes=0-1,4-5", "lines=1-2"):
        assert request(server, "GET", path, {"Range": value})[::2] == (200, data), value


@pytest.mark.parametrize(
    "value",
    [
        "bytes=" + "9" * 5000,
        "bytes=" + "1" * 5000 + "-",
        "bytes=-" + "7" * 5000,
        "bytes=0-" + "9" * 19,
        "bytes=abc",
        "bytes=-",
        "bytes=9-3",
        "bytes=1000-",
        "bytes=-0",
        "bytes=0x10-20",
        "bytes=" + " " * 200 + "0-1",
    ],
)
def test_malformed_or_oversized_ranges_get_a_prompt_416(server: DownloadsServer, value: str):
    started = time.monotonic()
    status, headers, _ = request(server, "GET", at(server, LINKS), {"Range": value})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(LINKS_CSV.encode())}"
    assert time.monotonic() - started < 3
    assert_still_serves(server)


def test_oversized_and_malformed_request_lines_and_headers(server: DownloadsServer):
    host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
    cases = [
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n" + host + b"\r\n", 414),
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n" + host + b"\r\n", 505),
        (b"GET " + at(server, LINKS).encode() + b" HTTP/1.1\r\n" + host + b"X: y\r\n" * 3000, 431),
        (
            b"GET "
            + at(server, LINKS).encode()
            + b" HTTP/1.1\r\n"
            + host
            + b"X-Big: "
            + b"b" * 20_000
            + b"\r\n\r\n",
            431,
        ),
    ]
    for data, expected in cases:
        started = time.monotonic()
        assert status_of(raw_request(server, data)) == expected, data[:40]
        assert time.monotonic() - started < 3
    assert_still_serves(server)


def test_a_flood_of_connections_is_bounded_and_the_next_request_served(server: DownloadsServer):
    flood: list[socket.socket] = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            if i % 2:  # half of them start a request and never finish it (slowloris)
                sock.sendall(b"GET /" + server.secret.encode() + b"/x HTTP/1.1\r\nHost: 127")
            flood.append(sock)
        started = time.monotonic()
        assert_still_serves(server)  # a newcomer gets in while the flood is still open
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 10
        while server._server.open_connections() > MAX_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server._server.open_connections() <= MAX_CONNECTIONS
        assert threading.active_count() < 2 * MAX_CONNECTIONS + 20
        # The dropped ones were closed, not left hanging: they read an end of file at once.
        closed = 0
        for sock in flood:
            sock.settimeout(0.05)
            with contextlib.suppress(TimeoutError, OSError):
                closed += sock.recv(1) == b""
        assert closed >= 200 - MAX_CONNECTIONS
    finally:
        for sock in flood:
            sock.close()
    assert_still_serves(server)


def test_when_every_connection_is_busy_a_newcomer_gets_503(root: Path, exports):
    (root / LINKS).write_bytes(b"a,b\n" * 8_000_000)  # 32 MB: a client that does not read blocks
    allowed = lambda: export_files(exports)  # noqa: E731
    with DownloadsServer(root, port=0, allowed=allowed, max_connections=2) as srv:
        stuck = []
        try:
            for _ in range(2):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", srv.port))
                sock.sendall(
                    f"GET /{srv.secret}/{LINKS} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode()
                )
                stuck.append(sock)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                states = list(srv._server._connections.values())
                if len(states) == 2 and all(state.busy for state in states):
                    break
                time.sleep(0.05)
            response = raw_request(srv, b"GET / HTTP/1.1\r\n\r\n")
            assert status_of(response) == 503
        finally:
            for sock in stuck:
                sock.close()


def test_quiet_on_stderr_even_when_clients_disconnect(root: Path, exports, capfd):
    (root / LINKS).write_bytes(b"a,b\n" * 1_000_000)
    with DownloadsServer(root, port=0, allowed=lambda: export_files(exports)) as srv:
        for _ in range(3):  # ask for 4 MB and hang up at once
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(
                    f"GET /{srv.secret}/{LINKS} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode()
                )
        raw_request(srv, b"NONSENSE\r\n\r\n")
        request(srv, "GET", "/missing.csv")
        status, _, _ = request(srv, "GET", at(srv, META))
        assert status == 200
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


# --- life cycle ----------------------------------------------------------------------------------


def test_start_and_stop_are_idempotent(root: Path):
    srv = DownloadsServer(root, port=0)
    assert not srv.running
    srv.start()
    port = srv.port
    assert srv.running and port != 0
    srv.start()
    assert srv.port == port
    assert srv.base_url == f"http://127.0.0.1:{port}"
    srv.stop()
    srv.stop()
    assert not srv.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_second_instance_serves_on_a_free_port_and_says_which(root: Path, exports):
    allowed = lambda: export_files(exports)  # noqa: E731
    with DownloadsServer(root, port=0, allowed=allowed) as first:
        second = DownloadsServer(root, port=first.port, allowed=allowed)
        with second:
            assert second.running and second.port != first.port
            assert f"Port {first.port} is in use" in second.notice
            assert f"port {second.port} instead" in second.notice
            assert_still_serves(first)
            assert_still_serves(second)
        assert first.notice == ""


def test_only_loopback(root: Path):
    with pytest.raises(FileServerError):
        DownloadsServer(root, host="0.0.0.0", port=0)


def test_missing_root_is_an_error(tmp_path: Path):
    with pytest.raises(FileServerError):
        DownloadsServer(tmp_path / "nope", port=0).start()


def test_url_for_encodes_each_component(root: Path):
    name = "café links — 2024_linkgraph_depth-2.csv"
    (root / name).write_text("s,t\n", encoding="utf-8")
    exports = [record(root, name, None)]
    with DownloadsServer(root, port=0, allowed=lambda: export_files(exports)) as srv:
        url = srv.url_for(root / name)
        encoded = "caf%C3%A9%20links%20%E2%80%94%202024_linkgraph_depth-2.csv"
        assert url == f"{srv.base_url}/{srv.secret}/{encoded}"
        assert url == srv.url_for(Path(name))  # relative to the root
        response = httpx.get(url)
        assert (response.status_code, response.text) == (200, "s,t\n")


# --- the setting ---------------------------------------------------------------------------------


def test_the_origins_setting(tmp_path: Path):
    from botifython_tui.config import ConfigError, Settings

    def origins(value: str | None) -> tuple[str, ...]:
        env = {} if value is None else {"BOTIFYTHON_CORS_ORIGINS": value}
        return Settings.resolve(env=env, cwd=tmp_path).cors_origins

    assert origins(None) == origins("") == ("https://cosmograph.app",)
    assert origins("https://Graphs.example.org/, http://localhost:5173") == (
        "https://graphs.example.org",
        "http://localhost:5173",
    )
    for bad in ("*", "https://cosmograph.app/run/", "cosmograph.app", "javascript:alert(1)"):
        with pytest.raises(ConfigError):
            origins(bad)

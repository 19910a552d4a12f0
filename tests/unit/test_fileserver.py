"""The read-only downloads server for Cosmograph, over real HTTP, and the browser helpers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import sys
import webbrowser
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botifython_tui.core import fileserver
from botifython_tui.core.fileserver import (
    DownloadsServer,
    FileServerError,
    browser_available,
    cosmograph_url,
    open_in_browser,
    ssh_forward_hint,
)

LINKS = "acme_example.com_20241108_linkgraph_depth-3.csv"
META = "acme_example.com_20241108_linkgraph_depth-3_meta.csv"
LINKS_CSV = "source,target\nhttps://e.com/,https://e.com/a\nhttps://e.com/a,https://e.com/b\n"
SECRET = "TOP-SECRET-OUTSIDE-ROOT"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "downloads"
    root.mkdir()
    (root / LINKS).write_text(LINKS_CSV, encoding="utf-8")
    (root / META).write_text("id,pagetype\nhttps://e.com/,home\n", encoding="utf-8")
    (root / f".{LINKS}.part").write_text("half-written\n")
    (root / "notes.txt").write_text("not a csv\n")
    (root / "sub").mkdir()
    (root / "sub" / "inner.csv").write_text("a,b\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (tmp_path / "secret").write_text(SECRET)
    return root


@pytest.fixture
def server(root: Path) -> Iterator[DownloadsServer]:
    with DownloadsServer(root, port=0) as srv:
        yield srv


def request(
    srv: DownloadsServer, method: str, path: str, headers: dict[str, str] | None = None, body=None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send the path verbatim (httpx would normalise `..` away before sending)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def raw_request(srv: DownloadsServer, request_line: bytes) -> bytes:
    """For paths http.client refuses to send (control characters)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def assert_cors(headers) -> None:
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "*"
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    assert headers["Cache-Control"] == "no-store"


# --- serving ---------------------------------------------------------------------------------------


def test_serves_a_csv_with_cors_and_content_type(server: DownloadsServer):
    response = httpx.get(server.url_for(Path(LINKS)), headers={"Origin": "https://cosmograph.app"})
    assert response.status_code == 200
    assert response.text == LINKS_CSV
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-length"] == str(len(LINKS_CSV.encode()))
    assert response.headers["accept-ranges"] == "bytes"
    assert_cors(response.headers)


def test_head_gives_headers_without_body(server: DownloadsServer):
    status, headers, body = request(server, "HEAD", f"/{LINKS}")
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len(LINKS_CSV.encode()))
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert_cors(headers)


def test_options_preflight_allows_private_network_access(server: DownloadsServer):
    status, headers, body = request(
        server,
        "OPTIONS",
        f"/{LINKS}",
        headers={
            "Origin": "https://cosmograph.app",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert status == 204
    assert body == b""
    assert_cors(headers)


def test_range_requests(server: DownloadsServer):
    data = LINKS_CSV.encode()
    status, headers, body = request(server, "GET", f"/{LINKS}", {"Range": "bytes=0-9"})
    assert (status, body) == (206, data[:10])
    assert headers["Content-Range"] == f"bytes 0-9/{len(data)}"
    assert headers["Content-Length"] == "10"
    assert_cors(headers)

    status, headers, body = request(server, "GET", f"/{LINKS}", {"Range": "bytes=-5"})
    assert (status, body) == (206, data[-5:])

    status, headers, body = request(server, "GET", f"/{LINKS}", {"Range": "bytes=20-"})
    assert (status, body) == (206, data[20:])

    status, headers, _ = request(server, "GET", f"/{LINKS}", {"Range": f"bytes={len(data)}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(data)}"

    # Several ranges, or nonsense: the whole file.
    for value in ("bytes=0-1,4-5", "lines=1-2", "bytes=9-3"):
        status, _, body = request(server, "GET", f"/{LINKS}", {"Range": value})
        assert (status, body) == (200, data), value


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_refused(server: DownloadsServer, root: Path, method: str):
    status, headers, _ = request(server, method, f"/{LINKS}", body=b"x,y\n")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD, OPTIONS"
    assert_cors(headers)
    assert (root / LINKS).read_text() == LINKS_CSV


@pytest.mark.parametrize(
    "path",
    [
        "/../etc/passwd",
        "/../secret",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e/secret",
        "/%2E%2E%2Fsecret",
        "/..%2fsecret",
        "/..%2Foutside%2Fsecret.txt",
        "/sub/../../secret",
        "//etc/passwd",
        "/..\\secret",
        "/%5c..%5csecret",
        "/evil.csv",  # symlink to a file outside
        "/evil-dir/secret.txt",  # symlink to a folder outside
        "/%00",
        "/x%00/../../secret",
        f"/{LINKS}%00",
        "/%ff%fe",
        "/sub",
        "/sub/",
    ],
)
def test_path_traversal_never_serves_outside_files(
    server: DownloadsServer, root: Path, tmp_path: Path, path: str
):
    (root / "evil.csv").symlink_to(tmp_path / "secret")
    (root / "evil-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    status, headers, body = request(server, "GET", path)
    assert status in (400, 403, 404), (path, status)
    assert SECRET.encode() not in body
    assert b"root:" not in body
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_raw_control_characters_and_backslashes_are_refused(server: DownloadsServer):
    for line in (b"GET /\x00../secret HTTP/1.1", b"GET /..\\..\\secret HTTP/1.1"):
        response = raw_request(server, line)
        status = int(response.split(b" ", 2)[1])
        assert status in (400, 403, 404), line
        assert SECRET.encode() not in response


def test_symlink_inside_the_root_is_followed(server: DownloadsServer, root: Path):
    (root / "latest.csv").symlink_to(root / LINKS)
    status, _, body = request(server, "GET", "/latest.csv")
    assert (status, body) == (200, LINKS_CSV.encode())


def test_hidden_and_partial_files_are_not_served(server: DownloadsServer, root: Path):
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.csv").write_text("x\n")
    for path in (f"/.{LINKS}.part", f"/%2E{LINKS}.part", "/.hidden/x.csv"):
        status, _, body = request(server, "GET", path)
        assert status == 404, path
        assert b"half-written" not in body


def test_files_in_subfolders_are_served(server: DownloadsServer):
    status, _, body = request(server, "GET", "/sub/inner.csv")
    assert (status, body) == (200, b"a,b\n")


def test_root_lists_the_csv_files_as_json(server: DownloadsServer, root: Path):
    status, headers, body = request(server, "GET", "/")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    listing = json.loads(body)
    assert [entry["name"] for entry in listing] == [LINKS, META]
    assert listing[0]["size"] == (root / LINKS).stat().st_size
    assert listing[0]["url"] == server.url_for(Path(LINKS))


def test_url_for_encodes_each_component(server: DownloadsServer, root: Path):
    name = "café links — depth 2.csv"
    (root / "sub" / name).write_text("s,t\n", encoding="utf-8")
    url = server.url_for(root / "sub" / name)
    assert url == f"{server.base_url}/sub/caf%C3%A9%20links%20%E2%80%94%20depth%202.csv"
    assert url == server.url_for(Path("sub") / name)  # relative to the root
    response = httpx.get(url)
    assert (response.status_code, response.text) == (200, "s,t\n")


def test_url_for_refuses_files_outside_the_root(server: DownloadsServer, root: Path, tmp_path):
    (root / "evil.csv").symlink_to(tmp_path / "secret")
    for path in (tmp_path / "secret", root / ".." / "secret", root / "evil.csv", root / ".x.part"):
        with pytest.raises(FileServerError):
            server.url_for(path)


def test_quiet_on_stderr_even_when_clients_disconnect(server: DownloadsServer, root, capfd):
    (root / "big.csv").write_bytes(b"a,b\n" * 1_000_000)
    for _ in range(3):  # ask for 4 MB and hang up at once
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            sock.sendall(b"GET /big.csv HTTP/1.1\r\nHost: x\r\n\r\n")
    raw_request(server, b"NONSENSE")
    request(server, "GET", "/missing.csv")
    status, _, body = request(server, "GET", f"/{LINKS}")
    assert (status, body) == (200, LINKS_CSV.encode())
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


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


def test_busy_port_gives_a_clear_error(root: Path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = DownloadsServer(root, port=port)
        with pytest.raises(FileServerError) as caught:
            srv.start()
        assert str(port) in str(caught.value)
        assert "BOTIFYTHON_SERVE_PORT" in str(caught.value)
        assert not srv.running


def test_missing_root_is_an_error(tmp_path: Path):
    with pytest.raises(FileServerError):
        DownloadsServer(tmp_path / "nope", port=0).start()


# --- Cosmograph and the browser -----------------------------------------------------------------


def test_cosmograph_url():
    links = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3.csv"
    meta = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3_meta.csv"
    assert cosmograph_url(links, meta) == (
        "https://cosmograph.app/run/"
        "?data=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3.csv"
        "&meta=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3_meta.csv"
        "&nodeColor=pagetype"
    )
    assert cosmograph_url("http://h:1/a b.csv", None) == (
        "https://cosmograph.app/run/?data=http%3A%2F%2Fh%3A1%2Fa%20b.csv"
    )


@pytest.fixture
def gui_browser(monkeypatch):
    monkeypatch.setattr(webbrowser, "get", lambda *a: webbrowser.BackgroundBrowser("firefox"))


def test_browser_available_needs_a_display_on_linux(monkeypatch, gui_browser):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(var, raising=False)
    assert browser_available(platform="linux") is False
    monkeypatch.setenv("DISPLAY", ":0")
    assert browser_available(platform="linux") is True
    if sys.platform.startswith("linux"):
        assert browser_available() is True


def test_browser_available_over_ssh(gui_browser):
    ssh = {"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 22"}
    assert browser_available(env=ssh, platform="linux") is False
    assert browser_available(env={**ssh, "WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is False
    assert browser_available(env={"SSH_TTY": "/dev/pts/1"}, platform="darwin") is False
    assert browser_available(env={}, platform="darwin") is True
    # X forwarding: a display reaches the user's screen.
    assert browser_available(env={**ssh, "DISPLAY": "localhost:10.0"}, platform="linux") is True


def test_browser_available_rejects_console_and_missing_browsers(monkeypatch):
    env = {"WAYLAND_DISPLAY": "wayland-0"}
    monkeypatch.setattr(webbrowser, "get", lambda *a: webbrowser.GenericBrowser("w3m"))
    assert browser_available(env=env, platform="linux") is False

    def no_browser(*args):
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    assert browser_available(env=env, platform="linux") is False


def test_open_in_browser_only_when_available(monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: opened.append(url) or True)
    monkeypatch.setattr(fileserver, "browser_available", lambda: False)
    assert open_in_browser("https://cosmograph.app/run/") is False
    assert opened == []
    monkeypatch.setattr(fileserver, "browser_available", lambda: True)
    assert open_in_browser("https://cosmograph.app/run/") is True
    assert opened == ["https://cosmograph.app/run/"]


def test_ssh_forward_hint(monkeypatch):
    monkeypatch.setattr(fileserver.getpass, "getuser", lambda: "jane")
    env = {"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 22"}
    hint = ssh_forward_hint(8777, env=env)
    assert "ssh -L 8777:127.0.0.1:8777 jane@198.51.100.7" in hint
    assert hint.startswith("This machine has no browser.")
    assert "then open the link there" in hint

    assert "-p 2222 jane@198.51.100.7" in ssh_forward_hint(
        9000, env={"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 2222"}
    )
    assert "ssh -L 9000:127.0.0.1:9000 USER@HOST" in ssh_forward_hint(9000, env={})

    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 5000 10.0.0.9 22")
    assert "jane@10.0.0.9" in ssh_forward_hint(8777)
    assert os.environ["SSH_CONNECTION"].split()[2] == "10.0.0.9"

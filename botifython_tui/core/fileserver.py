"""Serve the downloads folder read-only on localhost, so Cosmograph (in the browser) can load it.

Cosmograph is a web app (https://cosmograph.app) running in the user's browser. It fetches the
link-graph CSVs from a URL, so after an export the app serves the downloads folder on
127.0.0.1 and shows a Cosmograph link built with `cosmograph_url()`. The app often runs on a
headless box over SSH: `browser_available()` tells whether a link can be opened here, and
`ssh_forward_hint()` explains the `ssh -L` port forward otherwise.

The server only ever answers GET/HEAD (files, single byte ranges, a JSON list of the CSVs at
`/`) and OPTIONS (CORS preflight, including Chrome's private-network access). It never serves a
file outside the folder (no `..`, no encoded separators, symlinks are resolved and checked),
hidden or partial files (names starting with `.`), or directory listings. It logs to the
`botifython.fileserver` logger only, never to stderr.

Standard library only; no Textual.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import http.server
import json
import logging
import mimetypes
import os
import re
import selectors
import socket
import socketserver
import stat
import sys
import threading
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote

log = logging.getLogger("botifython.fileserver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8777
PORT_ENV_VAR = "BOTIFYTHON_SERVE_PORT"
COSMOGRAPH_RUN_URL = "https://cosmograph.app/run/"
ALLOWED_METHODS = "GET, HEAD, OPTIONS"

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_ADDRESS_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}
_CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".gz": "application/gzip",
    ".zip": "application/zip",
    ".parquet": "application/vnd.apache.parquet",
}
# Browsers that take over the terminal (and would wreck the TUI) or wait until they are closed.
_CONSOLE_BROWSERS = frozenset(
    {"www-browser", "links", "links2", "elinks", "lynx", "w3m", "browsh", "carbonyl"}
)
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class FileServerError(Exception):
    """The downloads server cannot start, or a file cannot be served by it."""


# --- the server ----------------------------------------------------------------------------------


class DownloadsServer:
    """A read-only HTTP server for one folder, running in a daemon thread.

    >>> with DownloadsServer(Path("downloads"), port=0) as server:  # doctest: +SKIP
    ...     server.url_for(Path("downloads/acme_site_20241108_linkgraph_depth-3.csv"))
    'http://127.0.0.1:40123/acme_site_20241108_linkgraph_depth-3.csv'
    """

    def __init__(self, root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        if not 0 <= int(port) <= 65535:
            raise FileServerError(
                f"Port {port} is not a valid port number; use 1-65535 (or 0 for any free port) "
                f"via `botifython config set export.serve_port N` or {PORT_ENV_VAR}."
            )
        self.root = Path(root)
        self.host = host
        self.requested_port = int(port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- state --

    @property
    def running(self) -> bool:
        server, thread = self._server, self._thread
        return server is not None and thread is not None and thread.is_alive()

    @property
    def port(self) -> int:
        """The port actually bound when running (useful with port 0), else the requested one."""
        server = self._server
        return server.server_address[1] if server is not None else self.requested_port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash)."""
        port = self.port
        if port == 0:
            raise FileServerError(
                "The downloads server picks its port when started; start it first."
            )
        return f"http://{_url_host(self.host)}:{port}"

    # -- life cycle --

    def start(self) -> DownloadsServer:
        """Bind and serve in a daemon thread; does nothing if already running."""
        with self._lock:
            if self.running:
                return self
            self._stop_locked()  # a thread that died on its own: clean up before restarting
            root_real = os.path.realpath(self.root)
            if not os.path.isdir(root_real):
                raise FileServerError(f"Cannot serve {self.root}: it is not an existing folder.")
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            try:
                server = _Server((self.host, self.requested_port), root_real, family)
            except OSError as exc:
                raise self._bind_error(exc) from exc
            server.base_url = f"http://{_url_host(self.host)}:{server.server_address[1]}"
            thread = threading.Thread(
                target=server.serve_until_stopped,
                name=f"botifython-fileserver-{server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            log.info("serving %s read-only on %s", root_real, server.base_url)
            return self

    def stop(self) -> None:
        """Stop serving and close open connections; does nothing if not running."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.request_stop()
        if thread is not None:
            thread.join(timeout=5)
        server.close_connections()
        server.server_close()
        log.info("stopped serving %s", server.root_real)

    def _bind_error(self, exc: OSError) -> FileServerError:
        port, host = self.requested_port, self.host
        how = (
            f"Choose another port with `botifython config set export.serve_port N` or the {PORT_ENV_VAR} environment "
            f"variable (for example {PORT_ENV_VAR}={port + 1 if 0 < port < 65535 else 8778}, "
            "or 0 to pick any free port)."
        )
        if exc.errno in _ADDRESS_IN_USE:
            return FileServerError(
                f"Port {port} on {host} is already in use (another Botifython, or another "
                f"program, is listening there). {how}"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return FileServerError(
                f"Not allowed to listen on port {port} on {host} (ports below 1024 need "
                f"administrator rights). {how}"
            )
        reason = exc.strerror or str(exc)
        return FileServerError(
            f"Could not serve the downloads folder on {host}:{port}: {reason}. {how}"
        )

    def __enter__(self) -> DownloadsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running on port {self.port}" if self.running else "stopped"
        return f"DownloadsServer({str(self.root)!r}, {state})"

    # -- URLs --

    def url_for(self, path: Path | str) -> str:
        """The URL of a file under the root (relative paths are taken relative to the root).

        Each path component is percent-encoded. Raises FileServerError for a file the server
        would refuse: outside the root (also through a symlink), or hidden (`.name`).
        """
        root_abs = os.path.abspath(self.root)
        root_real = os.path.realpath(self.root)
        given = Path(path)
        full = os.path.abspath(given if given.is_absolute() else Path(root_abs) / given)
        if _inside(full, root_abs):
            rel = os.path.relpath(full, root_abs)
        elif _inside(os.path.realpath(full), root_real):
            rel = os.path.relpath(os.path.realpath(full), root_real)
        else:
            rel = None
        if rel is None or rel == "." or not _inside(os.path.realpath(full), root_real):
            raise FileServerError(
                f"{path} is not inside the served folder {self.root}; only files there can be "
                "opened in Cosmograph."
            )
        parts = Path(rel).parts
        if any(part.startswith(".") for part in parts):
            raise FileServerError(f"{path} is a hidden or partial file; it is not served.")
        return self.base_url + "/" + "/".join(quote(part, safe="") for part in parts)


# --- HTTP internals ------------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; on Windows it would let two servers
    # share a port, hiding the "port busy" error.
    allow_reuse_address = os.name != "nt"

    def __init__(self, address: tuple[str, int], root_real: str, family: int) -> None:
        self.address_family = family
        self.root_real = root_real
        self.base_url = ""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()  # closed by server_close(), even on errors
        super().__init__(address, _Handler)

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

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang for
        # seconds on a box with no DNS; we never need the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so nothing is served after stop()."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr, which would scribble over the TUI.
        log.debug("error while serving %s", client_address, exc_info=True)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Botifython"
    sys_version = ""
    timeout = 60  # idle keep-alive connections
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def version_string(self) -> str:
        return self.server_version

    # -- quiet --

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle(self) -> None:
        try:
            super().handle()
        except _DISCONNECTS:
            self.close_connection = True
            log.debug("client %s went away", self.address_string())

    # -- headers on every response (errors included) --

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", ALLOWED_METHODS)
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header(
            "Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges"
        )
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def _error(self, status: int, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        body = f"{status} {reason}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        # The request may carry a body we did not read; never reuse the connection after an error.
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- methods --

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_OPTIONS(self) -> None:
        # CORS preflight (and Chrome's private network access preflight from an https page).
        self.send_response(204)
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def _read_only(self) -> None:
        self._error(
            405, "Method Not Allowed: this server is read-only", (("Allow", ALLOWED_METHODS),)
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = _read_only

    def _get(self, head: bool) -> None:
        raw = self.path.split("#", 1)[0].split("?", 1)[0]
        try:
            if raw == "/":
                self._listing(head)
                return
            self._file(_resolve(self.server.root_real, raw), head)
        except _Refused as refused:
            log.debug("refused %r: %s", self.path, refused.reason)
            self._error(refused.status, refused.reason)

    def _listing(self, head: bool) -> None:
        root_real = self.server.root_real
        entries: list[dict[str, Any]] = []
        try:
            with os.scandir(root_real) as scan:
                for entry in scan:
                    if entry.name.startswith(".") or not entry.name.lower().endswith(".csv"):
                        continue
                    real = os.path.realpath(entry.path)
                    if not _inside(real, root_real):
                        continue
                    try:
                        st = os.stat(real)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        url = f"{self.server.base_url}/{quote(entry.name, safe='')}"
                        entries.append({"name": entry.name, "size": st.st_size, "url": url})
        except OSError as exc:
            raise _Refused(404, "Not Found") from exc
        entries.sort(key=lambda item: item["name"])
        body = json.dumps(entries, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _file(self, real: str, head: bool) -> None:
        try:
            if not stat.S_ISREG(os.stat(real).st_mode):
                raise _Refused(404, "Not Found")  # directories, fifos, devices
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
            fd = os.open(real, flags | getattr(os, "O_BINARY", 0))
        except PermissionError as exc:
            raise _Refused(403, "Forbidden") from exc
        except OSError as exc:
            raise _Refused(404, "Not Found") from exc
        with open(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _Refused(404, "Not Found")
            size = st.st_size
            wanted = _parse_range(self.headers.get("Range"), size)
            if wanted == "unsatisfiable":
                self._error(416, "Range Not Satisfiable", (("Content-Range", f"bytes */{size}"),))
                return
            if wanted is None:
                start, length = 0, size
                self.send_response(200)
            else:
                start, end = wanted
                length = end - start + 1
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Type", _content_type(real))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
            self.end_headers()
            if head or length == 0:
                return
            self.wfile.flush()
            sent = self.connection.sendfile(handle, offset=start, count=length)
            if sent < length:  # the file shrank under us: the response is short, drop it
                self.close_connection = True


def _resolve(root_real: str, raw_path: str) -> str:
    """Map a request path to a real path inside `root_real`, or raise _Refused."""
    if not raw_path.startswith("/") or raw_path.startswith("//"):
        raise _Refused(403, "Forbidden path")
    parts: list[str] = []
    for raw_part in raw_path[1:].split("/"):
        try:
            part = unquote(raw_part, errors="strict")
        except UnicodeDecodeError as exc:
            raise _Refused(400, "Bad path encoding") from exc
        if part in (".", "..") or any(c in part for c in "/\\\x00"):
            raise _Refused(403, "Forbidden path")
        if os.name == "nt" and ":" in part:
            raise _Refused(403, "Forbidden path")
        if part == "" or part.startswith("."):
            raise _Refused(404, "Not Found")  # directories (trailing /), hidden and partial files
        parts.append(part)
    real = os.path.realpath(os.path.join(root_real, *parts))
    if not _inside(real, root_real):
        raise _Refused(403, "Forbidden: outside the served folder")
    rel = os.path.relpath(real, root_real)
    if rel == "." or any(part.startswith(".") for part in Path(rel).parts):
        raise _Refused(404, "Not Found")
    return real


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single `bytes=` range as (start, end inclusive); None to serve the whole file."""
    if not header or "," in header:
        return None  # no range, or several: serving everything is allowed
    match = _RANGE.match(header)
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - count), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid: ignore the header
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


def _content_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in _CONTENT_TYPES:
        return _CONTENT_TYPES[ext]
    guessed = mimetypes.guess_type(path)[0]
    return guessed or "application/octet-stream"


def _inside(path: str, root: str) -> bool:
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# --- Cosmograph and the browser ------------------------------------------------------------------


def cosmograph_url(links_url: str, meta_url: str | None, node_color: str = "pagetype") -> str:
    """`https://cosmograph.app/run/?data=<links>&meta=<meta>&nodeColor=<column>`.

    The inner URLs are percent-encoded completely; meta and nodeColor are left out without meta.
    """
    url = f"{COSMOGRAPH_RUN_URL}?data={quote(links_url, safe='')}"
    if meta_url is not None:
        url += f"&meta={quote(meta_url, safe='')}&nodeColor={quote(node_color, safe='')}"
    return url


def _over_ssh(env: Mapping[str, str]) -> bool:
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def browser_available(*, env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a link opened here would show up in a graphical browser in front of the user.

    False over SSH (unless X forwarding gives a DISPLAY), on Linux without DISPLAY or
    WAYLAND_DISPLAY, and when the only browser found is a console one (lynx, w3m...) that would
    take over the terminal. `env` and `platform` default to os.environ and sys.platform.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    over_ssh = _over_ssh(env)
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return not over_ssh
    if over_ssh and not env.get("DISPLAY"):
        return False
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    name = getattr(browser, "name", "") or ""
    command = os.path.basename(name.split()[0]) if name.split() else ""
    return command not in _CONSOLE_BROWSERS


def ssh_forward_hint(port: int, *, env: Mapping[str, str] | None = None) -> str:
    """Plain-language instructions for reaching the server through an `ssh -L` port forward."""
    env = os.environ if env is None else env
    user, host, ssh_port = "USER", "HOST", ""
    fields = (env.get("SSH_CONNECTION") or "").split()
    if len(fields) >= 3:
        host = fields[2]
        try:
            user = getpass.getuser()
        except (OSError, KeyError, ImportError):
            user = "USER"
        if len(fields) >= 4 and fields[3] not in ("", "22"):
            ssh_port = f" -p {fields[3]}"
    return (
        "This machine has no browser. On your own computer run:\n"
        f"  ssh -L {port}:127.0.0.1:{port}{ssh_port} {user}@{host}\n"
        "then open the link there (keep that ssh session open while Cosmograph loads the files)."
    )


def open_in_browser(url: str) -> bool:
    """Open `url` in a browser if one is available here; returns whether it was opened.

    Some browsers make `webbrowser.open` wait; call this from a worker thread, not an event loop.
    """
    if not browser_available():
        return False
    try:
        return bool(webbrowser.open(url, new=2))
    except (webbrowser.Error, OSError):
        log.debug("could not open a browser", exc_info=True)
        return False

"""Serve the current profile's exports read-only on localhost, so Cosmograph can load them.

Cosmograph (https://cosmograph.app) runs in the user's browser and fetches the link-graph CSVs
from a URL. While it does, every other page open in that browser could try the same URL, so the
server is a capability, not an open door:

- it binds to loopback and answers only a `Host` of `127.0.0.1`, `localhost` or `[::1]` with its
  own port (anything else, such as a DNS-rebinding name, gets 421);
- every URL carries a random secret made when it starts (`/<secret>/<file>`); without it: 404;
- CORS headers (and Chrome's `Access-Control-Allow-Private-Network`) go only to the allowed
  origins, by default `https://cosmograph.app`; a request from any other origin gets 403;
- it serves only the export files the store records for the current profile (links, node
  attributes, and the per-node analytics beside them): names are looked up, never resolved, so
  no encoding of `..` reaches the file system; no listing; anything else is 404;
- request lines, headers and `Range` values are bounded and answered at once (400/414/416/431),
  and so are concurrent connections: at the limit the oldest idle one is dropped for a new one.

When its port is taken (another Botifython serving the same folder, say) it serves on a free port
instead and says which (`notice`). It logs to `botifython.fileserver` only, never to stderr.
This module is one piece on purpose (a little over 500 lines): every check above is here,
in one place, to be read and reviewed together. Standard library and the shared loopback base
(`core/http_server.py`) only; no Textual. The Cosmograph link is `core/cosmograph.py`'s,
opening it (browser, SSH forward) `core/browser.py`'s.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import http.client
import logging
import mimetypes
import os
import re
import secrets
import socket
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from botifython_tui.core.http_server import (
    BackgroundServer,
    BaseHandler,
    LoopbackHTTPServer,
    address_in_use,
)
from botifython_tui.logs import register_secret

log = logging.getLogger("botifython.fileserver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8777
PORT_ENV_VAR = "BOTIFYTHON_SERVE_PORT"
DEFAULT_ORIGINS = ("https://cosmograph.app",)  # the setting: config.Settings.cors_origins
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
ALLOWED_REQUEST_HEADERS = "Range, If-Range, If-Modified-Since, If-None-Match, Cache-Control"
EXPOSED_HEADERS = "Content-Length, Content-Range"
MAX_CONNECTIONS = 32
MAX_REQUEST_LINE = 4096
MAX_HEADER_BYTES = 16 * 1024
MAX_RANGE_CHARS = 100
READ_TIMEOUT = 15.0  # seconds a connection may stay silent (waiting for a request, or a write)

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json"}
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$", re.IGNORECASE)
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class FileServerError(Exception):
    """The downloads server cannot start, or a file cannot be served by it."""


def export_files(records: Iterable[Any]) -> list[Path]:
    """The files of these export records the server may serve: links, meta, and nodes beside them.

    `records` are the store's ExportRecord objects (anything with `links_path` and `meta_path`).
    The per-node analytics file `{base}_depth-{n}_nodes.csv` is included when it exists.
    """
    files: list[Path] = []
    for record in records:
        links = Path(record.links_path)
        files.append(links)
        if record.meta_path:
            files.append(Path(record.meta_path))
        nodes = nodes_file_beside(links)
        if nodes is not None:
            files.append(nodes)
    return files


def nodes_file_beside(links: Path) -> Path | None:
    """The per-node analytics file of a links CSV (`{base}_depth-{n}_nodes.csv`), when it exists."""
    from botifython_tui.core.analytics.files import export_files as analysed_files

    nodes = analysed_files(links).nodes  # the analytics name their files: one place knows them
    return nodes if nodes.is_file() else None


# --- the server ----------------------------------------------------------------------------------


class DownloadsServer(BackgroundServer[None]):
    """A read-only HTTP server for the export files of one folder, in a daemon thread.

    `allowed` is called for each request and returns the files that may be served (normally
    `export_files(...)` of the current profile's exports); without it nothing is served.

    >>> with DownloadsServer(Path("downloads"), port=0, allowed=lambda: files) as server:  # doctest: +SKIP
    ...     server.url_for(Path("downloads/acme_site_20241108_linkgraph_depth-3.csv"))
    'http://127.0.0.1:40123/3q2-…/acme_site_20241108_linkgraph_depth-3.csv'
    """

    thread_name = "botifython-fileserver"

    def __init__(
        self,
        root: Path,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        allowed: Callable[[], Iterable[str | Path]] | None = None,
        origins: Iterable[str] = DEFAULT_ORIGINS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not 0 <= int(port) <= 65535:
            raise FileServerError(
                f"Port {port} is not a valid port number; use 1-65535 (or 0 for any free port) "
                f"via `botifython config set export.serve_port N` or {PORT_ENV_VAR}."
            )
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise FileServerError(f"The downloads server listens on loopback only, not {host}.")
        super().__init__(host, int(port), fallback_to_free_port=True)
        self.root = Path(root)
        self.allowed = allowed or (lambda: ())
        self.origins = tuple(origin.rstrip("/").lower() for origin in origins)
        self.max_connections = max(1, int(max_connections))
        self.secret = secrets.token_urlsafe(24)  # 192 bits, like Jupyter's token
        register_secret(self.secret)  # request lines are logged at debug level
        self._root_real = ""

    # -- state --

    @property
    def port(self) -> int:
        """The port actually bound when running (useful with port 0), else the requested one."""
        server = self._server
        return server.port if server is not None else self.requested_port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash, no secret)."""
        if self.port == 0:
            raise FileServerError(
                "The downloads server picks its port when started; start it first."
            )
        return super().base_url

    # -- life cycle --

    def start(self) -> DownloadsServer:
        """Bind and serve in a daemon thread; does nothing if already running.

        A busy port (another Botifython, or another program) is not an error: a free port is
        used instead and `notice` says so.
        """
        if self.running:
            return self
        root_real = os.path.realpath(self.root)
        if not os.path.isdir(root_real):
            raise FileServerError(f"Cannot serve {self.root}: it is not an existing folder.")
        self._root_real = root_real
        try:
            super().start()
        except OSError as exc:
            raise self._bind_error(exc) from exc
        if self.notice:
            self.notice = (
                f"Port {self.requested_port} is in use (another Botifython, or another "
                f"program); serving on port {self.port} instead. Set "
                f"{PORT_ENV_VAR} to choose the port."
            )
            log.info("port %d busy; serving on %d", self.requested_port, self.port)
        log.info("serving exports of %s read-only on port %d", root_real, self.port)
        return self

    def make_server(self, port: int) -> _Server:
        return _Server(
            (self.host, port),
            _Config(
                root_real=self._root_real,
                root_abs=os.path.abspath(self.root),
                secret=self.secret,
                origins=self.origins,
                allowed=self.allowed,
                max_connections=self.max_connections,
            ),
        )

    def _stop_locked(self) -> None:
        was_serving = self._server is not None
        super()._stop_locked()
        if was_serving:
            log.info("stopped serving %s", self._root_real)

    def _bind_error(self, exc: OSError) -> FileServerError:
        port, host = self.requested_port, self.host
        how = (
            f"Choose another port with `botifython config set export.serve_port N` or the {PORT_ENV_VAR} environment "
            f"variable (for example {PORT_ENV_VAR}={port + 1 if 0 < port < 65535 else 8778}, "
            "or 0 to pick any free port)."
        )
        if address_in_use(exc):
            return FileServerError(f"Port {port} on {host} is already in use. {how}")
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

    def __repr__(self) -> str:
        state = f"running on port {self.port}" if self.running else "stopped"
        return f"DownloadsServer({str(self.root)!r}, {state})"

    # -- URLs --

    def url_for(self, path: Path | str) -> str:
        """The secret URL of an export file (relative paths are taken relative to the root).

        Raises FileServerError for a file the server would refuse: outside the root (also
        through a symlink), hidden, or not an export recorded for the current profile.
        """
        given = Path(path)
        full = given if given.is_absolute() else Path(os.path.abspath(self.root)) / given
        served = _served_files(os.path.realpath(self.root), self.root, self.allowed())
        real = os.path.realpath(full)
        for rel, target in served.items():
            if target == real:
                return f"{self.base_url}/{self.secret}/" + "/".join(
                    quote(part, safe="") for part in rel.split("/")
                )
        if not _inside(real, os.path.realpath(self.root)):
            raise FileServerError(
                f"{path} is not inside the served folder {self.root}; only files there can be "
                "opened in Cosmograph."
            )
        raise FileServerError(
            f"{path} is not an export of this profile (or is hidden); only recorded exports "
            "are served."
        )


def _served_files(root_real: str, root: Path, allowed: Iterable[str | Path]) -> dict[str, str]:
    """{URL path relative to the root: real path} for the allowed files that are safe to serve."""
    root_abs = os.path.abspath(root)
    served: dict[str, str] = {}
    for item in allowed:
        try:
            full = os.path.abspath(item)
            real = os.path.realpath(full)
        except (OSError, ValueError):
            continue
        if not _inside(real, root_real) or real == root_real:
            continue  # outside the folder, also through a symlink
        rel = os.path.relpath(full, root_abs) if _inside(full, root_abs) else None
        if rel is None or rel.startswith(".."):
            rel = os.path.relpath(real, root_real)
        parts = Path(rel).parts
        if not parts or any(part.startswith(".") for part in parts):
            continue  # hidden and partial files
        served["/".join(parts)] = real
    return served


# --- HTTP internals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    root_real: str
    root_abs: str
    secret: str
    origins: tuple[str, ...]
    allowed: Callable[[], Iterable[str | Path]]
    max_connections: int


class _Server(LoopbackHTTPServer):
    """The loopback server, with at most `max_connections` open: the oldest idle one makes room."""

    log = log

    def __init__(self, address: tuple[str, int], config: _Config) -> None:
        self.config = config
        super().__init__(address, _Handler)

    def admit(self, request: socket.socket) -> bool:
        """Admit the connection within the bound, dropping the oldest idle one if need be."""
        live = [(s, c) for s, c in self._connections.items() if not c.evicted]
        if len(live) < self.config.max_connections:
            return True
        idle = [(c.since, s, c) for s, c in live if not c.busy]
        if not idle:
            return False
        _, victim, state = min(idle, key=lambda item: item[0])
        state.evicted = True
        with contextlib.suppress(OSError):
            victim.shutdown(socket.SHUT_RDWR)
        return True

    def refuse(self, request: socket.socket) -> None:
        """Every connection is busy sending: a prompt 503, no thread."""
        body = b"503 Busy: too many connections\n"
        with contextlib.suppress(OSError):
            request.settimeout(1)
            request.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
        self.shutdown_request(request)


class _Refused(Exception):
    def __init__(self, status: int, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


class _BoundedReader:
    """Reads the header section with a total byte budget (431 beyond it)."""

    def __init__(self, raw: Any, budget: int) -> None:
        self.raw = raw
        self.budget = budget

    def readline(self, size: int = -1) -> bytes:
        if self.budget <= 0:
            raise http.client.LineTooLong("header section")
        limit = self.budget + 1 if size is None or size < 0 else min(size, self.budget + 1)
        line = self.raw.readline(limit)
        self.budget -= len(line)
        if self.budget < 0:
            raise http.client.LineTooLong("header section")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _Handler(BaseHandler):
    server: _Server
    disable_nagle_algorithm = False
    default_request_version = "HTTP/1.0"  # every answer, even to junk, has a status line
    timeout = READ_TIMEOUT
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def handle(self) -> None:
        try:
            super().handle()
        except _DISCONNECTS:
            self.close_connection = True
            log.debug("client %s went away", self.address_string())
        except OSError:  # evicted for a newcomer, or the server stopped
            self.close_connection = True

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with a short request line and a bounded header section."""
        self.server.mark(self.connection, busy=False)
        self._cors_origin = ""
        self.command = self.request_version = self.requestline = ""
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.send_error(414, "Request line too long")
                return
            raw, self.rfile = self.rfile, _BoundedReader(self.rfile, MAX_HEADER_BYTES)
            try:
                parsed = self.parse_request()
            finally:
                self.rfile = raw
            if not parsed:
                return
            self.server.mark(self.connection, busy=True)
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self._error(405, "Method Not Allowed: this server is read-only", self._allow())
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    # -- headers on every response (errors included) --

    def end_headers(self) -> None:
        if self._cors_origin:
            self.send_header("Access-Control-Allow-Origin", self._cors_origin)
            self.send_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
        self.send_header("Vary", "Origin")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def _error(self, status: int, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        # The request may carry a body never read: the connection closes after an error.
        self.send_text_error(status, reason, extra)

    @staticmethod
    def _allow() -> tuple[tuple[str, str], ...]:
        return (("Allow", ALLOWED_METHODS),)

    # -- checks, in order: Host, secret, Origin, file --

    def _check_request(self) -> str:
        """The export's real path, or raise _Refused."""
        config = self.server.config
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.server.port
        if host not in {f"{name}:{port}" for name in _LOOPBACK_NAMES}:
            raise _Refused(
                421,
                f"Misdirected Request: use http://127.0.0.1:{port}/ (the same port on both "
                "ends of an ssh -L forward)",
            )
        path = self.path.split("#", 1)[0].split("?", 1)[0]
        prefix, _, rest = path.removeprefix("/").partition("/")
        if not hmac.compare_digest(prefix.encode(), config.secret.encode()):
            raise _Refused(404, "Not Found")
        origin = self.headers.get("Origin")
        if origin is not None:
            if origin.strip().rstrip("/").lower() not in config.origins:
                raise _Refused(403, "Forbidden: this origin may not read the exports")
            self._cors_origin = origin.strip()
        try:
            name = unquote(rest, errors="strict")
        except UnicodeDecodeError as exc:
            raise _Refused(404, "Not Found") from exc
        # Looked up among the recorded exports by name: nothing from the request is resolved.
        real = _served_files(config.root_real, Path(config.root_abs), config.allowed()).get(name)
        if real is None:
            raise _Refused(404, "Not Found")
        return real

    # -- methods --

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_OPTIONS(self) -> None:
        # CORS preflight (and Chrome's Local Network Access preflight from an https page).
        try:
            self._check_request()
            if not self._cors_origin:
                raise _Refused(403, "Forbidden: a preflight needs an allowed Origin")
        except _Refused as refused:
            self._refused(refused)
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", ALLOWED_METHODS)
        self.send_header("Access-Control-Allow-Headers", ALLOWED_REQUEST_HEADERS)
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _read_only(self) -> None:
        self._error(405, "Method Not Allowed: this server is read-only", self._allow())

    do_POST = do_PUT = do_DELETE = do_PATCH = _read_only

    def _refused(self, refused: _Refused) -> None:
        log.debug("refused %r: %s", self.path, refused.reason)
        self._error(refused.status, refused.reason, refused.extra)

    def _get(self, head: bool) -> None:
        try:
            self._file(self._check_request(), head)
        except _Refused as refused:
            self._refused(refused)
        except _DISCONNECTS:
            raise
        except Exception:  # a bug must still get an answer, never a hung request
            log.debug("failed to serve %r", self.path, exc_info=True)
            self._error(500, "Internal Server Error")

    def _file(self, real: str, head: bool) -> None:
        try:
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
            fd = os.open(real, flags | getattr(os, "O_BINARY", 0))
        except OSError as exc:
            raise _Refused(404, "Not Found") from exc
        with open(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _Refused(404, "Not Found")  # directories, fifos, devices
            size = st.st_size
            wanted = _parse_range(self.headers.get("Range"), size)
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


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as (start, end inclusive); None to serve the whole file.

    Raises _Refused(416) for a malformed, oversized or unsatisfiable byte range.
    """
    if header is None:
        return None
    value = header.strip()
    unsatisfiable = _Refused(416, "Range Not Satisfiable", (("Content-Range", f"bytes */{size}"),))
    if len(value) > MAX_RANGE_CHARS:
        raise unsatisfiable
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes":
        return None  # a unit we do not know: ignored, as RFC 9110 says
    if "," in spec:
        return None  # several ranges: serving everything is allowed
    match = _RANGE.match("bytes=" + spec.replace(" ", ""))
    if not match or match.group(1) == match.group(2) == "":
        raise unsatisfiable
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - count), size - 1
    start = int(first)
    if (last != "" and int(last) < start) or start >= size:
        raise unsatisfiable
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


def _content_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in _CONTENT_TYPES:
        return _CONTENT_TYPES[ext]
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _inside(path: str, root: str) -> bool:
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)

"""A local fake of the Ollama REST API (subset), served over real HTTP.

Follows ``/work/shared/protocols.md`` Part B. Standard library only.

Quick start::

    from tests.fakes.ollama_server import FakeOllama, Reply

    with FakeOllama(models=["llama3.2:latest", "qwen2.5:0.5b"]) as fake:
        fake.script(Reply(text="Hello there."), Reply(text="x", error_after=1))
        httpx.post(fake.base_url + "/api/chat",
                   json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]})
        fake.chat_requests[-1]["messages"]       # what the client sent
        fake.requests[-1].disconnected           # did the client close the stream early?

Run standalone (foreground, Ctrl-C to stop)::

    python -m tests.fakes.ollama_server --port 11434 --tokens-per-second 30 [--reply-file F]

Behaviour (see the protocol notes for sources):

* ``GET|HEAD /`` -> ``Ollama is running``; ``GET|HEAD /api/version``, ``/api/tags``;
  ``GET /api/ps``; ``POST /api/show``, ``/api/chat``, ``/api/generate``, ``/api/embed``,
  ``/api/embeddings`` (legacy). Anything else: ``404 page not found`` (text/plain, like gin).
* Request keys match case-insensitively (Go ``encoding/json``; last matching key wins) and
  message roles are lower-cased. An empty body is ``400 missing request body``; bad JSON is 400
  with a Go-like decode message; wrong JSON types are 400 ``json: cannot unmarshal ...``.
* ``/api/chat`` checks, in order: ``model`` present (400), model known (404, message per
  ``not_found_style``), empty ``messages`` (load/unload object, no reply consumed), chat
  capability, ``tools`` capability (400 with the full registry name), ``think`` capability,
  ``format`` (500 ``invalid format``). Only then is a scripted :class:`Reply` popped (so a
  rejected request never consumes one). ``/api/generate`` shares the same queue.
* Streams are NDJSON (``application/x-ndjson``), chunked with one chunk per line, compact
  Go-style JSON (``<``, ``>``, ``&`` escaped as ``\\u003c`` etc.), never blank lines (unless a
  :class:`Reply` with ``raw_lines`` and ``allow_blank`` asks). Zero-valued metrics are omitted
  like Go's ``omitempty``. ``first_token_delay`` happens before the response headers (model
  load and prompt evaluation precede the first write in the real server).
* ``options.num_predict`` caps the generated tokens (thinking first, then content) and turns
  ``done_reason`` into ``"length"``.
* The client closing the connection is detected while waiting (EOF peek) and on write errors:
  generation stops and the request gets ``disconnected = True``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import random
import re
import select
import socket
import string
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_REPLIES",
    "MID_STREAM_ERROR",
    "RUNNER_CRASH",
    "SERVER_BUSY",
    "FakeOllama",
    "RecordedRequest",
    "Reply",
    "split_tokens",
]

RUNNER_CRASH = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)
SERVER_BUSY = "server busy, please try again.  maximum pending requests exceeded"
MID_STREAM_ERROR = "an error was encountered while running the model"
REQUEST_CANCELED = "request canceled"

JSON_CT = "application/json; charset=utf-8"
NDJSON_CT = "application/x-ndjson"
TEXT_CT = "text/plain; charset=utf-8"

_DEFAULT_STATUS_ERRORS = {
    499: REQUEST_CANCELED,
    500: RUNNER_CRASH,
    503: SERVER_BUSY,
}

_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_BATCH_BYTES = 16384  # with no token delay, lines (one chunk each) are sent in batches


def split_tokens(text: str, token_size: int | None = None) -> list[str]:
    """Split ``text`` into stream tokens.

    Default: words with their leading whitespace attached (``"Hi there."`` ->
    ``["Hi", " there."]``), like real tokenizers. ``token_size``: fixed-size character chunks.
    Concatenating the tokens always gives ``text`` back.
    """
    if not text:
        return []
    if token_size:
        n = max(1, int(token_size))
        return [text[i : i + n] for i in range(0, len(text), n)]
    return _TOKEN_RE.findall(text)


# ---------------------------------------------------------------------------------------------
# Replies and records
# ---------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted model answer (and, optionally, a fault).

    Content: ``text`` (split with :func:`split_tokens`, ``token_size`` for fixed-size chunks) or
    explicit ``tokens``; ``thinking`` (streamed first as ``message.thinking`` chunks);
    ``tool_calls`` (``[{"name": ..., "arguments": {...}}]``, sent as one chunk with content
    ``""`` after the content; ``tool_call_style`` ``"new"`` adds ``id``/``index``, ``"old"``
    omits them, None uses the fake's); ``final_text`` (carried by the ``done`` line).

    Final line: ``done_reason`` (``""`` omits it, like pre-0.1.35 servers), ``metrics``.

    Faults: ``status`` + ``error`` (HTTP error before any stream byte; default messages for
    500/503/499), ``error_after`` (N lines then ``{"error": ...}``, HTTP 200, then close),
    ``drop_after`` (N lines then an abrupt close mid-body), ``first_token_delay`` (before the
    headers), ``token_delay`` (before each line; None: ``fake.token_delay``), ``raw_lines``
    (sent verbatim, one per chunk; blank ones skipped unless ``allow_blank``).

    With ``stream: false`` the same delays apply, ``error_after`` becomes an HTTP 500 (or
    ``status``) error, ``drop_after`` closes without a response, and ``raw_lines`` are joined
    with newlines into a 200 body.
    """

    text: str = ""
    tokens: list[str] | None = None
    token_size: int | None = None
    thinking: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_style: str | None = None  # "new" | "old" | None (fake.tool_call_style)
    final_text: str = ""
    metrics: bool = True
    done_reason: str = "stop"
    error_after: int | None = None
    drop_after: int | None = None
    status: int | None = None
    error: str = ""
    first_token_delay: float = 0.0
    token_delay: float | None = None
    raw_lines: list[str] | None = None
    allow_blank: bool = False

    def content_tokens(self) -> list[str]:
        if self.tokens is not None:
            return [str(t) for t in self.tokens]
        return split_tokens(self.text, self.token_size)

    def thinking_tokens(self) -> list[str]:
        return split_tokens(self.thinking, self.token_size)


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


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _ClientGone(Exception):
    """The client closed the connection."""


class _ServerStopping(Exception):
    """The fake is shutting down."""


# ---------------------------------------------------------------------------------------------
# Small helpers: Go-style JSON, timestamps, names
# ---------------------------------------------------------------------------------------------

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _go_json(obj: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it (UTF-8, HTML characters escaped)."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = s.translate(_GO_ESCAPES)
    return s


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "replace")


def _goq(s: str) -> str:
    """Approximately Go's ``%q``."""
    return json.dumps(s)


_ts_cache: list[Any] = [-1, ""]


def rfc3339_now() -> str:
    """UTC RFC 3339 with nanoseconds, trailing zeros trimmed, like Go's ``time.Time`` JSON."""
    ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    if _ts_cache[0] != sec:
        _ts_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache[0] = sec
    base = _ts_cache[1]
    if not frac:
        return base + "Z"
    return f"{base}.{frac:09d}".rstrip("0") + "Z"


def _ci_get(obj: dict[str, Any], key: str, default: Any = None) -> Any:
    """Go ``encoding/json`` field matching: case-insensitive, the last matching key wins."""
    found = default
    folded = key.casefold()
    for k, v in obj.items():
        if k == key or k.casefold() == folded:
            found = v
    return found


def _ci_has(obj: dict[str, Any], key: str) -> bool:
    folded = key.casefold()
    return any(k.casefold() == folded for k in obj)


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _unmarshal_error(value: Any, where: str, go_type: str) -> _HttpError:
    return _HttpError(
        400, f"json: cannot unmarshal {_go_type(value)} into Go {where} of type {go_type}"
    )


def normalize_model(name: str) -> str:
    """``llama3.2`` -> ``llama3.2:latest`` (case-folded), for matching."""
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    return name.casefold()


def full_model_name(name: str) -> str:
    """Ollama's internal name: ``qwen2.5:0.5b`` -> ``registry.ollama.ai/library/qwen2.5:0.5b``."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    parts = name.split("/")
    if len(parts) == 1:
        parts = ["registry.ollama.ai", "library", *parts]
    elif len(parts) == 2:
        parts = ["registry.ollama.ai", *parts]
    return "/".join(parts)


def _is_zero_duration(v: Any) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, int | float):
        return v == 0
    if isinstance(v, str):
        return bool(re.fullmatch(r"\s*[+]?0+(\.0*)?(ns|us|µs|ms|s|m|h)?\s*", v))
    return False


def _think_requested(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() not in ("", "false", "none")
    return False


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def _embed_vector(model_key: str, text: str, dim: int) -> list[float]:
    vals: list[float] = []
    counter = 0
    while len(vals) < dim:
        digest = hashlib.sha256(f"{model_key}\0{text}\0{counter}".encode()).digest()
        for i in range(0, len(digest), 4):
            vals.append(int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1.0)
        counter += 1
    vals = vals[:dim]
    return _l2(vals)


def _l2(vals: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return [round(v / norm, 9) for v in vals]


def echo_reply(body: dict[str, Any]) -> Reply:
    """The default reply: ``You said: <last user message>`` (or ``<prompt>`` for generate).

    When the request asks for ``format`` (JSON mode or a schema), the text is a JSON document.
    """
    said = ""
    messages = _ci_get(body, "messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and str(_ci_get(m, "role") or "").lower() == "user":
                said = str(_ci_get(m, "content") or "")
                break
    else:
        said = str(_ci_get(body, "prompt") or "")
    if _ci_get(body, "format") not in (None, ""):
        return Reply(text=json.dumps({"reply": f"You said: {said}"}))
    return Reply(text=f"You said: {said}")


DEFAULT_REPLIES: list[str] = [
    "## Crawl budget in short\n\n"
    "Search engines crawl a limited number of URLs per site. To spend that budget well:\n\n"
    "- **Fix broken links** that return `404` or `5xx`.\n"
    "- **Trim redirect chains** to a single hop.\n"
    "- **Block faceted URLs** that add no value, with `robots.txt` or `noindex`.\n"
    "- Keep the XML sitemap limited to canonical, indexable pages.\n\n"
    "Start with the pages at depth 4 and beyond: they are crawled the least.",
    "Here is a small Python script that counts internal links per page from an edge list:\n\n"
    "```python\n"
    "import csv\n"
    "from collections import Counter\n\n"
    "inlinks = Counter()\n"
    'with open("edges.csv", newline="") as fh:\n'
    "    for source, target in csv.reader(fh):\n"
    "        inlinks[target] += 1\n\n"
    "for url, count in inlinks.most_common(10):\n"
    '    print(f"{count:6d}  {url}")\n'
    "```\n\n"
    "Pages with very few inlinks are good candidates for better internal linking.",
    "| Depth | URLs | Share indexable |\n"
    "|------:|-----:|----------------:|\n"
    "| 0 | 1 | 100% |\n"
    "| 1 | 10 | 98% |\n"
    "| 2 | 100 | 91% |\n"
    "| 3 | 1000 | 74% |\n\n"
    "The share of indexable pages drops with depth. Consider linking the deepest "
    "categories from the home page.",
    "Three quick checks for a new site audit:\n\n"
    "1. Compare the **crawled** URLs with the **sitemap** URLs.\n"
    "2. Look for pages whose `canonical` points elsewhere.\n"
    "3. Check that `hreflang` pairs are reciprocal.\n\n"
    "> Tip: run the checks again after each release.",
]


# ---------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms Nagle/delayed-ACK stalls

    rec: RecordedRequest | None = None

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.fake._conn_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._conn_closed(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # BrokenPipe, ConnectionReset: the client went away
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _read_body(self) -> bytes | None:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    return None
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        fake: FakeOllama = self.server.fake
        body = self._read_body()
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
        except (_ClientGone, ConnectionError, BrokenPipeError):
            rec.disconnected = True
            self.close_connection = True
        except _ServerStopping:
            self.close_connection = True
        except OSError:
            rec.disconnected = True
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # -- plain responses ----------------------------------------------------------------------

    def send_body(self, status: int, body: bytes, ctype: str) -> None:
        self.rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        self.send_body(status, _enc(_go_json(obj)), JSON_CT)

    # -- chunked NDJSON -----------------------------------------------------------------------

    def begin_stream(self, status: int = 200, ctype: str = NDJSON_CT) -> None:
        self.rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def queue_line(self, line: bytes) -> None:
        """Queue one line as one chunk; call :meth:`flush` to write."""
        self._pending.append(b"%X\r\n%s\r\n" % (len(line), line))
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
                raise _ClientGone
            self.flush()

    def end_stream(self) -> None:
        self.flush()
        self.wfile.write(b"0\r\n\r\n")

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
        """Sleep ``seconds``, raising :class:`_ClientGone` as soon as the client goes away."""
        fake: FakeOllama = self.server.fake
        self.flush()
        deadline = time.monotonic() + seconds
        conn = self.connection
        while True:
            if fake._stopping.is_set():
                raise _ServerStopping
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = min(remaining, 0.05)
            try:
                r, _, _ = select.select([conn], [], [], step)
            except (OSError, ValueError) as exc:
                raise _ClientGone from exc
            if r:
                if self.peer_closed():
                    raise _ClientGone
                # The client sent more bytes (pipelining): just sleep the step out.
                fake._stopping.wait(step)


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------

_DEFAULT_CAPS = ("completion", "tools")
_EMBED_NAME = re.compile(r"embed|minilm|bge|e5-|gte-", re.IGNORECASE)


class FakeOllama:
    """A fake Ollama server on 127.0.0.1 (port 0 by default), HTTP/1.1 keep-alive.

    Knobs (plain attributes, settable at any time):

    * ``token_delay`` (0.0): seconds before each streamed line when the reply has none;
      0 streams as fast as possible (lines batched into ~16 KB writes, one chunk per line).
    * ``not_found_style``: ``"current"`` (``model 'x' not found``) or ``"legacy"``
      (``model "x" not found, try pulling it first``); applies to /api/chat and /api/embed.
    * ``reset_connections``: read each request, then close without any response.
    * ``version`` (``"0.12.10"``), ``tool_call_style`` (``"new"``: calls carry ``id`` and
      ``function.index``; ``"old"``: neither), ``embed_dim`` (8), ``context_length``.
    * ``capabilities``: model name -> list (``"completion"``, ``"tools"``, ``"thinking"``,
      ``"embedding"``, ``"vision"``). Unlisted models get ``default_capabilities``
      (``["completion", "tools"]``), or ``["embedding"]`` when the name looks like an
      embedding model (``embed``, ``minilm``, ``bge``...). Keys match with or without ``:latest``.
    * ``default_reply``: used when the script queue is empty; a callable taking the parsed
      request body and returning a :class:`Reply` or ``str``, or a fixed Reply/str.
      Default: :func:`echo_reply`.

    Records: ``requests`` (:class:`RecordedRequest`), ``chat_requests`` (parsed /api/chat
    bodies), ``loaded`` (models loaded, for /api/ps).
    """

    def __init__(
        self,
        models: list[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.models: list[str] = list(
            models if models is not None else ["llama3.2:latest", "qwen2.5:0.5b"]
        )
        # --- knobs -------------------------------------------------------------------------
        self.token_delay: float = 0.0
        self.not_found_style: str = "current"  # "current" | "legacy"
        self.reset_connections: bool = False
        self.version: str = "0.12.10"
        self.tool_call_style: str = "new"  # "new" | "old"
        self.capabilities: dict[str, list[str]] = {}
        self.default_capabilities: list[str] = list(_DEFAULT_CAPS)
        self.default_reply: Callable[[dict[str, Any]], Reply | str] | Reply | str = echo_reply
        self.embed_dim: int = 8
        self.context_length: int = 131072
        # --- records -----------------------------------------------------------------------
        self.requests: list[RecordedRequest] = []
        self.loaded: dict[str, float] = {}  # model key -> expiry (time.time())
        # --- internals ---------------------------------------------------------------------
        self._bind = (host, port)
        self._lock = threading.RLock()
        self._script: deque[Reply] = deque()
        self._rng = random.Random(seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self._bind, _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.name = f"FakeOllama:{server.server_address[1]}"
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until KeyboardInterrupt."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOllama is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT`` (the API lives under ``/api``)."""
        return f"http://{self._bind[0]}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _conn_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _conn_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    # -- script and records -------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies; each /api/chat or /api/generate that gets to generation pops one."""
        with self._lock:
            for r in replies:
                self._script.append(Reply(text=r) if isinstance(r, str) else r)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def chat_requests(self) -> list[Any]:
        """Parsed bodies of the ``POST /api/chat`` requests, in order."""
        with self._lock:
            return [r.json for r in self.requests if r.path == "/api/chat" and r.method == "POST"]

    def find_requests(self, path: str | None = None, method: str | None = None) -> list:
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if (path is None or r.path == path) and (method is None or r.method == method.upper())
        ]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        d = self.default_reply
        r = d(body) if callable(d) else d
        return Reply(text=r) if isinstance(r, str) else r

    def _record(
        self, method: str, raw_path: str, headers: Any, body: bytes, client: Any = None
    ) -> RecordedRequest:
        split = urlsplit(raw_path)
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed = None
        rec = RecordedRequest(
            method=method.upper(),
            path=split.path,
            query=split.query,
            headers={k.lower(): v for k, v in headers.items()},
            json=parsed,
            time=time.monotonic(),
            body=body,
            client=tuple(client) if client else None,
            t0_ns=time.perf_counter_ns(),
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    # -- models -------------------------------------------------------------------------------

    def _find_model(self, name: Any) -> str | None:
        """The configured model name matching ``name`` (with or without ``:latest``)."""
        if not isinstance(name, str) or not name.strip():
            return None
        want = normalize_model(name)
        for m in list(self.models):
            if normalize_model(m) == want:
                return m
        return None

    def caps(self, model: str) -> list[str]:
        want = normalize_model(model)
        for k, v in self.capabilities.items():
            if normalize_model(k) == want:
                return list(v)
        if _EMBED_NAME.search(model):
            return ["embedding"]
        return list(self.default_capabilities)

    def _not_found(self, name: str, style: str | None = None) -> _HttpError:
        if (style or self.not_found_style) == "legacy":
            return _HttpError(404, f"model {_goq(name)} not found, try pulling it first")
        return _HttpError(404, f"model '{name}' not found")

    @staticmethod
    def _details(name: str) -> dict[str, Any]:
        base = name.rsplit("/", 1)[-1]
        stem, _, tag = base.partition(":")
        fam_m = re.match(r"[a-zA-Z]+", stem)
        family = fam_m.group(0).lower() if fam_m else "llama"
        size_m = re.search(r"(\d+(?:\.\d+)?)([bm])\b", tag.lower()) or re.search(
            r"(\d+(?:\.\d+)?)([bm])\b", stem.lower()
        )
        param = f"{size_m.group(1)}{size_m.group(2).upper()}" if size_m else "3.2B"
        return {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": param,
            "quantization_level": "Q4_K_M",
        }

    @staticmethod
    def _model_size(details: dict[str, Any]) -> int:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([BM])", details["parameter_size"])
        params = float(m.group(1)) * (1e9 if m.group(2) == "B" else 1e6) if m else 3.2e9
        return int(params * 0.63) + 1_000_000

    @staticmethod
    def _modified_at(index: int) -> str:
        dt = datetime(2025, 5, 4, 17, 37, 44) - timedelta(days=index, minutes=7 * index)
        ns = 706015396 + index * 1111
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}".rstrip("0") + "-07:00"

    def _tag_entry(self, index: int, name: str) -> dict[str, Any]:
        tagged = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
        details = self._details(tagged)
        return {
            "name": tagged,
            "model": tagged,
            "modified_at": self._modified_at(index),
            "size": self._model_size(details),
            "digest": hashlib.sha256(tagged.encode()).hexdigest(),
            "details": details,
        }

    # -- routing ------------------------------------------------------------------------------

    _GET = {
        "/": "_h_root",
        "/api/version": "_h_version",
        "/api/tags": "_h_tags",
        "/api/ps": "_h_ps",
    }
    _POST = {
        "/api/show": "_h_show",
        "/api/chat": "_h_chat",
        "/api/generate": "_h_generate",
        "/api/embed": "_h_embed",
        "/api/embeddings": "_h_embeddings",
    }
    _HEAD_OK = frozenset({"/", "/api/version", "/api/tags"})

    def _handle(self, h: _Handler, rec: RecordedRequest) -> None:
        name = None
        if rec.method == "GET" or (rec.method == "HEAD" and rec.path in self._HEAD_OK):
            name = self._GET.get(rec.path)
        elif rec.method == "POST":
            name = self._POST.get(rec.path)
        if name is None:
            h.send_body(404, b"404 page not found", TEXT_CT)
            return
        try:
            getattr(self, name)(h, rec)
        except _HttpError as exc:
            h.send_json(exc.status, {"error": exc.message})
        except (_ClientGone, _ServerStopping, OSError):
            raise
        except Exception:  # a bug in the fake: make it visible
            traceback.print_exc()
            if rec.status is None:
                h.send_json(500, {"error": "fake ollama internal error"})
            else:
                h.abort()

    @staticmethod
    def _body(rec: RecordedRequest, go_type: str) -> dict[str, Any]:
        raw = rec.body
        if not raw.strip():
            raise _HttpError(400, "missing request body")
        try:
            text = raw.decode("utf-8")
            # Like Go's json.Decoder: decode the first value, ignore anything after it.
            obj, _ = json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip()))
        except UnicodeDecodeError as exc:
            raise _HttpError(400, "invalid character in request body") from exc
        except json.JSONDecodeError as exc:
            text = exc.doc
            pos = exc.pos
            if pos >= len(text.rstrip()):
                raise _HttpError(400, "unexpected EOF") from exc
            ch = text[pos]
            raise _HttpError(
                400, f"invalid character '{ch}' looking for beginning of value"
            ) from exc
        if not isinstance(obj, dict):
            if obj is None:
                return {}
            raise _HttpError(
                400, f"json: cannot unmarshal {_go_type(obj)} into Go value of type {go_type}"
            )
        return obj

    # -- simple endpoints ---------------------------------------------------------------------

    def _h_root(self, h: _Handler, rec: RecordedRequest) -> None:
        h.send_body(200, b"Ollama is running", TEXT_CT)

    def _h_version(self, h: _Handler, rec: RecordedRequest) -> None:
        h.send_json(200, {"version": self.version})

    def _h_tags(self, h: _Handler, rec: RecordedRequest) -> None:
        h.send_json(
            200, {"models": [self._tag_entry(i, m) for i, m in enumerate(list(self.models))]}
        )

    def _h_ps(self, h: _Handler, rec: RecordedRequest) -> None:
        now = time.time()
        out = []
        with self._lock:
            loaded = [(k, v) for k, v in self.loaded.items() if v > now]
        for i, (name, expiry) in enumerate(loaded):
            entry = self._tag_entry(i, name)
            entry.pop("modified_at")
            exp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            entry.update(
                expires_at=exp, size_vram=entry["size"], context_length=self.context_length
            )
            out.append(entry)
        h.send_json(200, {"models": out})

    def _h_show(self, h: _Handler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.ShowRequest")
        model = _ci_get(body, "model") or _ci_get(body, "name")
        if model is not None and not isinstance(model, str):
            raise _unmarshal_error(model, "struct field ShowRequest.model", "string")
        if not model:
            raise _HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model, "current")
        details = self._details(name)
        arch = details["family"]
        caps = self.caps(name)
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.file_type": 15,
            "general.parameter_count": self._model_size(details),
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": 3072,
        }
        h.send_json(
            200,
            {
                "license": "FAKE LICENSE",
                "modelfile": f"# Modelfile generated by the fake\nFROM {full_model_name(name)}\n",
                "parameters": 'stop                           "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": info,
                "capabilities": caps,
                "modified_at": self._modified_at(0),
            },
        )

    # -- chat / generate ----------------------------------------------------------------------

    def _mark_loaded(self, name: str, keep_alive: Any) -> None:
        with self._lock:
            if _is_zero_duration(keep_alive):
                self.loaded.pop(name, None)
            else:
                self.loaded[name] = time.time() + 300

    def _check_format(self, fmt: Any) -> None:
        if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
            return
        raw = json.dumps(fmt, separators=(",", ":"))
        raise _HttpError(
            500, f'invalid format: {_goq(raw)}; expected "json" or a valid JSON Schema object'
        )

    def _h_chat(self, h: _Handler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.ChatRequest")
        model = _ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise _unmarshal_error(model, "struct field ChatRequest.model", "string")
        messages = _ci_get(body, "messages")
        if messages is not None and not isinstance(messages, list):
            raise _unmarshal_error(messages, "struct field ChatRequest.messages", "[]api.Message")
        msgs: list[dict[str, Any]] = []
        for m in messages or []:
            if not isinstance(m, dict):
                raise _unmarshal_error(m, "struct field ChatRequest.messages", "api.Message")
            role = _ci_get(m, "role")
            content = _ci_get(m, "content")
            if role is not None and not isinstance(role, str):
                raise _unmarshal_error(role, "struct field Message.messages.role", "string")
            if content is not None and not isinstance(content, str):
                raise _unmarshal_error(content, "struct field Message.messages.content", "string")
            msgs.append({"role": (role or "").lower(), "content": content or ""})
        stream = _ci_get(body, "stream")
        if stream is not None and not isinstance(stream, bool):
            raise _unmarshal_error(stream, "struct field ChatRequest.stream", "bool")
        if not model:
            raise _HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        keep_alive = _ci_get(body, "keep_alive")
        if not msgs:
            reason = "unload" if _is_zero_duration(keep_alive) else "load"
            self._mark_loaded(name, keep_alive)
            h.send_json(
                200,
                {
                    "model": model,
                    "created_at": rfc3339_now(),
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": reason,
                },
            )
            return
        caps = self.caps(name)
        if "completion" not in caps:
            raise _HttpError(400, f"{_goq(model)} does not support chat")
        tools = _ci_get(body, "tools")
        if tools and "tools" not in caps:
            raise _HttpError(400, f"{full_model_name(name)} does not support tools")
        if _think_requested(_ci_get(body, "think")) and "thinking" not in caps:
            raise _HttpError(400, f"{_goq(model)} does not support thinking")
        self._check_format(_ci_get(body, "format"))
        reply = self._next_reply(body)
        rec.reply = reply
        prompt_count = sum(len(split_tokens(m["content"])) + 4 for m in msgs) + 1
        self._mark_loaded(name, keep_alive)
        self._generate(
            h,
            rec,
            reply,
            model=model,
            stream=True if stream is None else stream,
            kind="chat",
            prompt_count=prompt_count,
            num_predict=self._num_predict(body),
        )

    @staticmethod
    def _num_predict(body: dict[str, Any]) -> int | None:
        opts = _ci_get(body, "options")
        if isinstance(opts, dict):
            n = _ci_get(opts, "num_predict")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                return n
        return None

    def _h_generate(self, h: _Handler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.GenerateRequest")
        model = _ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise _unmarshal_error(model, "struct field GenerateRequest.model", "string")
        prompt = _ci_get(body, "prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise _unmarshal_error(prompt, "struct field GenerateRequest.prompt", "string")
        stream = _ci_get(body, "stream")
        if stream is not None and not isinstance(stream, bool):
            raise _unmarshal_error(stream, "struct field GenerateRequest.stream", "bool")
        if not model:
            raise _HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model, "current")
        keep_alive = _ci_get(body, "keep_alive")
        if not prompt:
            resp = {
                "model": model,
                "created_at": rfc3339_now(),
                "response": "",
                "done": True,
            }
            if _is_zero_duration(keep_alive):
                resp["done_reason"] = "unload"
            self._mark_loaded(name, keep_alive)
            h.send_json(200, resp)
            return
        caps = self.caps(name)
        if "completion" not in caps:
            raise _HttpError(400, f"{full_model_name(name)} does not support generate")
        if _think_requested(_ci_get(body, "think")) and "thinking" not in caps:
            raise _HttpError(400, f"{_goq(model)} does not support thinking")
        self._check_format(_ci_get(body, "format"))
        reply = self._next_reply(body)
        rec.reply = reply
        self._mark_loaded(name, keep_alive)
        self._generate(
            h,
            rec,
            reply,
            model=model,
            stream=True if stream is None else stream,
            kind="generate",
            prompt_count=len(split_tokens(prompt)) + 4,
            num_predict=self._num_predict(body),
        )

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        style = reply.tool_call_style or self.tool_call_style
        out = []
        for i, call in enumerate(reply.tool_calls or []):
            fn = call.get("function") if isinstance(call.get("function"), dict) else call
            fname = fn.get("name", "")
            args = fn.get("arguments", {})
            if style == "old":
                out.append({"function": {"name": fname, "arguments": args}})
            else:
                cid = call.get("id") or "call_" + "".join(
                    self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(8)
                )
                out.append({"id": cid, "function": {"index": i, "name": fname, "arguments": args}})
        return out

    def _generate(
        self,
        h: _Handler,
        rec: RecordedRequest,
        reply: Reply,
        *,
        model: str,
        stream: bool,
        kind: str,
        prompt_count: int,
        num_predict: int | None,
    ) -> None:
        delay = reply.token_delay if reply.token_delay is not None else self.token_delay
        delay = max(0.0, float(delay or 0.0))
        # Model load + prompt evaluation: before any byte of the response.
        if reply.first_token_delay > 0:
            h.wait(reply.first_token_delay)
        t_load = time.perf_counter_ns()
        if reply.status is not None:
            msg = reply.error or _DEFAULT_STATUS_ERRORS.get(reply.status) or _phrase(reply.status)
            h.send_json(reply.status, {"error": msg})
            return
        if reply.raw_lines is not None:
            self._send_raw(h, reply, stream, delay)
            return

        thinking = reply.thinking_tokens()
        content = reply.content_tokens()
        calls = self._tool_calls(reply) if kind == "chat" else []
        done_reason = reply.done_reason
        if num_predict is not None and len(thinking) + len(content) > num_predict:
            thinking = thinking[:num_predict]
            content = content[: max(0, num_predict - len(thinking))]
            calls = []
            done_reason = "length"
        final_text = reply.final_text
        eval_count = len(thinking) + len(content) + len(split_tokens(final_text)) + len(calls)

        prefix = '{"model":' + _go_json(model) + ',"created_at":"'
        if kind == "chat":

            def content_line(tok: str) -> bytes:
                return _enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":'
                    + _go_json(tok)
                    + '},"done":false}\n'
                )

            def thinking_line(tok: str) -> bytes:
                return _enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":"","thinking":'
                    + _go_json(tok)
                    + '},"done":false}\n'
                )

            def calls_line(c: list[dict[str, Any]]) -> bytes:
                return _enc(
                    prefix
                    + rfc3339_now()
                    + '","message":{"role":"assistant","content":"","tool_calls":'
                    + _go_json(c)
                    + '},"done":false}\n'
                )

        else:

            def content_line(tok: str) -> bytes:
                return _enc(
                    prefix + rfc3339_now() + '","response":' + _go_json(tok) + ',"done":false}\n'
                )

            def thinking_line(tok: str) -> bytes:
                return _enc(
                    prefix
                    + rfc3339_now()
                    + '","response":"","thinking":'
                    + _go_json(tok)
                    + ',"done":false}\n'
                )

            def calls_line(c: list[dict[str, Any]]) -> bytes:  # pragma: no cover - unused
                return b""

        def events() -> Iterator[bytes]:
            for tok in thinking:
                yield thinking_line(tok)
            for tok in content:
                yield content_line(tok)
            if calls:
                yield calls_line(calls)

        n_events = len(thinking) + len(content) + (1 if calls else 0)
        t_eval0 = time.perf_counter_ns()

        def final_obj(t_end: int) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": model, "created_at": rfc3339_now()}
            if kind == "chat":
                msg: dict[str, Any] = {
                    "role": "assistant",
                    "content": final_text if stream else "".join(content) + final_text,
                }
                if not stream and thinking:
                    msg["thinking"] = "".join(thinking)
                if not stream and calls:
                    msg["tool_calls"] = calls
                obj["message"] = msg
            else:
                obj["response"] = final_text if stream else "".join(content) + final_text
                if not stream and thinking:
                    obj["thinking"] = "".join(thinking)
            obj["done"] = True
            if done_reason:
                obj["done_reason"] = done_reason
            if kind == "generate":
                obj["context"] = [(prompt_count * 7 + i * 13) % 128000 for i in range(8)]
            if reply.metrics:
                load = max(t_load - rec.t0_ns, 1)
                prompt_eval = max(t_eval0 - t_load, 1)
                eval_ns = max(t_end - t_eval0, 1)
                total = max(time.perf_counter_ns() - rec.t0_ns, load + prompt_eval + eval_ns)
                metrics = {
                    "total_duration": total,
                    "load_duration": load,
                    "prompt_eval_count": prompt_count,
                    "prompt_eval_duration": prompt_eval,
                    "eval_count": eval_count,
                    "eval_duration": eval_ns,
                }
                obj.update((k, v) for k, v in metrics.items() if v)  # omitempty
            return obj

        err_msg = reply.error or MID_STREAM_ERROR

        if not stream:
            # Generation happens all the same; the answer comes in one piece at the end.
            steps = n_events
            if reply.error_after is not None:
                steps = min(steps, reply.error_after)
            if reply.drop_after is not None:
                steps = min(steps, reply.drop_after)
            if delay > 0 and steps:
                h.wait(delay * steps)
            elif h.peer_closed():
                raise _ClientGone
            if reply.drop_after is not None and reply.drop_after <= n_events:
                h.abort()
                return
            if reply.error_after is not None and reply.error_after <= n_events:
                h.send_json(500, {"error": err_msg})
                return
            obj = final_obj(time.perf_counter_ns())
            h.send_body(200, _enc(_go_json(obj)), JSON_CT)
            return

        batch = delay <= 0
        h.begin_stream()
        sent = 0
        t_last = t_eval0
        for line in events():
            if reply.drop_after is not None and sent >= reply.drop_after:
                h.abort()
                return
            if reply.error_after is not None and sent >= reply.error_after:
                self._finish_with_error(h, err_msg)
                return
            if delay > 0:
                h.wait(delay)
            h.send_line(line, batch)
            sent += 1
            t_last = time.perf_counter_ns()
        if reply.drop_after is not None and sent >= reply.drop_after:
            h.abort()
            return
        if reply.error_after is not None:
            self._finish_with_error(h, err_msg)
            return
        h.send_line(_enc(_go_json(final_obj(t_last)) + "\n"), batch=False)
        if reply.drop_after is not None:  # drop after the done line, before the terminator
            h.abort()
            return
        h.end_stream()

    @staticmethod
    def _finish_with_error(h: _Handler, message: str) -> None:
        h.send_line(_enc(_go_json({"error": message}) + "\n"), batch=False)
        h.end_stream()
        h.close_connection = True

    def _send_raw(self, h: _Handler, reply: Reply, stream: bool, delay: float) -> None:
        lines = [ln for ln in (reply.raw_lines or []) if reply.allow_blank or ln.strip() != ""]
        if not stream:
            if delay > 0 and lines:
                h.wait(delay * len(lines))
            h.send_body(200, _enc("\n".join(lines) + ("\n" if lines else "")), JSON_CT)
            return
        batch = delay <= 0
        h.begin_stream()
        for i, ln in enumerate(lines):
            if reply.drop_after is not None and i >= reply.drop_after:
                h.abort()
                return
            if reply.error_after is not None and i >= reply.error_after:
                self._finish_with_error(h, reply.error or MID_STREAM_ERROR)
                return
            if delay > 0:
                h.wait(delay)
            h.send_line(_enc(ln.rstrip("\r\n") + "\n"), batch)
        if reply.drop_after is not None:
            h.abort()
            return
        h.end_stream()

    # -- embeddings ---------------------------------------------------------------------------

    def _h_embed(self, h: _Handler, rec: RecordedRequest) -> None:
        t0 = rec.t0_ns
        body = self._body(rec, "api.EmbedRequest")
        model = _ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise _unmarshal_error(model, "struct field EmbedRequest.model", "string")
        if not model:
            raise _HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        raw = _ci_get(body, "input")
        inputs: list[str] = []
        if isinstance(raw, str):
            if raw:
                inputs.append(raw)
        elif isinstance(raw, list):
            for v in raw:
                if not isinstance(v, str):
                    raise _HttpError(400, "invalid input type")
                inputs.append(v)
        elif raw is not None:
            raise _HttpError(400, "invalid input type")
        if not inputs:
            h.send_json(200, {"model": model, "embeddings": []})
            return
        dims = _ci_get(body, "dimensions")
        dim = self.embed_dim
        vectors = []
        for text in inputs:
            v = _embed_vector(normalize_model(name), text, dim)
            if isinstance(dims, int) and not isinstance(dims, bool) and 0 < dims < dim:
                v = _l2(v[:dims])
            vectors.append(v)
        self._mark_loaded(name, _ci_get(body, "keep_alive"))
        total = max(time.perf_counter_ns() - t0, 2)
        h.send_json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": total,
                "load_duration": max(total // 10, 1),
                "prompt_eval_count": sum(len(split_tokens(t)) for t in inputs) or len(inputs),
            },
        )

    def _h_embeddings(self, h: _Handler, rec: RecordedRequest) -> None:
        """Legacy ``/api/embeddings``: ``{"model", "prompt"}`` -> one non-normalised vector."""
        body = self._body(rec, "api.EmbeddingRequest")
        model = _ci_get(body, "model")
        if not isinstance(model, str) or not model:
            raise _HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        prompt = _ci_get(body, "prompt")
        if not isinstance(prompt, str) or not prompt:
            h.send_json(200, {"embedding": []})
            return
        v = _embed_vector(normalize_model(name), prompt, self.embed_dim)
        h.send_json(200, {"embedding": [round(x * 3.7, 9) for x in v]})


# ---------------------------------------------------------------------------------------------
# Standalone entry point
# ---------------------------------------------------------------------------------------------


def load_reply_file(path: str | Path) -> list[Reply]:
    """Replies from a file: JSON (a list of strings or of :class:`Reply` field objects), or
    plain text where a line holding only ``%%`` separates replies."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list):
        out = []
        for item in data:
            out.append(Reply(text=item) if isinstance(item, str) else Reply(**item))
        return out
    parts = re.split(r"(?m)^%%[ \t]*\r?\n?", text)
    return [Reply(text=p.strip("\n")) for p in parts if p.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fakes.ollama_server", description="Run the fake Ollama API."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=11434)
    ap.add_argument(
        "--tokens-per-second", type=float, default=40.0, help="0 streams as fast as possible"
    )
    ap.add_argument("--first-token-delay", type=float, default=0.3)
    ap.add_argument(
        "--reply-file",
        default=None,
        help="JSON list (strings or Reply fields) or text with replies separated by '%%' lines",
    )
    ap.add_argument("--models", default="llama3.2:latest,qwen2.5:0.5b")
    ap.add_argument("--version", dest="server_version", default="0.12.10")
    args = ap.parse_args(argv)

    replies = (
        load_reply_file(args.reply_file)
        if args.reply_file
        else [Reply(text=t) for t in DEFAULT_REPLIES]
    )
    if not replies:
        replies = [Reply(text=t) for t in DEFAULT_REPLIES]
    cycle = itertools.cycle(replies)
    first_delay = max(0.0, args.first_token_delay)

    def next_canned(body: dict[str, Any]) -> Reply:
        r = next(cycle)
        if r.first_token_delay == 0 and first_delay:
            r = Reply(**{**r.__dict__, "first_token_delay": first_delay})
        return r

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    fake = FakeOllama(models=models, host=args.host, port=args.port)
    fake.version = args.server_version
    fake.token_delay = 1.0 / args.tokens_per_second if args.tokens_per_second > 0 else 0.0
    fake.default_reply = next_canned
    fake.start()
    print(fake.base_url, flush=True)
    print(
        json.dumps(
            {
                "base_url": fake.base_url,
                "models": models,
                "replies": len(replies),
                "token_delay": fake.token_delay,
            }
        ),
        flush=True,
    )
    fake.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

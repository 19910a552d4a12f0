"""A simulator of the Botify REST API (subset), served over real HTTP on 127.0.0.1.

One module of Botify behaviour: the demo (``botifython --demo``) serves its simulated account
with it, and the test suite's fake server (``tests/fakes/botify_server``) is this class under
its old name. Standard library only.

Quick start::

    from botifython_tui.core.botify_sim import BotifySimulator as FakeBotify, SyntheticGraph

    graph = SyntheticGraph(depth_sizes=[1, 10, 100, 1000], out_degree=(2, 8), seed=0)
    with FakeBotify(token="good-token", username="jane.doe", list_page_size=2) as fake:
        fake.add_project("acme-org", "example.com", analyses=["20241108-2", "20241108"], graph=graph)
        httpx.get(fake.base_url + "/v1/authentication/profile",
                  headers={"Authorization": "Token good-token"})

Run standalone (foreground, Ctrl-C to stop), from the source tree::

    python -m tests.fakes.botify_server --port 8765 --edges 1000000 --token good-token

Design notes (where the protocol is unverified, marked [U] there, the fake picks one
behaviour and makes the alternatives configurable):

* Errors use the documented envelope ``{"error": {"error_code": "1010", "message": ...}}``.
  ``error_code`` is a string unless ``error_code_as_number`` is set.
* 401 bodies: envelope (default) or DRF ``{"detail": ...}`` (``unauthorized_shape="drf"``).
  Both carry ``WWW-Authenticate: Token``.
* Only *API* requests (anything that is not ``/downloads/...``) are delayed by
  ``response_delay``, rate limited, and matched by ``inject(path=None)``. An ``inject`` with an
  explicit ``path`` can also hit downloads.
* Downloads need no auth and ignore any ``Authorization`` header.
* ``/collections`` and ``/query`` know only analyses with status ``success``; a collection
  for any other analysis is 404 (1004), like an unknown one.
* ``/query`` returns a multi-valued field (``outlinks_internal.graph.url``) as a JSON list,
  one row per URL; only exports expand it to one row per edge (rows with no outlinks vanish).
* Unknown collections (or ``search_console`` on a project without it) and missing
  ``periods`` are 400 (1022). Unknown routes and wrong methods are 404 (1000). Unknown jobs
  are 404 (1006). Any job-payload problem other than an unknown project or a bad query is
  400 (1020), including ``export_size`` above ``max_export_size``.
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import csv
import gzip
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
import zipfile
import zlib
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = [
    "ApiError",
    "BotifySimulator",
    "Injection",
    "RecordedRequest",
    "SyntheticGraph",
]

# ---------------------------------------------------------------------------------------------
# Synthetic link graph
# ---------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_TWO64 = float(1 << 64)
_GRAPH_VERSION = 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-mixed deterministic hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class SyntheticGraph:
    """A deterministic synthetic site: URLs by depth plus an internal link graph.

    * ``depth_sizes[d]`` URLs live at depth ``d``. URL ids are ``0..n_urls-1`` ordered by depth.
      Id 0 is the home page ``<host>/``; the others are ``<host>/d<depth>/page-<k>`` where ``k``
      is the index inside that depth (depth-0 extras, "start URLs", use ``/d0/page-<k>``).
    * Every URL at depth ``d+1`` gets at least one inlink from depth ``d`` (so the BFS depth from
      the depth-0 URLs equals the reported depth). A URL at depth ``d`` links only to URLs at
      depth ``<= d+1`` and never to itself, and it never links twice to the same target.
    * Out-degree: drawn (seeded) from ``out_degree``, but raised when a URL must cover more
      depth-``d+1`` children than that (e.g. a home page with 10 children and out_degree 8 gets
      10 outlinks), and capped by the number of possible distinct targets.
    * Extra links go to the next depth with probability ``1 - cross_link_ratio`` and otherwise
      to a random URL at any depth ``1..d+1``. Depth-0 URLs never receive links, so the home
      page (and any other depth-0 start URL) has zero inlinks.

    Storage is two ``array`` objects (CSR offsets + targets); the graph is built lazily on the
    first call that needs edges, and is thread safe.
    """

    PAGETYPES = ("home", "category", "product", "article", "other")

    def __init__(
        self,
        depth_sizes: Iterable[int] = (1, 10, 100, 1000),
        out_degree: int | tuple[int, int] = (2, 8),
        seed: Any = 0,
        host: str = "https://example.com",
        *,
        cross_link_ratio: float = 0.2,
    ) -> None:
        sizes = [int(s) for s in depth_sizes]
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError("depth_sizes must be a non-empty list of positive integers")
        if isinstance(out_degree, int):
            lo = hi = int(out_degree)
        else:
            lo, hi = (int(x) for x in out_degree)
        if lo < 0 or hi < lo:
            raise ValueError(f"bad out_degree range {out_degree!r}")
        if not 0.0 <= cross_link_ratio <= 1.0:
            raise ValueError("cross_link_ratio must be within [0, 1]")
        self.depth_sizes = sizes
        self.out_degree = (lo, hi)
        self.seed = seed
        self.host = host.rstrip("/")
        self.cross_link_ratio = float(cross_link_ratio)
        starts = [0]
        for s in sizes:
            starts.append(starts[-1] + s)
        self._starts = starts
        self.n_urls = starts[-1]
        self.max_depth = len(sizes) - 1
        self._seed_int = (
            seed if isinstance(seed, int) else zlib.crc32(repr(seed).encode())
        ) & _MASK64
        self._lock = threading.Lock()
        self._offsets: array | None = None
        self._targets: array | None = None
        self._inlinks: array | None = None
        self._pagerank: tuple[list[float], array] | None = None
        self._urls: list[str] | None = None
        self._url_re = re.compile(re.escape(self.host) + r"/d(\d+)/page-(\d+)")
        self.build_seconds: float | None = None

    # -- construction helpers -----------------------------------------------------------------

    @classmethod
    def for_edge_count(
        cls,
        edges: int,
        *,
        levels: int = 4,
        out_degree: int | tuple[int, int] = 8,
        seed: Any = 0,
        host: str = "https://example.com",
    ) -> SyntheticGraph:
        """A graph with ``levels`` depths (0..levels-1) and roughly ``edges`` edges.

        Depth sizes are ``[1, b, b**2, ...]`` with the branching factor ``b`` chosen so the
        estimated edge count is closest to ``edges``. ``edges=1_000_000`` gives ~1.0M edges.
        """
        lo, hi = (out_degree, out_degree) if isinstance(out_degree, int) else out_degree
        k = (lo + hi) / 2
        levels = max(1, int(levels))

        def estimate(b: int) -> float:
            total = 0.0
            for d in range(levels):
                count = b**d
                total += count * (max(k, b) if d < levels - 1 else k)
            return total

        best_b, best_err = 1, float("inf")
        for b in range(1, 5000):
            err = abs(estimate(b) - edges)
            if err < best_err:
                best_b, best_err = b, err
            if estimate(b) > edges:
                break
        sizes = [best_b**d for d in range(levels)]
        return cls(sizes, out_degree=out_degree, seed=seed, host=host)

    @property
    def signature(self) -> str:
        """A stable string identifying the graph's content (used as a cache key)."""
        return json.dumps(
            [
                "SyntheticGraph",
                _GRAPH_VERSION,
                self.depth_sizes,
                list(self.out_degree),
                repr(self.seed),
                self.host,
                self.cross_link_ratio,
            ]
        )

    def __repr__(self) -> str:
        return (
            f"SyntheticGraph(depth_sizes={self.depth_sizes!r}, out_degree={self.out_degree!r}, "
            f"seed={self.seed!r}, host={self.host!r})"
        )

    def build(self) -> SyntheticGraph:
        """Generate the edges now (normally done lazily). Returns self."""
        self._ensure_built()
        return self

    def _ensure_built(self) -> None:
        if self._targets is not None:
            return
        with self._lock:
            if self._targets is None:
                t0 = time.perf_counter()
                self._build()
                self.build_seconds = time.perf_counter() - t0

    def _build(self) -> None:
        rng = random.Random(f"fakebotify-graph:{self.seed!r}")
        rand = rng.random
        lo, hi = self.out_degree
        sizes, starts = self.depth_sizes, self._starts
        n, top = self.n_urls, self.max_depth
        offsets = array("q", bytes(8 * (n + 1)))
        targets = array("i")
        first_linkable = starts[1] if top >= 1 else n  # depth-0 URLs never receive links
        next_prob = 1.0 - self.cross_link_ratio
        for d in range(top + 1):
            s, a = sizes[d], starts[d]
            if d < top:
                na, nb = starts[d + 1], starts[d + 2]
                t = nb - na
                perm = list(range(na, nb))
                rng.shuffle(perm)
            else:
                na = nb = t = 0
                perm = None
            pool_end = starts[min(d + 1, top) + 1]
            span_any = pool_end - first_linkable
            for p in range(s):
                g = a + p
                k = lo if lo == hi else rng.randint(lo, hi)
                req = perm[p::s] if perm is not None else []
                pool = span_any - (1 if first_linkable <= g < pool_end else 0)
                k = min(max(k, len(req)), max(pool, 0))
                need = k - len(req)
                if need <= 0:
                    chosen_list = req
                else:
                    chosen = set(req)
                    chosen_list = list(req)
                    attempts = 0
                    limit = 32 * k + 32
                    while need > 0 and attempts < limit:
                        attempts += 1
                        if t and rand() < next_prob:
                            c = na + int(rand() * t)
                        else:
                            c = first_linkable + int(rand() * span_any)
                        if c == g or c in chosen:
                            continue
                        chosen.add(c)
                        chosen_list.append(c)
                        need -= 1
                    if need > 0:  # tiny pools: fill deterministically
                        for c in range(first_linkable, pool_end):
                            if need == 0:
                                break
                            if c != g and c not in chosen:
                                chosen.add(c)
                                chosen_list.append(c)
                                need -= 1
                chosen_list.sort()
                targets.extend(chosen_list)
                offsets[g + 1] = len(targets)
        self._offsets = offsets
        self._targets = targets

    def _ensure_inlinks(self) -> array:
        if self._inlinks is None:
            self._ensure_built()
            with self._lock:
                if self._inlinks is None:
                    inl = array("i", bytes(4 * self.n_urls))
                    for t in self._targets:
                        inl[t] += 1
                    self._inlinks = inl
        return self._inlinks

    def _url_list(self) -> list[str]:
        if self._urls is None:
            urls = [self._make_url(i) for i in range(self.n_urls)]
            self._urls = urls
        return self._urls

    # -- per-URL accessors --------------------------------------------------------------------

    def _make_url(self, i: int) -> str:
        if i == 0:
            return self.host + "/"
        d = bisect.bisect_right(self._starts, i) - 1
        return f"{self.host}/d{d}/page-{i - self._starts[d]}"

    def url(self, i: int) -> str:
        if not 0 <= i < self.n_urls:
            raise IndexError(i)
        if self._urls is not None:
            return self._urls[i]
        return self._make_url(i)

    def urls(self) -> list[str]:
        """All URLs by id (a cached list)."""
        return self._url_list()

    def index_of(self, url: str) -> int | None:
        """Id of ``url`` in this graph, or None."""
        if url == self.host + "/" or url == self.host:
            return 0
        m = self._url_re.fullmatch(url)
        if not m:
            return None
        d, k = int(m.group(1)), int(m.group(2))
        if d > self.max_depth or k >= self.depth_sizes[d] or (d == 0 and k == 0):
            return None
        return self._starts[d] + k

    def depth(self, i: int) -> int:
        return bisect.bisect_right(self._starts, i) - 1

    def out_degree_of(self, i: int) -> int:
        self._ensure_built()
        return self._offsets[i + 1] - self._offsets[i]

    def outlinks(self, i: int) -> list[int]:
        self._ensure_built()
        return self._targets[self._offsets[i] : self._offsets[i + 1]].tolist()

    def outlink_urls(self, i: int) -> list[str]:
        self._ensure_built()
        urls = self._url_list()
        return [urls[t] for t in self._targets[self._offsets[i] : self._offsets[i + 1]]]

    def inlink_count(self, i: int) -> int:
        return self._ensure_inlinks()[i]

    def _u(self, i: int, salt: int) -> float:
        return _mix64((self._seed_int * 0x100000001B3) ^ (i << 8) ^ salt) / _TWO64

    def pagetype(self, i: int) -> str:
        if i == 0:
            return "home"
        d = self.depth(i)
        u = self._u(i, 1)
        if d == 0:
            return "other"
        if d == 1:
            return "category" if u < 0.75 else "other"
        if u < 0.5:
            return "product"
        if u < 0.75:
            return "article"
        if u < 0.85:
            return "category"
        return "other"

    def http_code(self, i: int) -> int:
        if i == 0:
            return 200
        u = self._u(i, 2)
        if u < 0.93:
            return 200
        if u < 0.97:
            return 301
        return 404

    def canonical_equal(self, i: int) -> bool:
        return i == 0 or self._u(i, 4) < 0.9

    def is_compliant(self, i: int) -> bool:
        if i == 0:
            return True
        return self.http_code(i) == 200 and self.canonical_equal(i) and self._u(i, 3) < 0.95

    def canonical_url(self, i: int) -> str:
        """The URL itself when canonical to itself, else a deterministic other URL."""
        if self.canonical_equal(i) or self.n_urls < 2:
            return self.url(i)
        other = int(self._u(i, 8) * (self.n_urls - 1)) + 1
        return self.url(other if other != i else 0)

    def unique_inlinks(self, i: int) -> int:
        # Every link of the graph has a distinct (source, target) pair: unique == total.
        return self.inlink_count(i)

    def _ensure_pagerank(self) -> tuple[list[float], array]:
        """Stand-in for Botify's internal PageRank: a log scale of in-degree, and its rank."""
        if self._pagerank is None:
            inl = self._ensure_inlinks()
            with self._lock:
                if self._pagerank is None:
                    top = math.log1p(max(inl) if len(inl) else 0) or 1.0
                    values = [round(10.0 * math.log1p(n) / top, 6) for n in inl]
                    order = sorted(range(self.n_urls), key=lambda k: (-inl[k], k))
                    position = array("i", bytes(4 * self.n_urls))
                    for rank, k in enumerate(order, 1):
                        position[k] = rank
                    self._pagerank = (values, position)
        return self._pagerank

    def pagerank_value(self, i: int) -> float:
        return self._ensure_pagerank()[0][i]

    def pagerank_position(self, i: int) -> int:
        return self._ensure_pagerank()[1][i]

    def pagerank_raw(self, i: int) -> float:
        inl = self._ensure_inlinks()
        return (inl[i] + 1) / (len(self._targets or ()) + self.n_urls)

    def in_sitemap(self, i: int) -> bool:
        if i == 0:
            return True
        return self._u(i, 5) < (0.8 if self.is_compliant(i) else 0.1)

    def title(self, i: int) -> str:
        if i == 0:
            return "Home"
        d = self.depth(i)
        return f"Page {i - self._starts[d]}, depth {d}"

    def gsc_impressions(self, i: int, period: int = 0) -> int:
        if i == 0:
            base = 50_000
        elif not self.is_compliant(i):
            base = 0
        else:
            d = self.depth(i)
            base = int((self._u(i, 6) ** 3) * 20_000 / (d + 1) ** 2)
        if period:
            base = int(base * (0.8 + 0.4 * self._u(i, 100 + period)))
        return base

    def gsc_clicks(self, i: int, period: int = 0) -> int:
        return int(self.gsc_impressions(i, period) * 0.1 * self._u(i, 7))

    # -- totals -------------------------------------------------------------------------------

    def _depth_end(self, max_depth: int | None) -> int:
        if max_depth is None:
            return self.n_urls
        if max_depth < 0:
            return 0
        return self._starts[min(max_depth, self.max_depth) + 1]

    def url_count(self, max_depth: int | None = None) -> int:
        """Number of URLs with depth <= max_depth (all when None)."""
        return self._depth_end(max_depth)

    def edge_count(self, max_depth: int | None = None) -> int:
        """Sum of the out-degrees of URLs with depth <= max_depth (all when None)."""
        self._ensure_built()
        return self._offsets[self._depth_end(max_depth)]

    def iter_edges(self, max_depth: int | None = None) -> Iterator[tuple[str, str]]:
        """(source URL, target URL) for every edge whose source has depth <= max_depth."""
        self._ensure_built()
        urls = self._url_list()
        off, tg = self._offsets, self._targets
        for i in range(self._depth_end(max_depth)):
            src = urls[i]
            for t in tg[off[i] : off[i + 1]]:
                yield src, urls[t]


# ---------------------------------------------------------------------------------------------
# Errors, records, injections
# ---------------------------------------------------------------------------------------------


class ApiError(Exception):
    """Raised inside handlers; turned into the Botify error envelope."""

    def __init__(self, status: int, code: int | str, message: str, detail: Any = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = str(code)
        self.message = message
        self.detail = detail


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
class Injection:
    """A queued fault; see :meth:`BotifySimulator.inject`."""

    status: int
    path: Any = None
    method: str | None = None
    body: str = "json"
    retry_after: float | int | str | None = None
    times: int | None = 1
    message: str | None = None
    code: str | int | None = None
    served: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.served)

    def matches(self, rec: RecordedRequest, is_api: bool) -> bool:
        if self.times is not None and self.served >= self.times:
            return False
        if self.method and rec.method.upper() != self.method.upper():
            return False
        if self.path is None:
            return is_api
        if isinstance(self.path, re.Pattern):
            return bool(self.path.search(rec.path))
        if self.path in rec.path:
            return True
        try:
            return bool(re.search(self.path, rec.path))
        except re.error:
            return False


@dataclass
class _Response:
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


_PER_DOWNLOAD_FAULTS = ("truncated", "drop", "forbidden", "not_found")


def _byte_range(header: str | None) -> tuple[int, int | None] | None:
    """`bytes=N-` or `bytes=N-M` (one range only); anything else is ignored, as S3 does."""
    match = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", header or "")
    if not match:
        return None
    start, end = int(match.group(1)), match.group(2)
    if end and int(end) < start:
        return None
    return start, int(end) if end else None


_INJECT_CODES = {
    400: ("1020", "Badly formatted request"),
    401: ("1001", "Not Authorized"),
    403: ("1002", "Permission denied"),
    404: ("1010", "Project was not found"),
    429: ("1053", "Too many requests"),
}

_HTML_ERROR = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message>"
    "<RequestId>FAKE{rid:016X}</RequestId><HostId>fakebotify</HostId></Error>"
)


# ---------------------------------------------------------------------------------------------
# Projects and analyses
# ---------------------------------------------------------------------------------------------

_ANALYSIS_STATUSES = ("preparing", "crawling", "crawling_paused", "analyzing", "success", "failed")
_MONTHS = (
    "Jan.",
    "Feb.",
    "Mar.",
    "Apr.",
    "May",
    "Jun.",
    "Jul.",
    "Aug.",
    "Sep.",
    "Oct.",
    "Nov.",
    "Dec.",
)


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _slug_datetime(slug: str) -> datetime:
    m = re.match(r"(\d{4})(\d{2})(\d{2})(?:-(\d+))?", slug)
    if not m:
        return datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
    y, mo, d, n = m.groups()
    try:
        base = datetime(int(y), int(mo), int(d), 6, 0, tzinfo=UTC)
    except ValueError:
        return datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
    return base + timedelta(hours=int(n) if n else 0)


def _parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _analysis_name(dt: datetime, slug: str) -> str:
    name = f"{dt.year} {_MONTHS[dt.month - 1]} {_ordinal(dt.day)}"
    m = re.search(r"-(\d+)$", slug)
    return f"{name} ({m.group(1)})" if m else name


@dataclass
class _Analysis:
    slug: str
    status: str
    date_launched: datetime
    name: str
    graph: SyntheticGraph
    pk: int
    friendly_name: str | None = None

    @property
    def date_finished(self) -> datetime | None:
        if self.status in ("success", "failed"):
            return self.date_launched + timedelta(hours=3, minutes=12, seconds=48.145643)
        return None

    def light(self, org: str, project: str) -> dict[str, Any]:
        done = self.graph.n_urls
        if self.status != "success":
            done = done // 3 if self.status != "failed" else done // 10
        finished = self.date_finished
        last_modified = (finished or self.date_launched) + timedelta(microseconds=24)
        return {
            "pk": self.pk,
            "slug": self.slug,
            "name": self.name,
            "friendly_name": self.friendly_name,
            "url": f"https://app.botify.com/{org}/{project}/{self.slug}/",
            "status": self.status,
            "urls_done": done,
            "urls_in_queue": 0
            if self.status in ("success", "failed")
            else self.graph.n_urls - done,
            "date_launched": _iso(self.date_launched),
            "date_finished": _iso(finished),
            "date_last_modified": _iso(last_modified),
            "date_created": _iso(self.date_launched - timedelta(seconds=1)),
            "to_be_deleted_at": None,
            "comparable": self.status == "success",
            "excluded_from_trends": False,
            "has_raw_pages": False,
        }


@dataclass
class _Project:
    org: str
    slug: str
    name: str
    org_name: str
    analyses: list[_Analysis]
    has_search_console: bool
    date_created: datetime
    pk: int
    active: bool = True

    def analysis(self, slug: str) -> _Analysis | None:
        for a in self.analyses:
            if a.slug == slug:
                return a
        return None

    def sorted_analyses(self) -> list[_Analysis]:
        return sorted(self.analyses, key=lambda a: a.date_launched, reverse=True)

    def successful(self) -> list[_Analysis]:
        return [a for a in self.sorted_analyses() if a.status == "success"]


# ---------------------------------------------------------------------------------------------
# BQL evaluation
# ---------------------------------------------------------------------------------------------

_LABEL_OVERRIDES = {
    "url": "Full URL",
    "depth": "Depth",
    "http_code": "HTTP Status Code",
    "metadata.title.content": "Title",
    "outlinks_internal.nb.total": "No. of Internal Outlinks",
    "inlinks_internal.nb.total": "No. of Internal Inlinks",
    "outlinks_internal.nb.unique": "No. of Unique Internal Outlinks",
    "inlinks_internal.nb.unique": "No. of Unique Internal Inlinks",
    "canonical.to.url": "Canonical To",
    "internal_page_rank.value": "Internal PageRank",
    "internal_page_rank.position": "Internal PageRank Position",
    "internal_page_rank.raw": "Internal PageRank (raw)",
    "segments.pagetype.value": "Pagetype",
    "segments.pagetype.depth_1": "Pagetype (depth 1)",
    "compliant.is_compliant": "Is Compliant",
    "sitemaps.present": "Present in Sitemaps",
    "count_urls_crawl": "No. of URLs Crawled",
    "count_impressions": "Impressions",
    "count_clicks": "Clicks",
}
_WORD_OVERRIDES = {"url": "URL", "urls": "URLs", "http": "HTTP", "nb": "No.", "gsc": "GSC"}


def _derive_label(short: str) -> str:
    """Human label from a slug, e.g. ``outlinks_internal.graph.url`` -> ``Outlinks Internal Graph URL``."""
    if short in _LABEL_OVERRIDES:
        return _LABEL_OVERRIDES[short]
    words = [w for w in re.split(r"[._]+", short) if w]
    return " ".join(_WORD_OVERRIDES.get(w.lower(), w[:1].upper() + w[1:]) for w in words)


def _g_depth(g: SyntheticGraph, i: int) -> int:
    return g.depth(i)


# slug suffix -> (kind, getter(graph, id)); kind: int | bool | str | list | count
_CRAWL_FIELDS: dict[str, tuple[str, Callable[[SyntheticGraph, int], Any]]] = {
    "url": ("str", SyntheticGraph.url),
    "depth": ("int", _g_depth),
    "http_code": ("int", SyntheticGraph.http_code),
    "metadata.title.content": ("str", SyntheticGraph.title),
    "outlinks_internal.nb.total": ("int", SyntheticGraph.out_degree_of),
    "outlinks_internal.graph.url": ("list", SyntheticGraph.outlink_urls),
    "outlinks_internal.nb.unique": ("int", SyntheticGraph.out_degree_of),
    "inlinks_internal.nb.total": ("int", SyntheticGraph.inlink_count),
    "inlinks_internal.nb.unique": ("int", SyntheticGraph.unique_inlinks),
    "canonical.to.url": ("str", SyntheticGraph.canonical_url),
    "internal_page_rank.value": ("float", SyntheticGraph.pagerank_value),
    "internal_page_rank.position": ("int", SyntheticGraph.pagerank_position),
    "internal_page_rank.raw": ("float", SyntheticGraph.pagerank_raw),
    "segments.pagetype.value": ("str", SyntheticGraph.pagetype),
    "segments.pagetype.depth_1": ("str", SyntheticGraph.pagetype),
    "compliant.is_compliant": ("bool", SyntheticGraph.is_compliant),
    "canonical.to.equal": ("bool", SyntheticGraph.canonical_equal),
    "sitemaps.present": ("bool", SyntheticGraph.in_sitemap),
    "count_urls_crawl": ("count", lambda g, i: 1),
}
_GLOBAL_FIELDS = {
    "segments.pagetype.value": ("str", SyntheticGraph.pagetype),
    "segments.pagetype.depth_1": ("str", SyntheticGraph.pagetype),
}
_GSC_FIELDS = {
    "count_impressions": SyntheticGraph.gsc_impressions,
    "count_clicks": SyntheticGraph.gsc_clicks,
}


def _late_bound(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A SyntheticGraph method looked up on the graph itself, so subclasses (the demo) apply."""
    name = getattr(fn, "__name__", "")
    if getattr(SyntheticGraph, name, None) is not fn:
        return fn
    return lambda g, *args: getattr(g, name)(*args)


_CRAWL_FIELDS = {k: (kind, _late_bound(fn)) for k, (kind, fn) in _CRAWL_FIELDS.items()}
_GLOBAL_FIELDS = {k: (kind, _late_bound(fn)) for k, (kind, fn) in _GLOBAL_FIELDS.items()}
_GSC_FIELDS = {k: _late_bound(fn) for k, fn in _GSC_FIELDS.items()}
_AGG_FUNCS = {
    "sum",
    "count",
    "count_distinct",
    "count_distinct_approx",
    "avg",
    "min",
    "max",
    "count_true",
    "count_false",
    "count_null",
}


@dataclass
class _FieldSpec:
    slug: str
    short: str
    label: str
    get: Callable[[int], Any]
    kind: str
    unique: bool = False

    @property
    def multi(self) -> bool:
        return self.kind == "list"


@dataclass
class _Item:
    slug: str
    short: str
    label: str
    spec: _FieldSpec | None = None
    func: str | None = None  # aggregate (metrics only)
    const: Any = None
    is_const: bool = False

    def value(self, i: int) -> Any:
        if self.is_const:
            return self.const
        return self.spec.get(i)


@dataclass
class _Ctx:
    project: _Project
    collections: list[str]
    crawl: dict[str, SyntheticGraph]
    periods: list
    base: SyntheticGraph


@dataclass
class _Plan:
    ctx: _Ctx
    dims: list[_Item]
    metrics: list[_Item]
    filt: Callable[[int], bool] | None
    sort: list[tuple[int, int, bool]]  # (0 = dimensions / 1 = metrics, index, descending)
    signature: str

    @property
    def unique(self) -> bool:
        return any(d.spec is not None and d.spec.unique for d in self.dims)


def _field_error(slug: Any) -> ApiError:
    return ApiError(400, 1029, "Field does not exist", {"field": slug})


def _bad_query(message: str, **detail: Any) -> ApiError:
    return ApiError(400, 1022, "Badly formatted queries", {"reason": message, **detail})


def _coerce(value: Any, sample: Any) -> Any:
    """Leniently coerce a filter value to the field's type (e.g. "true" -> True)."""
    if isinstance(sample, bool) and isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    if isinstance(sample, int) and not isinstance(sample, bool) and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _make_test(pred: str, value: Any, has_value: bool) -> Callable[[Any], bool]:
    def cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any], bool]:
        def test(v: Any) -> bool:
            if v is None:
                return False
            try:
                return bool(op(v, _coerce(value, v)))
            except TypeError:
                return False

        return test

    if pred == "eq":
        return lambda v: v == _coerce(value, v)
    if pred == "ne":
        return lambda v: v != _coerce(value, v)
    if pred == "gt":
        return cmp(lambda a, b: a > b)
    if pred == "gte":
        return cmp(lambda a, b: a >= b)
    if pred == "lt":
        return cmp(lambda a, b: a < b)
    if pred == "lte":
        return cmp(lambda a, b: a <= b)
    if pred == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _bad_query("between needs a [low, high] value")
        lo, hi = value

        def between(v: Any) -> bool:
            if v is None:
                return False
            try:
                return _coerce(lo, v) <= v <= _coerce(hi, v)
            except TypeError:
                return False

        return between
    if pred == "in":
        if not isinstance(value, list | tuple):
            raise _bad_query("in needs a list value")
        return lambda v: v in value
    if pred in ("contains", "starts", "ends", "re"):
        if not isinstance(value, str):
            raise _bad_query(f"{pred} needs a string value")
        if pred == "contains":
            return lambda v: v is not None and value in str(v)
        if pred == "starts":
            return lambda v: v is not None and str(v).startswith(value)
        if pred == "ends":
            return lambda v: v is not None and str(v).endswith(value)
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise _bad_query(f"invalid regular expression: {exc}") from None
        return lambda v: v is not None and rx.search(str(v)) is not None
    if pred in ("exists", "not_exists"):
        want = True if not has_value or value is None else bool(value)
        if pred == "not_exists":
            want = not want
        return lambda v: (v is not None and v != []) == want
    raise _bad_query(f"unknown predicate {pred!r}")


def _sortable(v: Any) -> tuple:
    if v is None:
        return (1, 0)
    return (0, v)


def _sort_rows(rows: list, sort: list[tuple[int, int, bool]]) -> None:
    for pos, idx, desc in reversed(sort):
        try:
            rows.sort(key=lambda r, p=pos, k=idx: _sortable(r[p][k]), reverse=desc)
        except TypeError:
            rows.sort(key=lambda r, p=pos, k=idx: _sortable(str(r[p][k])), reverse=desc)


def _aggregate(item: _Item, ids: Any) -> Any:
    spec, func = item.spec, item.func
    if spec is None:  # count() with no argument
        return len(ids)
    get = spec.get
    if spec.kind == "count" and func in ("sum", "count"):
        return len(ids)
    if func == "count":
        return sum(1 for i in ids if get(i) is not None)
    if func == "count_null":
        return sum(1 for i in ids if get(i) is None)
    if func == "count_true":
        return sum(1 for i in ids if get(i) is True)
    if func == "count_false":
        return sum(1 for i in ids if get(i) is False)
    if func in ("count_distinct", "count_distinct_approx"):
        seen: set = set()
        for i in ids:
            v = get(i)
            if isinstance(v, list):
                seen.update(v)
            elif v is not None:
                seen.add(v)
        return len(seen)
    values = [v for v in map(get, ids) if v is not None]
    if func == "sum":
        return sum(values)
    if func == "avg":
        return sum(values) / len(values) if values else None
    if func == "min":
        return min(values) if values else None
    if func == "max":
        return max(values) if values else None
    raise _bad_query(f"unsupported function {func!r}")  # pragma: no cover


class _QueryResult:
    """Rows of one /query evaluation (lazy for one-row-per-URL queries without sort)."""

    def __init__(
        self,
        count: int,
        rows: list | None = None,
        ids: Any = None,
        row_fn: Callable[[int], tuple] | None = None,
    ):
        self.count = count
        self._rows = rows
        self._ids = ids
        self._row_fn = row_fn

    def page(self, start: int, stop: int) -> list[tuple]:
        if self._rows is not None:
            return self._rows[start:stop]
        return [self._row_fn(i) for i in self._ids[start:stop]]


# ---------------------------------------------------------------------------------------------
# Export file cache (per process, shared by all FakeBotify instances)
# ---------------------------------------------------------------------------------------------

_EXPORT_LOCK = threading.Lock()
_EXPORT_CACHE: dict[str, Future] = {}
_EXPORT_DIR: str | None = None


def _export_dir() -> str:
    global _EXPORT_DIR
    with _EXPORT_LOCK:
        if _EXPORT_DIR is None:
            _EXPORT_DIR = tempfile.mkdtemp(prefix="fakebotify-exports-")
            atexit.register(shutil.rmtree, _EXPORT_DIR, True)
        return _EXPORT_DIR


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
    server_version = "FakeBotify/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # avoid 40 ms Nagle/delayed-ACK stalls on keep-alive

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
        except OSError:  # BrokenPipe, ConnectionReset, timeouts: the client went away
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
        fake: BotifySimulator = self.server.fake
        body = self._read_body()
        if body is None:
            self.close_connection = True
            body = b""
        rec = fake._record(self.command, self.path, self.headers, body, self.client_address)
        resp = fake._respond(rec)
        rec.status = resp.status
        self._send(resp, head_only=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, resp: _Response, head_only: bool) -> None:
        fake: BotifySimulator = self.server.fake
        if resp.delay > 0:
            fake._stopping.wait(resp.delay)
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
            while remaining > 0 and not fake._stopping.is_set():
                rate = (resp.rate or fake.download_rate) if resp.rate_limited_stream else None
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
                    with contextlib.suppress(OSError):
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------

_Route = tuple[str, re.Pattern, str]
_ROUTES: list[_Route] = [
    ("GET", re.compile(r"/v1/authentication/profile/?"), "_h_profile"),
    ("GET", re.compile(r"/v1/projects/(?P<user>[^/]+)/?"), "_h_projects"),
    (
        "GET",
        re.compile(r"/v1/analyses/(?P<org>[^/]+)/(?P<project>[^/]+)(?P<light>/light)?/?"),
        "_h_analyses",
    ),
    (
        "GET",
        re.compile(r"/v1/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/collections/?"),
        "_h_collections",
    ),
    ("POST", re.compile(r"/v1/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/query/?"), "_h_query"),
    ("POST", re.compile(r"/v1/jobs/?"), "_h_create_job"),
    ("GET", re.compile(r"/v1/jobs/(?P<job_id>[^/]+)/?"), "_h_get_job"),
]


class BotifySimulator:
    """A simulated Botify API server on 127.0.0.1 (port 0 by default), HTTP/1.1 keep-alive.

    Knobs (plain attributes, settable at any time):

    * ``response_delay``: seconds added to every API response (not downloads).
    * ``rate_limit_rps``: more than this many API requests in any 1 s window get 429
      (envelope 1053); ``retry_after_on_rate_limit`` adds ``Retry-After``. Rejected requests
      do not count towards the window.
    * ``polls_before_done``: job polls answered PROCESSING before the terminal one
      (0: the first poll is terminal). ``poll_delay``: extra delay on job polls.
    * ``job_outcome``: ``"done"`` | ``"failed"`` | ``"done_without_results"`` (DONE, results null).
    * ``job_error_message``: the ``error.message`` of a failed job.
    * ``download_fault``: None | ``"truncated"`` (half the bytes, matching Content-Length) |
      ``"forbidden"`` (403 S3 XML) | ``"not_found"`` (404 S3 XML) | ``"empty"`` (header only) |
      ``"short"`` (a valid file with a tenth of the rows, and no ``nb_lines`` in the results) |
      ``"nb_lines_mismatch"`` (a tenth of the rows while ``nb_lines`` gives the full count) |
      ``"drop"`` (the connection closes after half the body, Content-Length announcing all).
      ``empty``, ``short`` and ``nb_lines_mismatch`` are fixed when a job turns DONE.
    * ``download_fault_times``: None (the download fault lasts) or N: only the next N downloads
      get the fault (``truncated``, ``drop``, ``forbidden``, ``not_found``), later ones are fine.
    * ``accept_ranges``: downloads honour ``Range: bytes=N-`` with 206 (default True, like S3
      and CloudFront); False ignores the header and answers 200 with the whole file.
    * ``download_format``: None (zip when extra_config filetype/compression is zip, else gzip)
      | ``"gzip"`` | ``"zip"`` | ``"plain"``. ``download_rate``: bytes/s cap on downloads.
      ``download_seconds``: pace each whole download to last about this long (the demo's
      visible progress); ``download_rate`` wins when both are set.
    * ``error_code_as_number``, ``unauthorized_shape`` (``"envelope"`` | ``"drf"``),
      ``max_export_size`` (1,000,000), ``query_count`` (include ``count`` on /query),
      ``list_page_size``, ``query_page_size``, ``max_page_size``.

    Records: ``requests`` (:class:`RecordedRequest`), ``jobs`` (job_id -> dict with
    ``payload``, ``status``, ``polls``, ``results``...), ``injections``, ``injected_served``.
    """

    def __init__(
        self,
        token: str = "good-token",
        username: str = "jane.doe",
        *,
        list_page_size: int = 10,
        query_page_size: int = 500,
        max_page_size: int = 2000,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token: str | None = token
        self.username = username
        parts = re.split(r"[._-]+", username)
        self.email = email or f"{username}@example.com"
        self.first_name = first_name if first_name is not None else parts[0].capitalize()
        self.last_name = (
            last_name
            if last_name is not None
            else (parts[1].capitalize() if len(parts) > 1 else "")
        )
        self.list_page_size = list_page_size
        self.query_page_size = query_page_size
        self.max_page_size = max_page_size
        # --- knobs -------------------------------------------------------------------------
        self.response_delay: float = 0.0
        self.rate_limit_rps: float | None = None
        self.retry_after_on_rate_limit: float | int | str | None = None
        self.polls_before_done: int = 2
        self.poll_delay: float = 0.0
        self.job_outcome: str = "done"  # "done" | "failed" | "done_without_results"
        self.job_error_message: str = "The export failed"  # the failed job's error.message
        self.download_fault: str | None = None  # see the class docstring
        self.download_fault_times: int | None = None  # None: every download
        self.accept_ranges: bool = True
        self.download_format: str | None = None  # None|"gzip"|"zip"|"plain"
        self.download_rate: float | None = None  # bytes per second
        self.download_seconds: float | None = None  # pace each download to last about this long
        self.error_code_as_number: bool = False
        self.unauthorized_shape: str = "envelope"  # "envelope" | "drf"
        self.max_export_size: int = 1_000_000
        self.query_count: bool = True
        # --- records -----------------------------------------------------------------------
        self.requests: list[RecordedRequest] = []
        self.jobs: dict[int, dict[str, Any]] = {}
        self.injections: list[Injection] = []
        self.injected_served: int = 0
        self.projects: list[_Project] = []
        # --- internals ---------------------------------------------------------------------
        self._bind = (host, port)
        self._lock = threading.RLock()
        self._rate_window: deque[float] = deque()
        self._next_job_id = 100_001
        self._next_pk = 10_001
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._query_cache: OrderedDict[str, _QueryResult] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> BotifySimulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self._bind, _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.name = f"FakeBotify:{server.server_address[1]}"
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

    def __enter__(self) -> BotifySimulator:
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
            raise RuntimeError("The Botify simulator is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """API root, e.g. ``http://127.0.0.1:PORT`` (the API lives under ``/v1``)."""
        return f"http://{self._bind[0]}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _conn_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _conn_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    # -- configuration ------------------------------------------------------------------------

    def add_project(
        self,
        org: str,
        slug: str,
        name: str | None = None,
        analyses: Iterable[str | dict[str, Any]] = ("20241108",),
        graph: SyntheticGraph | dict[str, SyntheticGraph] | None = None,
        has_search_console: bool = False,
        *,
        org_name: str | None = None,
        date_created: str | datetime | None = None,
        active: bool = True,
    ) -> _Project:
        """Register a project.

        ``analyses``: strings (status success, dates from the slug) or dicts with ``slug`` and
        optional ``status``, ``date_launched``, ``name``, ``friendly_name``, ``graph``.
        ``graph``: one graph for every analysis, or ``{slug: graph}``; analyses without a graph
        use a small default graph for the project's host.
        """
        default_graph = None
        if isinstance(graph, SyntheticGraph):
            default_graph = graph
        if default_graph is None:
            host = "https://" + slug if "." in slug else "https://example.com"
            default_graph = SyntheticGraph([1, 5, 25], out_degree=(2, 5), seed=slug, host=host)
        graph_map = graph if isinstance(graph, dict) else {}
        items: list[_Analysis] = []
        for entry in analyses:
            spec = {"slug": entry} if isinstance(entry, str) else dict(entry)
            a_slug = spec["slug"]
            status = spec.get("status", "success")
            if status not in _ANALYSIS_STATUSES:
                raise ValueError(f"unknown analysis status {status!r}")
            launched = (
                _parse_dt(spec["date_launched"])
                if spec.get("date_launched")
                else _slug_datetime(a_slug)
            )
            items.append(
                _Analysis(
                    slug=a_slug,
                    status=status,
                    date_launched=launched,
                    name=spec.get("name") or _analysis_name(launched, a_slug),
                    graph=spec.get("graph") or graph_map.get(a_slug) or default_graph,
                    pk=self._alloc_pk(),
                    friendly_name=spec.get("friendly_name"),
                )
            )
        if date_created is None:
            created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        else:
            created = _parse_dt(date_created)
        base_org = re.sub(r"-org$", "", org)
        project = _Project(
            org=org,
            slug=slug,
            name=name or slug,
            org_name=org_name or base_org.replace("-", " ").title(),
            analyses=items,
            has_search_console=has_search_console,
            date_created=created,
            pk=self._alloc_pk(),
            active=active,
        )
        with self._lock:
            self.projects = [p for p in self.projects if not (p.org == org and p.slug == slug)]
            self.projects.append(project)
            self._query_cache.clear()
        return project

    def _alloc_pk(self) -> int:
        with self._lock:
            pk = self._next_pk
            self._next_pk += 1
            return pk

    def project(self, org: str, slug: str) -> _Project | None:
        with self._lock:
            for p in self.projects:
                if p.org == org and p.slug == slug:
                    return p
        return None

    def revoke_token(self) -> None:
        """Invalidate the token: every API call now gets 401 (downloads still work)."""
        self.token = None

    def inject(
        self,
        status: int,
        *,
        path: Any = None,
        method: str | None = None,
        body: str = "json",
        retry_after: float | int | str | None = None,
        times: int | None = 1,
        message: str | None = None,
        code: str | int | None = None,
    ) -> Injection:
        """Queue a fault for the next ``times`` matching requests (``times=None``: forever).

        ``path``: substring or regex (str or compiled) searched in the request path; ``None``
        matches every API request (not downloads). ``body``: ``"json"`` (error envelope),
        ``"html"`` or ``"empty"``. ``retry_after`` adds a ``Retry-After`` header.
        """
        if body not in ("json", "html", "empty"):
            raise ValueError("body must be 'json', 'html' or 'empty'")
        inj = Injection(
            status=int(status),
            path=path,
            method=method,
            body=body,
            retry_after=retry_after,
            times=times,
            message=message,
            code=code,
        )
        with self._lock:
            self.injections.append(inj)
        return inj

    def clear_injections(self) -> None:
        with self._lock:
            self.injections.clear()

    def find_requests(self, path: str | None = None, method: str | None = None) -> list:
        """Recorded requests whose path contains ``path`` (and with ``method``)."""
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if (path is None or path in r.path) and (method is None or r.method == method.upper())
        ]

    # -- request entry point ------------------------------------------------------------------

    def _record(
        self, method: str, raw_path: str, headers: Any, body: bytes, client: Any = None
    ) -> RecordedRequest:
        split = urlsplit(raw_path)
        parsed_json = None
        if body:
            try:
                parsed_json = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed_json = None
        rec = RecordedRequest(
            method=method.upper(),
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in headers.items()},
            json=parsed_json,
            time=time.monotonic(),
            body=body,
            raw_path=raw_path,
            client=tuple(client) if client else None,
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    def _respond(self, rec: RecordedRequest) -> _Response:
        is_api = not rec.path.startswith("/downloads/")
        try:
            inj = self._take_injection(rec, is_api)
            if inj is not None:
                resp = self._injected_response(inj)
            elif not is_api:
                resp = self._download(rec)
            elif self._rate_limited(rec):
                headers = []
                if self.retry_after_on_rate_limit is not None:
                    headers.append(("Retry-After", str(self.retry_after_on_rate_limit)))
                resp = self._json(429, self._envelope("1053", "Too many requests"), headers)
            else:
                resp = self._route(rec)
        except ApiError as exc:
            resp = self._error_response(exc)
        except Exception:  # a bug in the simulator: make it visible
            self.report_bug()
            resp = self._json(500, self._envelope("1000", "Unknown error"))
        if is_api:
            resp.delay += float(self.response_delay or 0.0)
        return resp

    def report_bug(self) -> None:
        """An exception inside a handler (answered 500): printed here, logged by the demo."""
        traceback.print_exc()

    def _take_injection(self, rec: RecordedRequest, is_api: bool) -> Injection | None:
        with self._lock:
            for inj in self.injections:
                if inj.matches(rec, is_api):
                    inj.served += 1
                    self.injected_served += 1
                    rec.injected = True
                    return inj
        return None

    def _rate_limited(self, rec: RecordedRequest) -> bool:
        rps = self.rate_limit_rps
        if rps is None:
            return False
        now = rec.time
        with self._lock:
            window = self._rate_window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= rps:
                return True
            window.append(now)
            return False

    def _route(self, rec: RecordedRequest) -> _Response:
        for method, rx, handler in _ROUTES:
            m = rx.fullmatch(rec.path)
            if m and rec.method in (method, "HEAD" if method == "GET" else method):
                self._check_auth(rec)
                params = {k: unquote(v) if v else v for k, v in m.groupdict().items()}
                return getattr(self, handler)(rec, **params)
        raise ApiError(404, 1000, "Not found", {"path": rec.path, "method": rec.method})

    def _check_auth(self, rec: RecordedRequest) -> None:
        header = rec.headers.get("authorization")
        if not header:
            raise ApiError(
                401,
                1001,
                "Not Authorized",
                {"drf": "Authentication credentials were not provided."},
            )
        parts = header.strip().split(None, 1)
        if (
            len(parts) != 2
            or parts[0].lower() != "token"
            or self.token is None
            or parts[1].strip() != self.token
        ):
            raise ApiError(401, 1001, "Not Authorized", {"drf": "Invalid token."})

    # -- response helpers ---------------------------------------------------------------------

    def _envelope(self, code: str | int, message: str, detail: Any = None) -> dict[str, Any]:
        err: dict[str, Any] = {
            "error_code": int(code) if self.error_code_as_number else str(code),
            "message": message,
        }
        if detail is not None:
            err["error_detail"] = detail
        return {"error": err}

    @staticmethod
    def _json(status: int, payload: Any, headers: list | None = None) -> _Response:
        body = json.dumps(payload).encode("utf-8")
        return _Response(status, body, [("Content-Type", "application/json"), *(headers or [])])

    def _unauthorized(self, drf_detail: str = "Invalid token.") -> _Response:
        headers = [("WWW-Authenticate", 'Token realm="api"')]
        if self.unauthorized_shape == "drf":
            return self._json(401, {"detail": drf_detail}, headers)
        return self._json(401, self._envelope("1001", "Not Authorized"), headers)

    def _error_response(self, exc: ApiError) -> _Response:
        if exc.status == 401:
            drf = exc.detail.get("drf") if isinstance(exc.detail, dict) else None
            return self._unauthorized(drf or "Invalid token.")
        return self._json(exc.status, self._envelope(exc.code, exc.message, exc.detail))

    def _injected_response(self, inj: Injection) -> _Response:
        headers: list[tuple[str, str]] = []
        if inj.retry_after is not None:
            headers.append(("Retry-After", str(inj.retry_after)))
        status = inj.status
        if inj.body == "empty":
            return _Response(status, b"", headers)
        if inj.body == "html":
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            html = _HTML_ERROR.format(code=status, phrase=phrase).encode()
            return _Response(status, html, [("Content-Type", "text/html"), *headers])
        if status == 401 and self.unauthorized_shape == "drf" and inj.code is None:
            resp = self._unauthorized(inj.message or "Invalid token.")
            resp.headers.extend(headers)
            return resp
        code, message = _INJECT_CODES.get(status, ("1000", "Unknown error"))
        if inj.code is not None:
            code = str(inj.code)
        if status == 401:
            headers.append(("WWW-Authenticate", 'Token realm="api"'))
        return self._json(status, self._envelope(code, inj.message or message), headers)

    def _page_params(self, rec: RecordedRequest, default_size: int) -> tuple[int, int]:
        try:
            page = int(rec.query.get("page") or 1)
            size = int(rec.query.get("size") or default_size)
        except ValueError:
            raise ApiError(
                400, 1020, "Badly formatted request", {"page/size": "must be integers"}
            ) from None
        if page < 1:
            raise ApiError(400, 1020, "Badly formatted request", {"page": "must be >= 1"})
        size = max(1, min(size, self.max_page_size))
        return page, size

    def _page_url(self, rec: RecordedRequest, page: int, size: int) -> str:
        pairs = [
            (k, v)
            for k, v in parse_qsl(urlsplit(rec.raw_path).query, keep_blank_values=True)
            if k not in ("page", "size")
        ]
        pairs += [("page", str(page)), ("size", str(size))]
        return f"{self.base_url}{rec.path}?{urlencode(pairs)}"

    def _paginated(
        self,
        rec: RecordedRequest,
        count: int,
        fetch: Callable[[int, int], list],
        default_size: int,
        include_count: bool = True,
    ) -> dict[str, Any]:
        page, size = self._page_params(rec, default_size)
        start = (page - 1) * size
        results = fetch(start, start + size) if start < count else []
        payload: dict[str, Any] = {}
        if include_count:
            payload["count"] = count
        payload["next"] = self._page_url(rec, page + 1, size) if start + size < count else None
        payload["previous"] = self._page_url(rec, page - 1, size) if page > 1 else None
        payload["page"] = page
        payload["size"] = size
        payload["results"] = results
        return payload

    def _get_project(self, org: str, slug: str) -> _Project:
        p = self.project(org, slug)
        if p is None:
            raise ApiError(404, 1010, "Project was not found", {"project": f"{org}/{slug}"})
        return p

    # -- handlers -----------------------------------------------------------------------------

    def _h_profile(self, rec: RecordedRequest) -> _Response:
        return self._json(
            200,
            {
                "data": {
                    "username": self.username,
                    "email": self.email,
                    "first_name": self.first_name,
                    "last_name": self.last_name,
                }
            },
        )

    def _project_json(self, p: _Project) -> dict[str, Any]:
        graph = p.analyses[0].graph if p.analyses else None
        site = graph.host + "/" if graph else f"https://{p.slug}/"
        org_email = f"{p.org}@example.com"
        return {
            "pk": p.pk,
            "name": p.name,
            "slug": p.slug,
            "active": p.active,
            "date_created": _iso(p.date_created),
            "url": f"https://app.botify.com/{p.org}/{p.slug}/",
            "has_crawl": bool(p.analyses),
            "has_logs": False,
            "user": {
                "login": p.org,
                "email": org_email,
                "is_organization": True,
                "url": f"https://app.botify.com/{p.org}/",
                "date_joined": _iso(p.date_created - timedelta(days=30)),
                "first_name": "",
                "last_name": "",
                "company_name": p.org_name,
            },
            "organization": {
                "slug": p.org,
                "name": p.org_name,
                "is_organization": True,
                "email": org_email,
                "owner": {
                    "username": self.username,
                    "email": self.email,
                    "first_name": self.first_name,
                    "last_name": self.last_name,
                },
            },
            "current_settings": {"url": site},
            "webproperty": {"url": site},
        }

    def _h_projects(self, rec: RecordedRequest, user: str) -> _Response:
        with self._lock:
            projects = list(self.projects)
        if user == self.username:
            selected = projects
        else:
            selected = [p for p in projects if p.org == user]
            if not selected:
                raise ApiError(404, 1007, "User was not found", {"username": user})
        name = rec.query.get("name")
        if name:
            selected = [p for p in selected if name.lower() in p.name.lower()]
        items = [self._project_json(p) for p in selected]
        return self._json(
            200,
            self._paginated(rec, len(items), lambda a, b: items[a:b], self.list_page_size),
        )

    def _analysis_full(self, a: _Analysis, p: _Project) -> dict[str, Any]:
        item = a.light(p.org, p.slug)
        item.update(
            {
                "id": a.pk,
                "user": {
                    "username": self.username,
                    "first_name": self.first_name,
                    "last_name": self.last_name,
                    "email": self.email,
                    "full_name": f"{self.first_name} {self.last_name}".strip(),
                },
                "owner": {"username": p.org, "is_organization": True},
                "computing_revision": 1,
                "features": {
                    "main": {"lang": True},
                    "links": {"chains": True},
                    "segments": {"names": ["pagetype"]},
                    "search_engines": {"search_console": p.has_search_console},
                    "sitemaps": {"urls": True},
                },
                "config": {"start_urls": [a.graph.host + "/"], "max_depth": a.graph.max_depth},
                "date_crawl_done": _iso(a.date_finished),
                "failures": [] if a.status != "failed" else ["crawl failed"],
                "red_button_domain": None,
                "import_keywords_data": False,
                "import_keywords_data_by_country": False,
                "crawl_launch_type": "manual",
            }
        )
        return item

    def _h_analyses(
        self, rec: RecordedRequest, org: str, project: str, light: str | None
    ) -> _Response:
        p = self._get_project(org, project)
        only_success = rec.query.get("only_success", "true").strip().lower() not in (
            "false",
            "0",
            "no",
            "off",
        )
        analyses = p.sorted_analyses()
        if only_success:
            analyses = [a for a in analyses if a.status == "success"]
        if light:
            items = [a.light(p.org, p.slug) for a in analyses]
        else:
            items = [self._analysis_full(a, p) for a in analyses]
            fields = rec.query.get("fields")
            if fields:
                wanted = [f.strip() for f in fields.split(",") if f.strip()]
                items = [{k: it[k] for k in wanted if k in it} for it in items]
        return self._json(
            200,
            self._paginated(rec, len(items), lambda a, b: items[a:b], self.list_page_size),
        )

    def _h_collections(self, rec: RecordedRequest, org: str, project: str) -> _Response:
        p = self._get_project(org, project)
        out = []
        success = p.successful()
        for a in success:
            out.append(
                {
                    "id": f"crawl.{a.slug}",
                    "name": a.name,
                    "date": a.date_launched.strftime("%Y-%m-%d"),
                    "timestamped": False,
                }
            )
        if p.has_search_console:
            latest = success[0].date_launched if success else datetime(2024, 1, 1, tzinfo=UTC)
            out.append(
                {
                    "id": "search_console",
                    "name": "Search Console",
                    "date": latest.strftime("%Y-%m-%d"),
                    "timestamped": True,
                    "date_start": (latest - timedelta(days=480)).strftime("%Y-%m-%d"),
                    "date_end": (latest - timedelta(days=2)).strftime("%Y-%m-%d"),
                }
            )
        return self._json(200, out)

    # -- BQL ----------------------------------------------------------------------------------

    def _resolve_field(self, ctx: _Ctx, slug: Any) -> _FieldSpec:
        if not isinstance(slug, str):
            raise _field_error(slug)
        base = ctx.base
        if slug == "url":
            return _FieldSpec("url", "url", "Full URL", base.url, "str", unique=True)
        if slug in _GLOBAL_FIELDS:
            kind, fn = _GLOBAL_FIELDS[slug]
            return _FieldSpec(slug, slug, _derive_label(slug), lambda i: fn(base, i), kind)
        m = re.fullmatch(r"crawl\.([^.]+)\.(.+)", slug)
        if m:
            a_slug, rest = m.groups()
            graph = ctx.crawl.get(a_slug)
            if graph is None or rest not in _CRAWL_FIELDS:
                raise _field_error(slug)
            kind, fn = _CRAWL_FIELDS[rest]
            if graph is base:

                def get(i: int, fn: Callable = fn, g: SyntheticGraph = graph) -> Any:
                    return fn(g, i)
            else:

                def get(i: int, fn: Callable = fn, g: SyntheticGraph = graph) -> Any:
                    j = g.index_of(base.url(i))
                    return None if j is None else fn(g, j)

            unique = rest == "url" and graph is base
            return _FieldSpec(slug, rest, _derive_label(rest), get, kind, unique=unique)
        m = re.fullmatch(r"search_console\.period_(\d+)\.(.+)", slug)
        if m:
            period, rest = int(m.group(1)), m.group(2)
            if (
                "search_console" not in ctx.collections
                or period >= len(ctx.periods)
                or rest not in _GSC_FIELDS
            ):
                raise _field_error(slug)
            fn = _GSC_FIELDS[rest]
            short = f"period_{period}.{rest}"
            return _FieldSpec(
                slug, short, _derive_label(rest), lambda i: fn(base, i, period), "int"
            )
        raise _field_error(slug)

    def _compile_item(self, ctx: _Ctx, raw: Any, role: str) -> _Item:
        func: str | None = None
        args: list = []
        if isinstance(raw, str):
            slug = raw
        elif isinstance(raw, dict) and "field" in raw:
            slug = raw["field"]
        elif isinstance(raw, dict) and "literal" in raw:
            if role != "dimension":
                raise _bad_query("literal metrics are not supported", item=raw)
            v = raw["literal"]
            return _Item(str(v), str(v), str(v), const=v, is_const=True)
        elif isinstance(raw, dict) and "function" in raw:
            func = raw["function"]
            args = raw.get("args") or []
            if not isinstance(args, list):
                args = [args]
            slug = None
        elif isinstance(raw, dict) and len(raw) == 1:
            func, arg = next(iter(raw.items()))
            args = arg if isinstance(arg, list) else [arg]
            slug = None
        else:
            raise _bad_query("unrecognised item", item=raw)

        if func is None:
            spec = self._resolve_field(ctx, slug)
            if role == "dimension":
                if spec.kind == "count":
                    raise ApiError(
                        400, 1044, "Query can not be executed", {"reason": f"{slug} is a metric"}
                    )
                return _Item(spec.slug, spec.short, spec.label, spec)
            default = {"int": "sum", "float": "sum", "count": "sum", "bool": "count_true"}.get(
                spec.kind, "count"
            )
            return _Item(spec.slug, spec.short, spec.label, spec, func=default)

        if not isinstance(func, str) or func not in _AGG_FUNCS or role != "metric":
            raise ApiError(
                400,
                1044,
                "Query can not be executed",
                {"reason": f"function {func!r} is not supported here ({role})"},
            )
        if len(args) > 1:
            raise _bad_query(f"{func} takes one argument", item=raw)
        if not args:
            if func != "count":
                raise _bad_query(f"{func} needs an argument", item=raw)
            return _Item("count()", "count()", "Count", None, func="count")
        arg = args[0]
        arg_slug = arg.get("field") if isinstance(arg, dict) else arg
        spec = self._resolve_field(ctx, arg_slug)
        if func in ("sum", "avg") and spec.kind not in ("int", "float", "count", "bool"):
            raise ApiError(
                400, 1044, "Query can not be executed", {"reason": f"{func} on {spec.slug}"}
            )
        if func in ("min", "max") and spec.kind == "list":
            raise ApiError(
                400, 1044, "Query can not be executed", {"reason": f"{func} on {spec.slug}"}
            )
        label = f"{func.replace('_', ' ').capitalize()} of {spec.label}"
        return _Item(f"{func}({spec.slug})", f"{func}({spec.short})", label, spec, func=func)

    def _compile_filter(self, ctx: _Ctx, f: Any) -> Callable[[int], bool] | None:
        if f is None or f == {}:
            return None
        if not isinstance(f, dict):
            raise _bad_query("a filter must be an object", filter=f)
        if "and" in f or "or" in f:
            op = "and" if "and" in f else "or"
            parts = f[op]
            if not isinstance(parts, list):
                raise _bad_query(f"{op} needs a list", filter=f)
            subs = [s for s in (self._compile_filter(ctx, x) for x in parts) if s is not None]
            if not subs:
                return None
            if op == "and":
                return lambda i: all(s(i) for s in subs)
            return lambda i: any(s(i) for s in subs)
        if "not" in f:
            inner = f["not"]
            sub = self._compile_filter(ctx, {"and": inner} if isinstance(inner, list) else inner)
            if sub is None:
                return lambda i: False
            return lambda i: not sub(i)
        if "field" not in f:
            raise _bad_query("unrecognised filter", filter=f)
        slug = f["field"]
        if isinstance(slug, dict):
            slug = slug.get("field")
        spec = self._resolve_field(ctx, slug)
        if spec.kind == "count":
            raise ApiError(
                400, 1044, "Query can not be executed", {"reason": f"cannot filter on {slug}"}
            )
        pred = f.get("predicate") or "eq"
        if not isinstance(pred, str):
            raise _bad_query("predicate must be a string", filter=f)
        mode = "any"
        if pred.startswith("any."):
            pred = pred[4:]
        elif pred.startswith("all."):
            mode, pred = "all", pred[4:]
        test = _make_test(pred, f.get("value"), "value" in f)
        get = spec.get
        if spec.multi and pred not in ("exists", "not_exists"):
            if mode == "all":
                return lambda i: all(test(x) for x in (get(i) or []))
            return lambda i: any(test(x) for x in (get(i) or []))
        return lambda i: test(get(i))

    def _compile_sort(
        self, sort: Any, dims: list[_Item], metrics: list[_Item]
    ) -> list[tuple[int, int, bool]]:
        if sort is None:
            return []
        if not isinstance(sort, list):
            sort = [sort]
        out = []
        for s in sort:
            if isinstance(s, int) and not isinstance(s, bool):
                pos, idx, order = 0, s, "asc"
            elif isinstance(s, dict) and "field" in s:
                fslug = s["field"]
                order = s.get("order", "asc")
                found = None
                for p, items in ((0, dims), (1, metrics)):
                    for k, it in enumerate(items):
                        if fslug in (it.slug, it.short) or (it.spec and fslug == it.spec.slug):
                            found = (p, k)
                            break
                    if found:
                        break
                if found is None:
                    raise _bad_query("sort field is neither a dimension nor a metric", sort=s)
                pos, idx = found
            elif isinstance(s, dict):
                typ = s.get("type", "dimensions")
                if typ not in ("dimensions", "dimension", "metrics", "metric"):
                    raise _bad_query("bad sort type", sort=s)
                pos = 0 if typ.startswith("dimension") else 1
                idx = s.get("index", 0)
                order = s.get("order", "asc")
            else:
                raise _bad_query("bad sort item", sort=s)
            if not isinstance(idx, int) or not 0 <= idx < len(dims if pos == 0 else metrics):
                raise _bad_query("sort index out of range", sort=s)
            if order not in ("asc", "desc"):
                raise _bad_query("sort order must be asc or desc", sort=s)
            out.append((pos, idx, order == "desc"))
        return out

    def _compile_query(self, project: _Project, body: Any) -> _Plan:
        if not isinstance(body, dict):
            raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON object expected"})
        if "query" not in body:
            raise ApiError(400, 1021, "Query not found on request")
        collections = body.get("collections")
        if (
            not isinstance(collections, list)
            or not collections
            or not all(isinstance(c, str) for c in collections)
        ):
            raise _bad_query("collections must be a non-empty list of collection ids")
        q = body["query"]
        if not isinstance(q, dict):
            raise _bad_query("query must be an object")
        for key in ("dimensions", "metrics"):
            if key not in q:
                raise _bad_query(f"{key} is required", missing=key)
            if not isinstance(q[key], list):
                raise _bad_query(f"{key} must be a list")
        crawl: dict[str, SyntheticGraph] = {}
        for c in collections:
            if c.startswith("crawl."):
                a = project.analysis(c[len("crawl.") :])
                if a is None or a.status != "success":
                    raise ApiError(404, 1004, "Analysis was not found", {"collection": c})
                crawl[a.slug] = a.graph
            elif c == "search_console":
                if not project.has_search_console:
                    raise _bad_query("unknown collection", collection=c)
            else:
                raise _bad_query("unknown collection", collection=c)
        periods = body.get("periods")
        if "search_console" in collections:
            ok = (
                isinstance(periods, list)
                and periods
                and all(
                    isinstance(p, list | tuple)
                    and len(p) == 2
                    and all(isinstance(x, str) for x in p)
                    for p in periods
                )
            )
            if not ok:
                raise _bad_query("periods ([[start, end], ...]) are required for search_console")
        if crawl:
            base = crawl[next(c[len("crawl.") :] for c in collections if c.startswith("crawl."))]
        else:
            success = project.successful()
            if success:
                base = success[0].graph
            elif project.analyses:
                base = project.analyses[0].graph
            else:
                base = SyntheticGraph([1], out_degree=0, host=f"https://{project.slug}")
        ctx = _Ctx(project, list(collections), crawl, list(periods or []), base)
        dims = [self._compile_item(ctx, d, "dimension") for d in q["dimensions"]]
        metrics = [self._compile_item(ctx, m, "metric") for m in q["metrics"]]
        if not dims and not metrics:
            raise _bad_query("dimensions and metrics cannot both be empty")
        filt = self._compile_filter(ctx, q.get("filters"))
        sort = self._compile_sort(q.get("sort"), dims, metrics)
        signature = json.dumps(
            {
                "body": {
                    "collections": collections,
                    "periods": periods,
                    "query": {k: q.get(k) for k in ("dimensions", "metrics", "filters", "sort")},
                },
                "graphs": {a: g.signature for a, g in crawl.items()},
                "base": base.signature,
            },
            sort_keys=True,
            default=str,
        )
        return _Plan(ctx, dims, metrics, filt, sort, signature)

    @staticmethod
    def _filtered_ids(plan: _Plan) -> Any:
        n = plan.ctx.base.n_urls
        if plan.filt is None:
            return range(n)
        f = plan.filt
        return [i for i in range(n) if f(i)]

    @staticmethod
    def _dim_tuples(plan: _Plan, i: int, expand: bool) -> list[tuple]:
        vals = [d.value(i) for d in plan.dims]
        if expand and any(d.spec is not None and d.spec.multi for d in plan.dims):
            lists = [
                (v or []) if d.spec is not None and d.spec.multi else [v]
                for d, v in zip(plan.dims, vals, strict=True)
            ]
            return list(itertools.product(*lists))
        return [tuple(vals)]

    def _materialize(self, plan: _Plan, ids: Any, expand: bool) -> list[tuple[list, list]]:
        """All rows as (dimension values, metric values), grouped and sorted."""
        if not plan.dims:
            return [([], [_aggregate(m, ids) for m in plan.metrics])]
        rows: list[tuple[list, list]] = []
        if plan.unique:
            for i in ids:
                mvals = [_aggregate(m, (i,)) for m in plan.metrics]
                for tup in self._dim_tuples(plan, i, expand):
                    rows.append((list(tup), mvals))
        else:
            groups: dict[tuple, tuple[tuple, list[int]]] = {}
            for i in ids:
                for tup in self._dim_tuples(plan, i, expand):
                    key = tuple(tuple(v) if isinstance(v, list) else v for v in tup)
                    entry = groups.get(key)
                    if entry is None:
                        groups[key] = (tup, [i])
                    else:
                        entry[1].append(i)
            for tup, gids in groups.values():
                rows.append((list(tup), [_aggregate(m, gids) for m in plan.metrics]))
        if plan.sort:
            _sort_rows(rows, plan.sort)
        return rows

    def _run_query(self, plan: _Plan) -> _QueryResult:
        key = plan.signature
        with self._lock:
            cached = self._query_cache.get(key)
            if cached is not None:
                self._query_cache.move_to_end(key)
                return cached
        ids = self._filtered_ids(plan)
        if plan.dims and plan.unique and not plan.sort:

            def row_fn(i: int) -> tuple[list, list]:
                return [d.value(i) for d in plan.dims], [_aggregate(m, (i,)) for m in plan.metrics]

            result = _QueryResult(len(ids), ids=ids, row_fn=row_fn)
        else:
            rows = self._materialize(plan, ids, expand=False)
            result = _QueryResult(len(rows), rows=rows)
        with self._lock:
            self._query_cache[key] = result
            while len(self._query_cache) > 8:
                self._query_cache.popitem(last=False)
        return result

    def _iter_export_rows(self, plan: _Plan) -> Iterator[list]:
        ids = self._filtered_ids(plan)
        if plan.dims and plan.unique and not plan.sort:
            has_multi = any(d.spec is not None and d.spec.multi for d in plan.dims)
            dims = plan.dims
            for i in ids:
                mvals = [_aggregate(m, (i,)) for m in plan.metrics]
                if has_multi:
                    for tup in self._dim_tuples(plan, i, True):
                        yield [*tup, *mvals]
                else:
                    yield [*(d.value(i) for d in dims), *mvals]
            return
        for dvals, mvals in self._materialize(plan, ids, expand=True):
            yield [*dvals, *mvals]

    def _h_query(self, rec: RecordedRequest, org: str, project: str) -> _Response:
        p = self._get_project(org, project)
        if rec.json is None:
            raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON body expected"})
        plan = self._compile_query(p, rec.json)
        result = self._run_query(plan)

        def fetch(a: int, b: int) -> list[dict[str, list]]:
            return [{"dimensions": d, "metrics": m} for d, m in result.page(a, b)]

        payload = self._paginated(
            rec, result.count, fetch, self.query_page_size, include_count=self.query_count
        )
        return self._json(200, payload)

    # -- jobs ---------------------------------------------------------------------------------

    def _h_create_job(self, rec: RecordedRequest) -> _Response:
        body = rec.json
        if not isinstance(body, dict):
            raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON object expected"})
        job_type = body.get("job_type")
        if not job_type:
            raise ApiError(
                400, 1020, "Badly formatted request", {"job_type": "This field is required."}
            )
        if job_type != "export":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"job_type": f"unsupported job type {job_type!r}"},
            )
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise ApiError(
                400, 1020, "Badly formatted request", {"payload": "This field is required."}
            )
        for key in ("username", "project", "query"):
            if not payload.get(key):
                raise ApiError(
                    400,
                    1020,
                    "Badly formatted request",
                    {f"payload.{key}": "This field is required."},
                )
        connector = payload.get("connector", "direct_download")
        if connector != "direct_download":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"connector": f"unknown connector {connector!r}"},
            )
        formatter = payload.get("formatter", "csv")
        if formatter != "csv":
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"formatter": f"formatter {formatter!r} is not supported by the fake (csv only)"},
            )
        fc = payload.get("formatter_config") or {}
        ec = payload.get("extra_config") or {}
        if not isinstance(fc, dict) or not isinstance(ec, dict):
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"formatter_config/extra_config": "objects expected"},
            )
        if fc.get("header_format", "verbose") not in ("verbose", "slug", "collection_slug"):
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"header_format": "verbose|slug|collection_slug"},
            )
        if not isinstance(fc.get("delimiter", ","), str) or len(fc.get("delimiter", ",")) != 1:
            raise ApiError(400, 1020, "Badly formatted request", {"delimiter": "one character"})
        size = payload.get("export_size", self.max_export_size)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {"export_size": "a positive integer is required"},
            )
        if size > self.max_export_size:
            raise ApiError(
                400,
                1020,
                "Badly formatted request",
                {
                    "export_size": f"Ensure this value is less than or equal to {self.max_export_size}."
                },
            )
        project = self._get_project(str(payload["username"]), str(payload["project"]))
        plan = self._compile_query(project, payload["query"])
        now = datetime.now(UTC)
        with self._lock:
            job_id = self._next_job_id
            self._next_job_id += 1
            job = {
                "job_id": job_id,
                "job_type": job_type,
                "job_url": f"/v1/jobs/{job_id}",
                "payload": payload,
                "status": "CREATED",
                "polls": 0,
                "date_created": now,
                "user": self.username,
                "results": None,
                "error": None,
                "project": project,
                "_plan": plan,
            }
            self.jobs[job_id] = job
        # Warm the file in the background so that big exports are ready by the DONE poll.
        threading.Thread(
            target=self._prewarm, args=(job, self._job_format(job)), daemon=True
        ).start()
        return self._json(201, self._job_view(job))

    def _prewarm(self, job: dict[str, Any], fmt: str) -> None:
        # Errors are reported again (and visibly) when the file is needed.
        with contextlib.suppress(Exception):
            self._ensure_export(job, fmt, empty=False)

    def _job_view(self, job: dict[str, Any]) -> dict[str, Any]:
        view = {
            "job_id": job["job_id"],
            "job_type": job["job_type"],
            "job_url": job["job_url"],
            "job_status": job["status"],
            "payload": job["payload"],
            "results": job["results"],
            "date_created": _iso(job["date_created"]),
            "user": job["user"],
            "metadata": None,
        }
        if job["status"] == "FAILED":
            view["error"] = job["error"]
        return view

    def _h_get_job(self, rec: RecordedRequest, job_id: str) -> _Response:
        try:
            jid = int(job_id)
        except ValueError:
            jid = -1
        with self._lock:
            job = self.jobs.get(jid)
            if job is None:
                raise ApiError(404, 1006, "Job was not found", {"job_id": job_id})
            job["polls"] += 1
            finalize = False
            if job["status"] in ("CREATED", "PROCESSING"):
                if job["polls"] > int(self.polls_before_done):
                    finalize = True
                else:
                    job["status"] = "PROCESSING"
        if finalize:
            outcome = self.job_outcome
            if outcome == "failed":
                with self._lock:
                    job["status"] = "FAILED"
                    job["results"] = None
                    job["error"] = {"message": self.job_error_message, "error_code": "1060"}
            elif outcome == "done_without_results":
                with self._lock:
                    job["status"] = "DONE"
                    job["results"] = None
            else:
                fmt = self._job_format(job)
                fault = self.download_fault
                empty = fault == "empty"
                _, nb_lines, _ = self._ensure_export(job, fmt, empty=empty)
                limit = None
                if fault in ("short", "nb_lines_mismatch"):
                    limit = max(1, nb_lines // 10) if nb_lines else 0
                    self._ensure_export(job, fmt, empty=False, limit=limit)
                job["_cut"] = (empty, limit)
                p: _Project = job["project"]
                day = job["date_created"].strftime("%Y-%m-%d")
                ext = {"gzip": ".csv.gz", "zip": ".zip", "plain": ".csv"}[fmt]
                name = quote(f"{p.slug}-{day}{ext}")
                with self._lock:
                    job["status"] = "DONE"
                    job["results"] = {
                        "download_url": f"{self.base_url}/downloads/{job['job_id']}/{name}",
                        "nb_lines": limit if fault == "short" else nb_lines,
                    }
                    if fault == "short":  # the client falls back on its own count
                        del job["results"]["nb_lines"]
        resp = self._json(200, self._job_view(job))
        resp.delay += float(self.poll_delay or 0.0)
        return resp

    # -- exports and downloads ----------------------------------------------------------------

    def _job_format(self, job: dict[str, Any]) -> str:
        if self.download_format in ("gzip", "zip", "plain"):
            return self.download_format
        ec = job["payload"].get("extra_config") or {}
        wanted = str(ec.get("filetype") or ec.get("compression") or "").lower()
        return "zip" if wanted == "zip" else "gzip"

    def _ensure_export(
        self, job: dict[str, Any], fmt: str, empty: bool, limit: int | None = None
    ) -> tuple[str, int, int]:
        """(path, data rows, file size) of the job's export, generated once and cached on disk."""
        plan: _Plan = job["_plan"]
        payload = job["payload"]
        fc = payload.get("formatter_config") or {}
        size = int(payload.get("export_size", self.max_export_size))
        inner = f"{job['project'].slug}-{job['date_created'].strftime('%Y-%m-%d')}.csv"
        key_material = json.dumps(
            {
                "plan": plan.signature,
                "fc": fc,
                "fmt": fmt,
                "size": size,
                "empty": empty,
                "limit": limit,
                "inner": inner if fmt == "zip" else None,
            },
            sort_keys=True,
            default=str,
        )
        key = hashlib.sha256(key_material.encode()).hexdigest()[:32]
        owner = False
        with _EXPORT_LOCK:
            fut = _EXPORT_CACHE.get(key)
            if fut is None:
                fut = Future()
                _EXPORT_CACHE[key] = fut
                owner = True
        if owner:
            ext = {"gzip": ".csv.gz", "zip": ".zip", "plain": ".csv"}[fmt]
            dest = f"{_export_dir()}/{key}{ext}"
            try:
                rows = self._write_export(
                    plan, fc, fmt, size if limit is None else min(size, limit), empty, inner, dest
                )
                fut.set_result((dest, rows, os.path.getsize(dest)))
            except BaseException as exc:
                with _EXPORT_LOCK:
                    _EXPORT_CACHE.pop(key, None)
                fut.set_exception(exc)
        return fut.result()

    def _write_export(
        self,
        plan: _Plan,
        fc: dict[str, Any],
        fmt: str,
        export_size: int,
        empty: bool,
        inner: str,
        dest: str,
    ) -> int:
        delimiter = fc.get("delimiter", ",")
        header_format = fc.get("header_format", "verbose")
        items = plan.dims + plan.metrics
        if header_format == "slug":
            header = [it.short for it in items]
        elif header_format == "collection_slug":
            header = [it.slug for it in items]
        else:
            header = [it.label for it in items]
        prepend = fc.get("prepend_columns") or []
        append = fc.get("append_columns") or []

        def col_name(c: dict[str, Any]) -> str:
            if header_format == "verbose":
                return str(c.get("name") or c.get("slug") or "")
            return str(c.get("slug") or c.get("name") or "")

        header = [col_name(c) for c in prepend] + header + [col_name(c) for c in append]
        pre_vals = [c.get("value") for c in prepend]
        post_vals = [c.get("value") for c in append]
        rows: Iterable[list] = (
            [] if empty else itertools.islice(self._iter_export_rows(plan), export_size)
        )
        if pre_vals or post_vals:
            rows = ([*pre_vals, *r, *post_vals] for r in rows)
        counter = [0]

        def counting(it: Iterable[list]) -> Iterator[list]:
            n = 0
            for r in it:
                n += 1
                yield r
            counter[0] = n

        tmp = dest + f".tmp{threading.get_ident()}"
        zf = raw = None
        if fmt == "gzip":
            raw = open(tmp, "wb")  # noqa: SIM115
            stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0)
        elif fmt == "zip":
            zf = zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
            stream = zf.open(inner, "w", force_zip64=True)
        else:
            stream = open(tmp, "wb")  # noqa: SIM115
        ok = False
        try:
            text = io.TextIOWrapper(
                io.BufferedWriter(stream, buffer_size=1 << 20), encoding="utf-8", newline=""
            )
            writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
            if fc.get("print_delimiter", True):
                text.write(f"sep={delimiter}\n")
            if fc.get("print_header", True):
                writer.writerow(header)
            writer.writerows(counting(rows))
            text.close()  # closes the buffer and the underlying stream
            ok = True
        finally:
            try:
                if zf is not None:
                    zf.close()
                if raw is not None:
                    raw.close()
            except (OSError, ValueError):
                if ok:
                    raise
            if not ok:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
        os.replace(tmp, dest)
        return counter[0]

    def _download(self, rec: RecordedRequest) -> _Response:
        m = re.fullmatch(r"/downloads/(\d+)(?:/[^/]*)?", rec.path)
        job = self.jobs.get(int(m.group(1))) if m else None
        if (
            job is None
            or rec.method not in ("GET", "HEAD")
            or job["status"] != "DONE"
            or not job["results"]
        ):
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        fault = self.download_fault
        with self._lock:
            if fault in _PER_DOWNLOAD_FAULTS and self.download_fault_times is not None:
                if self.download_fault_times > 0:
                    self.download_fault_times -= 1
                else:
                    fault = None
        if fault == "forbidden":
            return self._s3_error(403, "AccessDenied", "Request has expired")
        if fault == "not_found":
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        fmt = self._job_format(job)
        empty, limit = job.get("_cut") or (False, None)
        empty = empty or self.download_fault == "empty"  # also when set after DONE
        path, _, size = self._ensure_export(job, fmt, empty=empty, limit=limit)
        length = size
        if fault == "truncated":
            length = max(1, size // 2)
        status, offset, extra = 200, 0, []
        wanted = _byte_range(rec.headers.get("range")) if self.accept_ranges else None
        if wanted is not None and rec.method == "GET":
            start, end = wanted
            if start >= length:
                return _Response(416, b"", [("Content-Range", f"bytes */{length}")])
            end = length - 1 if end is None else min(end, length - 1)
            status, offset = 206, start
            extra = [("Content-Range", f"bytes {start}-{end}/{length}")]
            length = end - start + 1
        cut = max(1, length // 2) if fault == "drop" else None
        ctype = {"gzip": "application/gzip", "zip": "application/zip", "plain": "text/csv"}[fmt]
        filename = rec.path.rsplit("/", 1)[-1]
        headers = [
            ("Content-Type", ctype),
            ("Content-Disposition", f'attachment; filename="{unquote(filename)}"'),
            ("ETag", f'"{hashlib.md5(path.encode()).hexdigest()}"'),
            *extra,
        ]
        if self.accept_ranges:
            headers.append(("Accept-Ranges", "bytes"))
        pace = None
        if self.download_seconds and not self.download_rate:
            pace = max(16_384.0, size / float(self.download_seconds))
        return _Response(
            status,
            headers=headers,
            file=path,
            length=length,
            rate_limited_stream=True,
            offset=offset,
            cut=cut,
            rate=pace,
        )

    @staticmethod
    def _s3_error(status: int, code: str, message: str) -> _Response:
        body = _S3_ERROR.format(code=code, message=message, rid=random.getrandbits(64)).encode()
        return _Response(status, body, [("Content-Type", "application/xml")])

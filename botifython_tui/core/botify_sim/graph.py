"""The synthetic link graph the simulator serves: deterministic URLs by depth, links, and the
crawl fields of every URL (pagetype, HTTP code, canonical, sitemap, PageRank, Search Console)."""

from __future__ import annotations

import bisect
import json
import math
import random
import re
import threading
import time
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

_MASK64 = (1 << 64) - 1
_TWO64 = float(1 << 64)
_GRAPH_VERSION = 1


def mix64(x: int) -> int:
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
        return mix64((self._seed_int * 0x100000001B3) ^ (i << 8) ^ salt) / _TWO64

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

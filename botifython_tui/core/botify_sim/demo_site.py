"""The demo's simulated Botify account: a synthetic home-and-garden shop with a blog.

About 22,000 URLs at depths 0-8: the home page, categories, subcategories (some faceted and
canonicalised elsewhere), products (a few discontinued: 404, or redirected), blog posts and
utility pages (account, cart, help: mostly noindex). Navigation links form the tree from the
home page down; the other links are related products and related posts. Search Console
favours products and blog posts. Two analyses a month apart: the newer one has more pages,
some products gone, and a rewired set of related links. Everything is a pure function of the
seed, so the same seed always gives the same site and the same exports.
"""

from __future__ import annotations

import bisect
import json
import logging
import random
import zlib
from array import array
from collections.abc import Callable
from typing import Any

from botifython_tui.core.botify_sim.graph import SyntheticGraph, mix64
from botifython_tui.core.botify_sim.simulator import BotifySimulator

DEMO_TOKEN = "demo-token"  # not a secret: the simulator accepts only this, on 127.0.0.1
DEMO_USERNAME = "demo.user"
DEMO_ORG = "demo-org"
DEMO_PROJECT = "acme-home.example"
DEMO_PROJECT_NAME = "Acme Home & Garden (demo)"
DEMO_HOST = "https://www.acme-home.example"
DEMO_SEED = 2026
# (slug, depth sizes): the newer analysis first; the site grew by about a tenth in a month.
DEMO_ANALYSES = (
    ("20261102", (1, 17, 90, 520, 2600, 6200, 7400, 4300, 1500)),
    ("20261005", (1, 17, 86, 480, 2300, 5600, 6600, 3900, 1300)),
)
DOWNLOAD_SECONDS = 2.5  # each download is paced to take about this long: visible progress

PAGETYPES = ("home", "category", "subcategory", "product", "blog", "utility")

_CATEGORIES = (
    "furniture",
    "garden",
    "kitchen",
    "lighting",
    "bathroom",
    "bedding",
    "outdoor-living",
    "storage",
    "decor",
    "rugs",
    "tools",
    "kids",
    "pets",
    "sale",
)
_SUBS = (
    "tables",
    "chairs",
    "sofas",
    "planters",
    "lamps",
    "shelves",
    "cushions",
    "mirrors",
    "baskets",
    "hoses",
    "grills",
    "towels",
    "duvets",
    "boxes",
    "vases",
    "benches",
)
_ADJECTIVES = (
    "oak",
    "walnut",
    "linen",
    "rattan",
    "ceramic",
    "brass",
    "woven",
    "velvet",
    "bamboo",
    "cast-iron",
    "teak",
    "marble",
    "wool",
    "glass",
    "copper",
    "folding",
)
_NOUNS = (
    "side-table",
    "armchair",
    "floor-lamp",
    "planter",
    "bookshelf",
    "throw",
    "pendant",
    "stool",
    "bench",
    "rug",
    "mirror",
    "vase",
    "basket",
    "lantern",
    "trolley",
    "hammock",
)
_TOPICS = ("guides", "inspiration", "gardening", "how-to", "trends", "care")
_UTILITY = ("help", "account", "cart", "search", "stores", "legal")
_DEPTH1_FIXED = ("blog", "help", "stores")  # the first depth-1 pages after the categories

log = logging.getLogger("botifython.demo")


class DemoSiteGraph(SyntheticGraph):
    """A SyntheticGraph whose URLs, pagetypes and fields look like an e-commerce site.

    A page's identity (URL, pagetype, canonical, sitemap) depends on the site seed and its
    place (depth, index in that depth), so a page keeps its URL from one analysis to the next;
    links (the ``seed``) and a share of statuses (``churn``) change between analyses.
    """

    PAGETYPES = PAGETYPES

    def __init__(
        self,
        depth_sizes: tuple[int, ...],
        *,
        site_seed: int = DEMO_SEED,
        analysis: str = "",
        churn: float = 0.0,
        host: str = DEMO_HOST,
    ) -> None:
        super().__init__(
            depth_sizes,
            out_degree=(3, 12),
            seed=f"{site_seed}:{analysis}",
            host=host,
            cross_link_ratio=0.35,
        )
        self.site_seed = int(site_seed)
        self.analysis = analysis
        self.churn = float(churn)
        self._analysis_int = mix64(hash_text(analysis))
        self._index: dict[str, int] | None = None
        self._columns: dict[str, list] = {}

    def _column(self, name: str, compute: Callable[[int], Any]) -> list:
        """One field for every page, computed once (exports read each field many times)."""
        column = self._columns.get(name)
        if column is None:  # two threads may both compute it: the same values, no harm
            column = [compute(i) for i in range(self.n_urls)]
            self._columns[name] = column
        return column

    @property
    def signature(self) -> str:
        base = json.loads(super().signature)
        return json.dumps(["DemoSiteGraph", base, self.site_seed, self.analysis, self.churn])

    def __repr__(self) -> str:
        return f"DemoSiteGraph({self.depth_sizes!r}, analysis={self.analysis!r})"

    def _build(self) -> None:
        """Navigation (the tree from the home page, and the header logo: every page links home),
        related products (from products and blog posts) and the base graph's other links."""
        super()._build()
        offsets, targets = self._offsets, self._targets
        products = self._products_by_depth()
        top = self.max_depth
        pools = [  # related products of a page at depth d: products at depths d-1 … d+1
            [p for depth in range(max(1, d - 1), min(d + 1, top) + 1) for p in products[depth]]
            for d in range(top + 1)
        ]
        rng = random.Random(f"demo-related:{self.seed}")
        new_offsets = array("q", bytes(8 * (self.n_urls + 1)))
        new_targets = array("i")
        for i in range(self.n_urls):
            chosen = set(targets[offsets[i] : offsets[i + 1]])
            if i:
                chosen.add(0)
            kind = self.pagetype(i)
            if kind in ("product", "blog"):
                d = self.depth(i)
                # Related products, never deeper than the next depth (depths stay BFS depths).
                pool = pools[d]
                for _ in range(3 if kind == "product" else 2):
                    if pool:
                        pick = pool[int(rng.random() * len(pool))]
                        if pick != i:
                            chosen.add(pick)
            new_targets.extend(sorted(chosen))
            new_offsets[i + 1] = len(new_targets)
        self._offsets, self._targets = new_offsets, new_targets

    def _products_by_depth(self) -> list[list[int]]:
        by_depth: list[list[int]] = [[] for _ in range(self.max_depth + 1)]
        for i in range(self.n_urls):
            if self.pagetype(i) == "product":
                by_depth[self.depth(i)].append(i)
        return by_depth

    # -- identity -------------------------------------------------------------------------------
    def _place(self, i: int) -> tuple[int, int]:
        d = bisect.bisect_right(self._starts, i) - 1
        return d, i - self._starts[d]

    def _u(self, i: int, salt: int) -> float:
        """A stable uniform draw per page and purpose (the same page in either analysis)."""
        d, k = self._place(i)
        return mix64((self.site_seed << 40) ^ (d << 32) ^ (k << 8) ^ salt) / float(1 << 64)

    def _v(self, i: int, salt: int) -> float:
        """A draw that changes from one analysis to the next (churn)."""
        d, k = self._place(i)
        return mix64(self._analysis_int ^ (d << 32) ^ (k << 8) ^ salt) / float(1 << 64)

    def _pick(self, i: int, salt: int, words: tuple[str, ...]) -> str:
        return words[int(self._u(i, salt) * len(words)) % len(words)]

    def pagetype(self, i: int) -> str:
        return self._column("pagetype", self._pagetype)[i]

    def _pagetype(self, i: int) -> str:
        if i == 0:
            return "home"
        d, k = self._place(i)
        u = self._u(i, 1)
        if d == 0:
            return "utility"
        if d == 1:
            if k < len(_CATEGORIES):
                return "category"
            return "blog" if _DEPTH1_FIXED[(k - len(_CATEGORIES)) % 3] == "blog" else "utility"
        if d == 2:
            return (
                "subcategory"
                if u < 0.7
                else "blog"
                if u < 0.85
                else "product"
                if u < 0.94
                else "utility"
            )
        if d == 3:
            return (
                "subcategory"
                if u < 0.25
                else "product"
                if u < 0.75
                else "blog"
                if u < 0.93
                else "utility"
            )
        return (
            "product"
            if u < 0.68
            else "blog"
            if u < 0.92
            else "subcategory"
            if u < 0.96
            else "utility"
        )

    def _make_url(self, i: int) -> str:
        if i == 0:
            return self.host + "/"
        d, k = self._place(i)
        ref = d * 100_000 + k  # unique per place, so unique per URL
        kind = self.pagetype(i)
        if d == 1 and k < len(_CATEGORIES):
            return f"{self.host}/{_CATEGORIES[k]}/"
        if d == 1:
            name = _DEPTH1_FIXED[(k - len(_CATEGORIES)) % 3]
            return (
                f"{self.host}/{name}/" if k < len(_CATEGORIES) + 3 else f"{self.host}/{name}/{ref}/"
            )
        if kind == "subcategory":
            cat, sub = self._pick(i, 11, _CATEGORIES), self._pick(i, 12, _SUBS)
            facet = "" if d < 4 else f"?sort={'price' if self._u(i, 13) < 0.5 else 'new'}"
            return f"{self.host}/{cat}/{sub}-{ref}/{facet}"
        if kind == "product":
            return (
                f"{self.host}/p/{self._pick(i, 14, _ADJECTIVES)}-{self._pick(i, 15, _NOUNS)}-{ref}"
            )
        if kind == "blog":
            year = 2021 + int(self._u(i, 16) * 6)
            words = f"{self._pick(i, 17, _ADJECTIVES)}-{self._pick(i, 18, _NOUNS)}"
            return f"{self.host}/blog/{self._pick(i, 19, _TOPICS)}/{year}/{words}-ideas-{ref}/"
        return f"{self.host}/{self._pick(i, 20, _UTILITY)}/page-{ref}"

    def url(self, i: int) -> str:
        if not 0 <= i < self.n_urls:
            raise IndexError(i)
        return self._url_list()[i]

    def index_of(self, url: str) -> int | None:
        if self._index is None:
            self._index = {u: n for n, u in enumerate(self._url_list())}
        return self._index.get(url if url != self.host else self.host + "/")

    # -- crawl fields ---------------------------------------------------------------------------
    def http_code(self, i: int) -> int:
        return self._column("http_code", self._http_code)[i]

    def _http_code(self, i: int) -> int:
        if i == 0:
            return 200
        kind, u = self.pagetype(i), self._u(i, 2)
        if kind == "product" and self._v(i, 21) < self.churn:
            return 404  # discontinued since the other analysis
        if kind == "product":
            return 200 if u < 0.955 else 301 if u < 0.975 else 404
        if kind == "utility":
            return 200 if u < 0.8 else 302 if u < 0.95 else 404
        return 200 if u < 0.985 else 301 if u < 0.995 else 404

    def canonical_equal(self, i: int) -> bool:
        return self._column("canonical_equal", self._canonical_equal)[i]

    def _canonical_equal(self, i: int) -> bool:
        if i == 0:
            return True
        kind, (d, _k) = self.pagetype(i), self._place(i)
        if kind == "subcategory" and d >= 4:
            return False  # sorted listings point at the unsorted one
        if kind == "product":
            return self._u(i, 4) < 0.96  # colour variants point at the main product
        return self._u(i, 4) < 0.99

    def is_compliant(self, i: int) -> bool:
        return self._column("is_compliant", self._is_compliant)[i]

    def _is_compliant(self, i: int) -> bool:
        if i == 0:
            return True
        if self.http_code(i) != 200 or not self.canonical_equal(i):
            return False
        noindex = {"utility": 0.7, "category": 0.0}.get(self.pagetype(i), 0.02)
        return self._u(i, 3) >= noindex

    def _in_sitemap(self, i: int) -> bool:
        if i == 0:
            return True
        if self.pagetype(i) == "utility":
            return self._u(i, 5) < 0.05
        return self._u(i, 5) < (0.92 if self.is_compliant(i) else 0.15)

    def title(self, i: int) -> str:
        path = self.url(i).split("/", 3)[-1].strip("/") or "home"
        words = path.split("?")[0].replace("/", " · ").replace("-", " ")
        return f"{words.title()} | Acme Home & Garden"

    def gsc_impressions(self, i: int, period: int = 0) -> int:
        return self._column(f"impressions-{period}", lambda j: self._impressions(j, period))[i]

    def in_sitemap(self, i: int) -> bool:
        return self._column("in_sitemap", self._in_sitemap)[i]

    def _impressions(self, i: int, period: int) -> int:
        if not self.is_compliant(i):
            return 0
        weight = {
            "home": 60_000,
            "category": 9_000,
            "subcategory": 1_500,
            "product": 2_400,
            "blog": 3_200,
            "utility": 20,
        }[self.pagetype(i)]
        d, _k = self._place(i)
        base = int((self._u(i, 6) ** 2.5) * weight / (1 + 0.25 * d))
        if i == 0:
            base = weight
        if period:
            base = int(base * (0.8 + 0.4 * self._u(i, 100 + period)))
        return base

    def gsc_clicks(self, i: int, period: int = 0) -> int:
        ctr = {"home": 0.12, "category": 0.04, "subcategory": 0.02, "product": 0.05}.get(
            self.pagetype(i), 0.015
        )
        return int(self.gsc_impressions(i, period) * ctr * (0.5 + self._u(i, 7)))


def hash_text(text: str) -> int:
    """A stable 64-bit number for a string (Python's hash() changes between runs)."""
    return (zlib.crc32(text.encode()) << 32) | zlib.adler32(text.encode())


class DemoSimulator(BotifySimulator):
    """The simulator as the demo runs it: handler errors go to the log, not the terminal."""

    def report_bug(self) -> None:
        log.exception("The demo Botify simulator failed on a request")


def demo_graphs(seed: int = DEMO_SEED) -> dict[str, DemoSiteGraph]:
    """The two analyses' sites, newest first (built lazily on first use)."""
    graphs = {}
    for n, (slug, sizes) in enumerate(DEMO_ANALYSES):
        graphs[slug] = DemoSiteGraph(
            sizes, site_seed=seed, analysis=slug, churn=0.03 if n == 0 else 0.0
        )
    return graphs


def make_demo_simulator(
    seed: int = DEMO_SEED, *, download_seconds: float = DOWNLOAD_SECONDS
) -> DemoSimulator:
    """A configured, not yet started, simulator of the demo account."""
    sim = DemoSimulator(
        token=DEMO_TOKEN, username=DEMO_USERNAME, first_name="Demo", last_name="User"
    )
    sim.polls_before_done = 1  # one PROCESSING answer, then DONE: polling is seen, not waited on
    sim.download_seconds = download_seconds
    graphs = demo_graphs(seed)
    sim.add_project(
        DEMO_ORG,
        DEMO_PROJECT,
        name=DEMO_PROJECT_NAME,
        analyses=[slug for slug, _sizes in DEMO_ANALYSES],
        graph=graphs,
        has_search_console=True,
        org_name="Demo Org",
        date_created="2025-03-04T09:00:00Z",
    )
    return sim


def start_demo_simulator(seed: int = DEMO_SEED, **options: Any) -> DemoSimulator:
    """Start the demo account on a loopback port of its own choosing (a daemon thread)."""
    return make_demo_simulator(seed, **options).start()

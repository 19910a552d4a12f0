"""The demo's simulated account: a realistic, deterministic site; two analyses that differ; the
same simulator the tests' fake is; paced downloads; served on a loopback port of its own."""

from __future__ import annotations

import gzip
import time
from collections import Counter

import httpx

from botifython_tui.core.botify_sim import BotifySimulator
from botifython_tui.core.botify_sim.demo_site import (
    DEMO_ORG,
    DEMO_PROJECT,
    DEMO_TOKEN,
    PAGETYPES,
    demo_graphs,
    make_demo_simulator,
)
from tests.fakes.botify_server import FakeBotify

AUTH = {"Authorization": f"Token {DEMO_TOKEN}"}


def fields(graph, i: int) -> tuple:
    return (
        graph.url(i),
        graph.pagetype(i),
        graph.http_code(i),
        graph.is_compliant(i),
        graph.canonical_equal(i),
        graph.in_sitemap(i),
        graph.gsc_impressions(i),
        tuple(graph.outlinks(i)),
    )


def test_the_fake_is_the_simulator():
    assert issubclass(FakeBotify, BotifySimulator)
    assert FakeBotify.__mro__[1] is BotifySimulator  # nothing but a name on top


def test_same_seed_same_site_other_seed_other_site():
    first, again, other = demo_graphs(7), demo_graphs(7), demo_graphs(8)
    newest = next(iter(first))
    sample = range(0, first[newest].n_urls, 97)
    assert [fields(first[newest], i) for i in sample] == [fields(again[newest], i) for i in sample]
    assert [fields(first[newest], i) for i in sample] != [fields(other[newest], i) for i in sample]


def test_the_site_looks_like_a_shop_with_a_blog():
    newest = next(iter(demo_graphs().values()))
    n = newest.n_urls
    assert 20_000 <= n <= 60_000
    assert newest.max_depth == 8
    kinds = Counter(newest.pagetype(i) for i in range(n))
    assert set(kinds) == set(PAGETYPES)
    assert kinds["product"] > kinds["blog"] > kinds["subcategory"] > kinds["category"]
    codes = Counter(newest.http_code(i) for i in range(n))
    assert codes[200] > 0.9 * n and codes[301] and codes[404]
    assert any(not newest.canonical_equal(i) for i in range(n))
    noindex = [
        i
        for i in range(n)
        if newest.http_code(i) == 200 and newest.canonical_equal(i) and not newest.is_compliant(i)
    ]
    assert noindex
    assert newest.in_sitemap(0) and not all(newest.in_sitemap(i) for i in range(n))
    # related products: from nearly every product and blog post to a product
    for kind, share in (("product", 0.95), ("blog", 0.9)):
        pages = [i for i in range(n) if newest.pagetype(i) == kind]
        linking = [
            i for i in pages if any(newest.pagetype(t) == "product" for t in newest.outlinks(i))
        ]
        assert len(linking) > share * len(pages), kind
    # depths are what a crawl from the home page finds (no link skips a level)
    assert all(newest.depth(t) <= newest.depth(i) + 1 for i in range(n) for t in newest.outlinks(i))
    # every page links to the home page (the header logo), which therefore ranks first
    assert newest.inlink_count(0) == n - 1 and newest.pagerank_position(0) == 1

    def mean_impressions(kind: str) -> float:
        values = [newest.gsc_impressions(i) for i in range(n) if newest.pagetype(i) == kind]
        return sum(values) / len(values)

    assert mean_impressions("product") > 20 * mean_impressions("utility")
    assert mean_impressions("blog") > 20 * mean_impressions("utility")


def test_two_analyses_a_month_apart_differ_but_share_pages():
    newest, oldest = demo_graphs().values()
    assert newest.n_urls > oldest.n_urls
    new_urls, old_urls = set(newest.urls()), set(oldest.urls())
    assert len(old_urls & new_urls) > 0.9 * len(old_urls)  # the same pages, mostly
    assert new_urls - old_urls  # pages added
    gone = sum(
        1
        for url in old_urls & new_urls
        if oldest.http_code(oldest.index_of(url)) == 200
        and newest.http_code(newest.index_of(url)) == 404
    )
    assert gone > 100  # discontinued products
    assert newest.edge_count() != oldest.edge_count()


def test_a_whole_export_through_the_simulator_is_paced():
    simulator = make_demo_simulator(download_seconds=1.0).start()
    try:
        assert simulator.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=simulator.base_url, headers=AUTH, timeout=60) as client:
            assert client.get("/v1/authentication/profile").status_code == 200
            assert (
                client.get(
                    "/v1/authentication/profile", headers={"Authorization": "Token other"}
                ).status_code
                == 401
            )
            query = {
                "collections": ["crawl.20261102"],
                "query": {
                    "dimensions": ["crawl.20261102.url", "crawl.20261102.segments.pagetype.value"],
                    "metrics": [],
                },
            }
            created = client.post(
                "/v1/jobs",
                json={
                    "job_type": "export",
                    "payload": {
                        "username": DEMO_ORG,
                        "project": DEMO_PROJECT,
                        "connector": "direct_download",
                        "formatter": "csv",
                        "export_size": 100_000,
                        "query": query,
                    },
                },
            )
            assert created.status_code == 201, created.text
            status = job = created.json()
            for _ in range(10):
                status = client.get(f"/v1/jobs/{job['job_id']}").json()
                if status["job_status"] == "DONE":
                    break
            assert status["job_status"] == "DONE"
            started = time.monotonic()
            body = httpx.get(status["results"]["download_url"], timeout=60).content
            elapsed = time.monotonic() - started
    finally:
        simulator.stop()
    rows = gzip.decompress(body).decode().splitlines()
    assert len(rows) - 2 == status["results"]["nb_lines"] > 20_000
    assert any(",product" in row for row in rows[2:50])  # the demo site's own pagetypes
    assert 0.7 < elapsed < 10  # paced to about a second, not instant

"""Tests of the fake Botify server itself (tests/fakes/botify_server, the app's Botify simulator)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import socket
import ssl
import subprocess
import sys
import time
import zipfile
import zlib
from collections import deque
from pathlib import Path

import httpx
import pytest

from tests.fakes.botify_server import FakeBotify, SyntheticGraph

A = "20241108-2"
ORG, PROJECT = "acme-org", "example.com"
TOKEN = "good-token"
AUTH = {"Authorization": f"Token {TOKEN}"}
QUERY_PATH = f"/v1/projects/{ORG}/{PROJECT}/query"
GRAPH = SyntheticGraph(depth_sizes=[1, 10, 100, 1000], out_degree=(2, 8), seed=0)
# Building an SSL context per httpx client costs ~40 ms; share one.
SSL_CONTEXT = ssl.create_default_context()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    f = FakeBotify(token=TOKEN, username="jane.doe", list_page_size=2)
    f.add_project(
        ORG,
        PROJECT,
        name="Example Site",
        analyses=[
            A,
            "20241108",
            "20241001",
            {"slug": "20241201", "status": "crawling"},
            {"slug": "20240901", "status": "failed"},
        ],
        graph=GRAPH,
        has_search_console=True,
    )
    with f:
        yield f


@pytest.fixture
def client(fake):
    with httpx.Client(base_url=fake.base_url, headers=AUTH, timeout=10, verify=SSL_CONTEXT) as c:
        yield c


@pytest.fixture
def anon():
    """A client without the API token (downloads, auth checks)."""
    with httpx.Client(timeout=10, verify=SSL_CONTEXT) as c:
        yield c


def query_body(dimensions, metrics=(), filters=None, sort=None, collections=(f"crawl.{A}",)):
    q = {"dimensions": list(dimensions), "metrics": list(metrics)}
    if filters is not None:
        q["filters"] = filters
    if sort is not None:
        q["sort"] = sort
    return {"collections": list(collections), "query": q}


def all_pages(client: httpx.Client, url: str, body=None) -> tuple[list, list[str]]:
    """Follow `next` (re-POSTing `body` when given); returns (results, urls visited)."""
    results, visited = [], []
    while url:
        visited.append(url)
        r = client.post(url, json=body) if body is not None else client.get(url)
        assert r.status_code == 200, r.text
        data = r.json()
        results.extend(data["results"])
        url = data.get("next")
    return results, visited


def export_payload(query, **extra):
    payload = {
        "username": ORG,
        "project": PROJECT,
        "connector": "direct_download",
        "formatter": "csv",
        "formatter_config": {},
        "extra_config": {},
        "export_size": 1_000_000,
        "query": query,
    }
    payload.update(extra)
    return {"job_type": "export", "payload": payload}


def edges_query(max_depth: int):
    return query_body(
        ["url", f"crawl.{A}.outlinks_internal.graph.url"],
        filters={"field": f"crawl.{A}.depth", "predicate": "lte", "value": max_depth},
    )


def run_job(client: httpx.Client, fake: FakeBotify, body) -> dict:
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_url = r.json()["job_url"]
    for _ in range(fake.polls_before_done + 1):
        status = client.get(fake.base_url + job_url).json()
    return status


def read_export(content: bytes, fmt: str = "gzip") -> str:
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            names = zf.namelist()
            assert len(names) == 1 and names[0].endswith(".csv")
            return zf.read(names[0]).decode("utf-8")
    return gzip.decompress(content).decode("utf-8")


# --- graph ---------------------------------------------------------------------------------


def test_graph_shape_and_determinism():
    g = SyntheticGraph(depth_sizes=[1, 10, 100, 1000], out_degree=(2, 8), seed=0)
    assert g.url(0) == "https://example.com/"
    assert g.url(g.url_count(1) + 17) == "https://example.com/d2/page-17"
    assert g.index_of("https://example.com/d2/page-17") == g.url_count(1) + 17
    assert g.index_of("https://example.com/d9/page-0") is None
    assert g.url_count(0) == 1 and g.url_count(2) == 111 and g.url_count() == 1111
    other = SyntheticGraph(depth_sizes=[1, 10, 100, 1000], out_degree=(2, 8), seed=0)
    assert [g.outlinks(i) for i in range(50)] == [other.outlinks(i) for i in range(50)]
    assert SyntheticGraph([1, 10, 100], out_degree=(2, 8), seed=1).outlinks(5) != g.outlinks(5)

    total = 0
    for i in range(g.n_urls):
        targets = g.outlinks(i)
        d = g.depth(i)
        assert len(set(targets)) == len(targets) and i not in targets
        assert all(g.depth(t) <= d + 1 for t in targets)
        if d == g.max_depth:  # leaves keep the drawn out-degree
            assert 2 <= len(targets) <= 8
        total += len(targets)
    assert total == g.edge_count() == g.edge_count(3)
    assert g.edge_count(1) == sum(g.out_degree_of(i) for i in range(11))
    assert g.edge_count(-1) == 0

    # Depths are consistent: BFS from depth 0 over the edges gives the reported depth.
    bfs = {0: 0}
    todo = deque([0])
    while todo:
        i = todo.popleft()
        for t in g.outlinks(i):
            if t not in bfs:
                bfs[t] = bfs[i] + 1
                todo.append(t)
    assert len(bfs) == g.n_urls
    assert all(bfs[i] == g.depth(i) for i in range(g.n_urls))

    inlinks = [g.inlink_count(i) for i in range(g.n_urls)]
    assert inlinks[0] == 0  # nothing links to the home page
    assert sum(inlinks) == g.edge_count()
    assert max(inlinks) > min(x for x in inlinks[1:])  # varied in-degree
    # Attributes: deterministic and of the documented types.
    assert g.pagetype(0) == "home"
    assert set(map(g.pagetype, range(g.n_urls))) == {
        "home",
        "category",
        "product",
        "article",
        "other",
    }
    flags = [(g.is_compliant(i), g.canonical_equal(i), g.in_sitemap(i)) for i in range(g.n_urls)]
    for column in zip(*flags, strict=True):
        assert set(column) == {True, False}
    assert all(g.gsc_clicks(i) <= g.gsc_impressions(i) for i in range(g.n_urls))
    assert sum(g.gsc_impressions(i) for i in range(g.n_urls)) > 0
    # iter_edges agrees with edge_count
    assert sum(1 for _ in g.iter_edges(2)) == g.edge_count(2)


def test_graph_int_out_degree_and_start_urls():
    g = SyntheticGraph(depth_sizes=[3, 4, 20], out_degree=5, seed="x", host="https://shop.test/")
    assert g.url(0) == "https://shop.test/" and g.url(1) == "https://shop.test/d0/page-1"
    assert [g.inlink_count(i) for i in range(3)] == [0, 0, 0]  # depth-0 start URLs
    assert all(g.out_degree_of(i) == 5 for i in range(7, g.n_urls))
    assert SyntheticGraph([1]).edge_count() == 0
    with pytest.raises(ValueError):
        SyntheticGraph([1, 0, 3])
    big = SyntheticGraph.for_edge_count(10_000)
    assert 7_000 <= big.edge_count() <= 13_000 and len(big.depth_sizes) == 4


# --- auth and profile ---------------------------------------------------------------------


def test_profile_good_token(fake, client, anon):
    r = client.get("/v1/authentication/profile")
    assert r.status_code == 200
    assert r.json()["data"] == {
        "username": "jane.doe",
        "email": "jane.doe@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
    }
    lower = anon.get(
        fake.base_url + "/v1/authentication/profile", headers={"authorization": f"token {TOKEN}"}
    )
    assert lower.status_code == 200 and lower.json()["data"]["username"] == "jane.doe"


def test_profile_bad_token_envelope(fake, anon):
    url = fake.base_url + "/v1/authentication/profile"
    for headers in ({"Authorization": "Token nope"}, {}, {"Authorization": f"Bearer {TOKEN}"}):
        r = anon.get(url, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": {"error_code": "1001", "message": "Not Authorized"}}
        assert r.headers["www-authenticate"].startswith("Token")
    fake.error_code_as_number = True
    assert anon.get(url).json()["error"]["error_code"] == 1001


def test_profile_bad_token_drf_shape(fake, anon):
    fake.unauthorized_shape = "drf"
    url = fake.base_url + "/v1/authentication/profile"
    r = anon.get(url, headers={"Authorization": "Token nope"})
    assert r.status_code == 401 and r.json() == {"detail": "Invalid token."}
    r = anon.get(url)
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_revoke_token(fake, client):
    assert client.get("/v1/authentication/profile").status_code == 200
    fake.revoke_token()
    assert client.get("/v1/authentication/profile").status_code == 401
    assert client.get(f"/v1/projects/{ORG}/{PROJECT}/collections").status_code == 401


def test_unknown_route_is_404_envelope(client):
    r = client.get("/v1/nope/nothing/here/at/all")
    assert r.status_code == 404 and "error_code" in r.json()["error"]
    assert client.delete("/v1/authentication/profile").status_code == 404


def test_request_body_too_large_is_refused_unread(fake):
    """A body over the limit gets 413 at once, and the connection closes: nothing more is read."""
    with socket.create_connection(("127.0.0.1", fake.port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n"
            f"Content-Length: {10**12}\r\n\r\n{{".encode()
        )
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    assert json.loads(body)["error"]["message"] == "Request body too large"
    assert fake.find_requests("/v1/jobs") == [] and fake.jobs == {}


# --- projects, analyses, collections -------------------------------------------------------


def test_projects_pagination_absolute_next(fake, client):
    for i in range(3):
        fake.add_project(ORG, f"site{i}.example.com", analyses=["20240101"])
    fake.add_project("other-org", "other.example.com", analyses=["20240101"])
    results, visited = all_pages(client, "/v1/projects/jane.doe")
    assert len(visited) == 3  # 5 projects, 2 per page: two `next` hops
    for nxt in visited[1:]:
        assert nxt.startswith(fake.base_url + "/v1/projects/jane.doe?")
        assert "size=2" in nxt
    assert [p["slug"] for p in results] == [
        PROJECT,
        "site0.example.com",
        "site1.example.com",
        "site2.example.com",
        "other.example.com",
    ]
    first = results[0]
    assert first["name"] == "Example Site" and first["active"] is True
    assert first["user"]["login"] == ORG
    assert first["organization"]["slug"] == ORG
    assert first["organization"]["is_organization"] is True
    assert first["organization"]["owner"]["username"] == "jane.doe"
    assert first["date_created"].endswith("Z")
    org_only, _ = all_pages(client, f"/v1/projects/{ORG}")
    assert len(org_only) == 4
    r = client.get("/v1/projects/nobody")
    assert r.status_code == 404 and r.json()["error"]["error_code"] == "1007"


def test_page_size_is_clamped_and_echoed(fake, client):
    fake.max_page_size = 3
    data = client.get(f"/v1/analyses/{ORG}/{PROJECT}/light", params={"size": 50}).json()
    assert data["size"] == 3 and len(data["results"]) == 3 and data["next"] is None
    data = client.get(
        f"/v1/analyses/{ORG}/{PROJECT}/light", params={"size": 1, "page": 2, "only_success": "true"}
    ).json()
    assert data["page"] == 2 and data["count"] == 3
    assert data["previous"] == (
        f"{fake.base_url}/v1/analyses/{ORG}/{PROJECT}/light?only_success=true&page=1&size=1"
    )
    assert "only_success=true" in data["next"] and "page=3" in data["next"]
    assert (
        client.get(f"/v1/analyses/{ORG}/{PROJECT}/light", params={"page": "x"}).status_code == 400
    )


def test_analyses_light_only_success_and_order(fake, client):
    results, visited = all_pages(client, f"/v1/analyses/{ORG}/{PROJECT}/light")
    assert len(visited) == 2
    assert [a["slug"] for a in results] == [A, "20241108", "20241001"]
    assert all(a["status"] == "success" for a in results)
    keys = {
        "pk", "slug", "name", "friendly_name", "url", "status", "urls_done", "urls_in_queue",
        "date_launched", "date_finished", "date_last_modified", "date_created",
        "to_be_deleted_at", "comparable", "excluded_from_trends", "has_raw_pages",
    }  # fmt: skip
    assert set(results[0]) == keys
    everything, visited = all_pages(
        client, f"/v1/analyses/{ORG}/{PROJECT}/light?only_success=false"
    )
    assert len(visited) == 3  # two `next` hops
    assert [a["slug"] for a in everything] == ["20241201", A, "20241108", "20241001", "20240901"]
    assert [a["status"] for a in everything][0] == "crawling"
    launched = [a["date_launched"] for a in everything]
    assert launched == sorted(launched, reverse=True)

    r = client.get(f"/v1/analyses/{ORG}/nope.com/light")
    assert r.status_code == 404 and r.json()["error"]["error_code"] == "1010"


def test_collections(client):
    r = client.get(f"/v1/projects/{ORG}/{PROJECT}/collections")
    assert r.status_code == 200
    data = r.json()
    assert isinstance(data, list)
    ids = [c["id"] for c in data]
    assert ids == [f"crawl.{A}", "crawl.20241108", "crawl.20241001", "search_console"]
    assert data[0]["timestamped"] is False and data[0]["date"] == "2024-11-08"
    assert data[-1]["timestamped"] is True and "date_start" in data[-1]


# --- /query ---------------------------------------------------------------------------------


@pytest.mark.parametrize("max_depth", [0, 1, 2, 3])
def test_query_depth_sum_equals_edge_count(client, max_depth):
    body = query_body(
        [],
        [
            {"function": "sum", "args": [f"crawl.{A}.outlinks_internal.nb.total"]},
            {"field": f"crawl.{A}.count_urls_crawl"},
            f"crawl.{A}.outlinks_internal.nb.total",
        ],
        filters={"field": f"crawl.{A}.depth", "predicate": "lte", "value": max_depth},
    )
    r = client.post(QUERY_PATH, json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["results"] == [
        {
            "dimensions": [],
            "metrics": [
                GRAPH.edge_count(max_depth),
                GRAPH.url_count(max_depth),
                GRAPH.edge_count(max_depth),
            ],
        }
    ]
    assert data["count"] == 1 and data["next"] is None


def test_query_repost_paging(fake, client):
    body = query_body(
        ["url", f"crawl.{A}.depth"],
        [{"function": "sum", "args": [f"crawl.{A}.outlinks_internal.nb.total"]}],
        filters={"field": f"crawl.{A}.depth", "predicate": "lte", "value": 1},
    )
    rows, visited = all_pages(client, QUERY_PATH + "?size=7", body)
    n = GRAPH.url_count(1)
    assert len(visited) == -(-n // 7) and visited[1].startswith(fake.base_url + QUERY_PATH + "?")
    posts = fake.find_requests(QUERY_PATH, method="POST")
    assert [r.json for r in posts] == [body] * len(visited)
    assert [r.query.get("page") for r in posts][:2] == [None, "2"]
    assert [[r["dimensions"], r["metrics"]] for r in rows] == [
        [[GRAPH.url(i), GRAPH.depth(i)], [GRAPH.out_degree_of(i)]] for i in range(n)
    ]


NOT_SIMULATED = [
    {"sort": [0]},
    {"sort": [{"type": "metrics", "index": 0, "order": "desc"}]},
    {"dimensions": [f"crawl.{A}.depth"]},  # grouping by something other than the URL
    {"dimensions": [{"literal": "x"}]},
    {"metrics": [{"function": "avg", "args": [f"crawl.{A}.depth"]}]},
    {"metrics": [{"sum": f"crawl.{A}.depth"}]},
    {"filters": {"field": f"crawl.{A}.depth", "predicate": "between", "value": [1, 2]}},
    {"filters": {"field": "url", "predicate": "contains", "value": "/d2/"}},
    {"filters": {"and": [{"field": f"crawl.{A}.depth", "value": 1}]}},
    {"filters": {"not": {"field": f"crawl.{A}.depth", "value": 1}}},
    {"filters": {"field": f"crawl.{A}.outlinks_internal.graph.url", "predicate": "any.eq", "value": "x"}},
]  # fmt: skip


@pytest.mark.parametrize("change", NOT_SIMULATED)
def test_what_the_product_never_sends_is_refused_by_name(client, change):
    """Only what the app sends is simulated; anything else is a 400 that says so."""
    body = query_body(["url"], [f"crawl.{A}.count_urls_crawl"])
    body["query"].update(change)
    r = client.post(QUERY_PATH, json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["error_code"] == "1044"
    assert "not simulated" in error["error_detail"]["reason"] or "filter on" in str(error)


def test_query_one_row_per_url_and_list_values(client):
    body = query_body(
        [
            "url",
            f"crawl.{A}.depth",
            "segments.pagetype.value",
            f"crawl.{A}.outlinks_internal.graph.url",
        ],
        [],
    )
    data = client.post(QUERY_PATH + "?size=5", json=body).json()
    assert data["count"] == GRAPH.n_urls and data["size"] == 5
    first = data["results"][0]
    assert first == {
        "dimensions": ["https://example.com/", 0, "home", GRAPH.outlink_urls(0)],
        "metrics": [],
    }
    data = client.post(QUERY_PATH + "?size=5&page=3", json=body).json()
    assert [r["dimensions"][0] for r in data["results"]] == [GRAPH.url(i) for i in range(10, 15)]
    default = client.post(QUERY_PATH, json=body).json()
    assert default["size"] == 500 and len(default["results"]) == 500


ID_FILTERS = [
    ({"field": f"crawl.{A}.depth", "value": 1}, lambda g, i: g.depth(i) == 1),
    ({"field": f"crawl.{A}.depth", "predicate": "lte", "value": 2}, lambda g, i: g.depth(i) <= 2),
    ({"field": f"crawl.{A}.depth", "predicate": "lte", "value": "1"}, lambda g, i: g.depth(i) <= 1),
    ({"field": f"crawl.{A}.url", "predicate": "eq", "value": "https://example.com/d1/page-3"}, lambda g, i: g.url(i) == "https://example.com/d1/page-3"),
    ({"field": f"crawl.{A}.compliant.is_compliant", "value": False}, lambda g, i: not g.is_compliant(i)),
    ({"field": f"crawl.{A}.canonical.to.equal", "predicate": "eq", "value": "true"}, lambda g, i: g.canonical_equal(i)),
    ({"field": f"crawl.{A}.sitemaps.present", "value": True}, lambda g, i: g.in_sitemap(i)),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "expected"), ID_FILTERS)
def test_query_filters(client, filters, expected):
    body = query_body(["url"], [], filters=filters)
    data = client.post(QUERY_PATH + "?size=2000", json=body).json()
    want = [GRAPH.url(i) for i in range(GRAPH.n_urls) if expected(GRAPH, i)]
    assert want, "filter should select something"
    assert [r["dimensions"][0] for r in data["results"]] == want
    assert data["count"] == len(want)


def test_query_metric_functions(client):
    field = f"crawl.{A}.inlinks_internal.nb.total"
    body = query_body(
        [],
        [
            {"function": "sum", "args": [field]},
            {"function": "count", "args": [field]},
            {"function": "count"},
            f"crawl.{A}.count_urls_crawl",
        ],
    )
    (row,) = client.post(QUERY_PATH, json=body).json()["results"]
    vals = [GRAPH.inlink_count(i) for i in range(GRAPH.n_urls)]
    assert row["metrics"] == [sum(vals), len(vals), len(vals), GRAPH.n_urls]


def test_query_search_console(client):
    body = query_body(
        ["url"],
        ["search_console.period_0.count_impressions", "search_console.period_0.count_clicks"],
        collections=(f"crawl.{A}", "search_console"),
    )
    r = client.post(QUERY_PATH, json=body)
    assert r.status_code == 400 and r.json()["error"]["error_code"] == "1022"  # periods needed
    body["periods"] = [["2024-10-01", "2024-10-31"]]
    rows, _ = all_pages(client, QUERY_PATH + "?size=2000", body)
    assert [[r["dimensions"], r["metrics"]] for r in rows] == [
        [[GRAPH.url(i)], [GRAPH.gsc_impressions(i), GRAPH.gsc_clicks(i)]]
        for i in range(GRAPH.n_urls)
    ]
    r = client.post(QUERY_PATH, json=query_body([], ["search_console.period_0.count_clicks"]))
    assert r.status_code == 400 and r.json()["error"]["error_code"] == "1029"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (QUERY_PATH, query_body([f"crawl.{A}.nope"], []), 400, "1029"),
        (QUERY_PATH, query_body(["url"], [f"crawl.{A}.nope.total"]), 400, "1029"),
        (QUERY_PATH, query_body(["url"], [], filters={"field": "nope", "value": 1}), 400, "1029"),
        (
            QUERY_PATH,
            {"collections": [f"crawl.{A}"], "query": {"dimensions": ["url"]}},
            400,
            "1022",
        ),
        (QUERY_PATH, {"collections": [f"crawl.{A}"]}, 400, "1021"),
        (QUERY_PATH, query_body(["url"], collections=("crawl.20990101",)), 404, "1004"),
        (QUERY_PATH, query_body(["url"], collections=("crawl.20240901",)), 404, "1004"),
        (QUERY_PATH, query_body(["url"], [], sort=[{"index": 5}]), 400, "1044"),
        (f"/v1/projects/{ORG}/nope.com/query", query_body(["url"]), 404, "1010"),
    ],
)
def test_query_errors(client, path, body, status, code):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["error_code"] == code
    if code == "1029":
        assert r.json()["error"]["message"] == "Field does not exist"


def test_query_not_json_and_count_switch(fake, client):
    r = client.post(QUERY_PATH, content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["error_code"] == "1020"
    fake.query_count = False
    data = client.post(QUERY_PATH, json=query_body(["url"])).json()
    assert "count" not in data and data["next"] is not None


# --- jobs and downloads ---------------------------------------------------------------------


def test_job_lifecycle_and_gzip_download(fake, client, anon):
    fake.polls_before_done = 2
    r = client.post("/v1/jobs", json=export_payload(edges_query(2)))
    assert r.status_code == 201
    job = r.json()
    assert isinstance(job["job_id"], int)
    assert job["job_url"] == f"/v1/jobs/{job['job_id']}"
    assert job["job_status"] == "CREATED" and job["results"] is None
    assert job["payload"]["project"] == PROJECT and job["user"] == "jane.doe"
    statuses = []
    for _ in range(3):
        status = client.get(fake.base_url + job["job_url"]).json()
        statuses.append(status["job_status"])
    assert statuses == ["PROCESSING", "PROCESSING", "DONE"]
    assert fake.jobs[job["job_id"]]["polls"] == 3
    results = status["results"]
    url = results["download_url"]
    assert url.startswith(fake.base_url + "/downloads/") and url.endswith(".csv.gz")
    assert results["nb_lines"] == GRAPH.edge_count(2)
    # Same route when rebuilt from job_id; a finished job stays DONE.
    assert client.get(f"/v1/jobs/{job['job_id']}").json()["job_status"] == "DONE"
    assert client.get("/v1/jobs/999").status_code == 404

    d = anon.get(url, headers={"Authorization": "Token whatever"})  # auth ignored
    assert d.status_code == 200 and d.headers["content-length"] == str(len(d.content))
    text = read_export(d.content)
    lines = text.splitlines()
    assert lines[0] == "sep=,"
    assert lines[1] == "Full URL,Outlinks Internal Graph URL"
    rows = list(csv.reader(lines[2:]))
    assert len(rows) == GRAPH.edge_count(2)  # one row per edge
    assert rows[0] == [GRAPH.url(0), GRAPH.outlink_urls(0)[0]]
    assert set(map(tuple, rows)) == set(GRAPH.iter_edges(2))
    assert fake.find_requests("/downloads/")[0].status == 200


def test_zip_download_and_formatter_config(fake, client, anon):
    fake.polls_before_done = 0
    body = export_payload(
        query_body(
            ["url", f"crawl.{A}.metadata.title.content", f"crawl.{A}.depth"],
            filters={"field": f"crawl.{A}.depth", "predicate": "lte", "value": 1},
        ),
        extra_config={"filetype": "zip"},
    )
    status = run_job(client, fake, body)
    url = status["results"]["download_url"]
    assert url.endswith(".zip")
    text = read_export(anon.get(url).content, "zip")
    assert text.splitlines()[:3] == ["sep=,", "Full URL,Title,Depth", "https://example.com/,Home,0"]
    assert text.splitlines()[3] == 'https://example.com/d1/page-0,"Page 0, depth 1",1'

    body = export_payload(
        query_body(["url", f"crawl.{A}.depth"], [f"crawl.{A}.count_urls_crawl"]),
        formatter_config={"print_delimiter": False, "header_format": "slug", "delimiter": ";"},
        export_size=5,
    )
    status = run_job(client, fake, body)
    assert status["results"]["nb_lines"] == 5
    lines = read_export(anon.get(status["results"]["download_url"]).content).splitlines()
    assert lines == ["url;depth;count_urls_crawl"] + [
        f"{GRAPH.url(i)};{GRAPH.depth(i)};1" for i in range(5)
    ]

    body["payload"]["formatter_config"] = {
        "print_header": False,
        "header_format": "collection_slug",
    }
    lines = read_export(
        anon.get(run_job(client, fake, body)["results"]["download_url"]).content
    ).splitlines()
    assert lines[0] == "sep=," and lines[1] == "https://example.com/,0,1" and len(lines) == 6
    body["payload"]["formatter_config"] = {"header_format": "collection_slug"}
    lines = read_export(
        anon.get(run_job(client, fake, body)["results"]["download_url"]).content
    ).splitlines()
    assert lines[1] == f"url,crawl.{A}.depth,crawl.{A}.count_urls_crawl"

    fake.download_format = "plain"
    status = run_job(client, fake, body)
    assert status["results"]["download_url"].endswith(".csv")
    assert anon.get(status["results"]["download_url"]).text.startswith("sep=,\n")


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda b: b["payload"].update(export_size=1_000_001), 400, "1020"),
        (lambda b: b["payload"].update(export_size=0), 400, "1020"),
        (lambda b: b["payload"].pop("query"), 400, "1020"),
        (lambda b: b["payload"].pop("username"), 400, "1020"),
        (lambda b: b.pop("job_type"), 400, "1020"),
        (lambda b: b["payload"].update(project="nope.com"), 404, "1010"),
        (lambda b: b["payload"]["query"]["query"]["dimensions"].append("crawl.x.y"), 400, "1029"),
        (lambda b: b["payload"]["query"]["query"].pop("metrics"), 400, "1022"),
    ],
)
def test_job_validation(client, mutate, status, code):
    body = export_payload(edges_query(1))
    mutate(body)
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["error_code"] == code


def test_job_failed_and_done_without_results(fake, client):
    fake.polls_before_done = 1
    fake.job_outcome = "failed"
    status = run_job(client, fake, export_payload(edges_query(1)))
    assert status["job_status"] == "FAILED" and status["results"] is None
    assert status["error"] == {"message": "The export failed", "error_code": "1060"}
    fake.job_outcome = "done_without_results"
    status = run_job(client, fake, export_payload(edges_query(1)))
    assert status["job_status"] == "DONE" and status["results"] is None


def test_download_faults(fake, client, anon):
    fake.polls_before_done = 0
    url = run_job(client, fake, export_payload(edges_query(3)))["results"]["download_url"]
    full = anon.get(url).content

    fake.download_fault = "truncated"
    r = anon.get(url)
    assert r.status_code == 200 and 0 < len(r.content) < len(full)
    assert int(r.headers["content-length"]) == len(r.content)
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress(r.content)

    fake.download_fault = "forbidden"
    r = anon.get(url)
    assert r.status_code == 403 and "AccessDenied" in r.text
    fake.download_fault = "not_found"
    assert anon.get(url).status_code == 404

    fake.download_fault = "empty"
    lines = read_export(anon.get(url).content).splitlines()
    assert lines == ["sep=,", "Full URL,Outlinks Internal Graph URL"]
    fake.download_fault = None
    assert anon.get(url).content == full
    assert anon.get(fake.base_url + "/downloads/424242/x.csv.gz").status_code == 404

    fake.download_format = "zip"
    fake.download_fault = "truncated"
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(anon.get(url).content))


def test_row_count_faults_are_fixed_when_the_job_is_done(fake, client, anon):
    fake.polls_before_done = 0
    full = GRAPH.edge_count(3)
    fake.download_fault = "short"
    short = run_job(client, fake, export_payload(edges_query(3)))
    assert "nb_lines" not in short["results"]  # the client must fall back on its own count
    fake.download_fault = "nb_lines_mismatch"
    mismatch = run_job(client, fake, export_payload(edges_query(3)))
    assert mismatch["results"]["nb_lines"] == full
    fake.download_fault = None  # later downloads still serve what the job was given
    for status in (short, mismatch):
        lines = read_export(anon.get(status["results"]["download_url"]).content).splitlines()
        assert lines[:2] == ["sep=,", "Full URL,Outlinks Internal Graph URL"]
        assert len(lines) - 2 == full // 10
    fake.download_fault = "empty"
    empty = run_job(client, fake, export_payload(edges_query(3)))
    assert empty["results"]["nb_lines"] == 0


def test_range_requests_and_dropped_downloads(fake, client, anon):
    fake.polls_before_done = 0
    url = run_job(client, fake, export_payload(edges_query(3)))["results"]["download_url"]
    full = anon.get(url).content
    assert anon.get(url).headers["accept-ranges"] == "bytes"

    part = anon.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == full[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    middle = anon.get(url, headers={"Range": "bytes=10-19"})
    assert middle.status_code == 206 and middle.content == full[10:20]
    assert anon.get(url, headers={"Range": f"bytes={len(full)}-"}).status_code == 416
    assert anon.get(url, headers={"Range": "lines=1-"}).content == full  # ignored, like S3

    fake.download_fault = "drop"
    fake.download_fault_times = 1
    with pytest.raises(httpx.RemoteProtocolError):
        anon.get(url)  # half the body, then the connection closes
    resumed = anon.get(url, headers={"Range": "bytes=5-"})  # the fault was used up
    assert resumed.status_code == 206 and resumed.content == full[5:]

    fake.accept_ranges = False
    whole = anon.get(url, headers={"Range": "bytes=100-"})
    assert whole.status_code == 200 and whole.content == full
    assert "accept-ranges" not in whole.headers


def test_link_graph_node_fields(client):
    fields = [
        "http_code",
        "canonical.to.url",
        "inlinks_internal.nb.unique",
        "outlinks_internal.nb.unique",
        "internal_page_rank.value",
        "internal_page_rank.position",
        "internal_page_rank.raw",
    ]
    body = query_body(["url", *(f"crawl.{A}.{name}" for name in fields)])
    rows, _ = all_pages(client, QUERY_PATH, body)
    assert len(rows) == GRAPH.n_urls
    positions = []
    for row in rows:
        url, code, canonical, inl, outl, value, position, raw = row["dimensions"]
        i = GRAPH.index_of(url)
        assert code == GRAPH.http_code(i) and inl == GRAPH.inlink_count(i)
        assert outl == GRAPH.out_degree_of(i)
        assert (canonical == url) == GRAPH.canonical_equal(i)
        assert 0.0 <= value <= 10.0 and 0 < raw < 1
        positions.append(position)
    assert sorted(positions) == list(range(1, GRAPH.n_urls + 1))
    best = min(rows, key=lambda r: r["dimensions"][6])["dimensions"]
    assert best[5] == 10.0 and best[3] == max(GRAPH.inlink_count(i) for i in range(GRAPH.n_urls))


def test_download_rate_allows_cancel(fake, client, anon):
    fake.polls_before_done = 0
    url = run_job(client, fake, export_payload(edges_query(3)))["results"]["download_url"]
    fake.download_rate = 20_000  # bytes/s, the file is several times larger
    t0 = time.monotonic()
    with anon.stream("GET", url) as r:
        total = int(r.headers["content-length"])
        chunk = next(r.iter_raw())
        assert 0 < len(chunk) < total
    assert time.monotonic() - t0 < 1.0
    fake.download_rate = None
    assert len(anon.get(url).content) == total  # server still fine


# --- fault injection, rate limits, delays ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "code"),
    [
        (401, "json", None, "1001"),
        (403, "json", None, "1002"),
        (404, "json", None, "1010"),
        (429, "json", None, "1053"),
        (429, "json", 3, "1053"),
        (500, "json", None, "1000"),
        (500, "html", None, None),
        (500, "empty", None, None),
        (502, "json", None, "1000"),
        (502, "html", None, None),
        (502, "empty", None, None),
        (503, "json", 1, "1000"),
        (503, "html", None, None),
        (503, "empty", None, None),
        (504, "html", None, None),
    ],
)
def test_injected_faults(fake, client, status, body, retry_after, code):
    inj = fake.inject(status, body=body, retry_after=retry_after)
    r = client.get("/v1/authentication/profile")
    assert r.status_code == status
    if retry_after is None:
        assert "retry-after" not in r.headers
    else:
        assert r.headers["retry-after"] == str(retry_after)
    if body == "json":
        assert r.json()["error"]["error_code"] == code
    elif body == "html":
        assert r.headers["content-type"].startswith("text/html") and "<html>" in r.text
    else:
        assert r.content == b""
    assert inj.served == 1 and fake.injected_served == 1
    assert client.get("/v1/authentication/profile").status_code == 200  # times=1


def test_injection_matching(fake, client, anon):
    inj = fake.inject(503, path="/query", method="POST", times=2)
    rx = fake.inject(500, path=r"^/v1/projects/[^/]+$")
    assert client.get(f"/v1/projects/{ORG}/{PROJECT}/collections").status_code == 200
    assert client.get("/v1/projects/jane.doe").status_code == 500
    assert [client.post(QUERY_PATH, json=query_body(["url"])).status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]
    assert inj.served == 2 and inj.remaining == 0 and rx.served == 1
    assert fake.injected_served == 3
    assert [r.injected for r in fake.find_requests(QUERY_PATH)] == [True, True, False]
    fake.inject(404, path="/downloads/", body="empty")  # explicit path reaches downloads
    assert anon.get(fake.base_url + "/downloads/1/x.csv.gz").status_code == 404


def test_rate_limiting(fake, client):
    fake.rate_limit_rps = 3
    codes = [client.get("/v1/authentication/profile") for _ in range(6)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429, 429]
    assert codes[-1].json() == {"error": {"error_code": "1053", "message": "Too many requests"}}
    assert "retry-after" not in codes[-1].headers
    fake.retry_after_on_rate_limit = 1
    r = client.get("/v1/authentication/profile")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    time.sleep(1.05)
    assert client.get("/v1/authentication/profile").status_code == 200


def test_response_delay_and_poll_delay(fake, client):
    fake.response_delay = 0.5
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/authentication/profile", timeout=0.1)
    fake.response_delay = 0.0
    fake.poll_delay = 0.3
    job = client.post("/v1/jobs", json=export_payload(edges_query(0))).json()
    t0 = time.monotonic()
    client.get(job["job_url"])
    assert time.monotonic() - t0 >= 0.3


def test_requests_are_recorded_and_keep_alive(fake, client):
    client.post(QUERY_PATH + "?size=3&page=1", json=query_body(["url"]))
    client.get("/v1/authentication/profile")
    post, get = fake.requests[-2:]
    assert post.method == "POST" and post.path == QUERY_PATH
    assert post.query == {"size": "3", "page": "1"}
    assert post.headers["authorization"] == f"Token {TOKEN}"
    assert post.json == query_body(["url"]) and post.status == 200
    assert get.json is None and get.time >= post.time
    assert post.client == get.client  # same kept-alive connection


def test_cli_standalone(anon):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.botify_server",
            "--port",
            "0",
            "--edges",
            "2000",
            "--token",
            "cli-token",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        r = anon.get(
            base_url + "/v1/authentication/profile", headers={"Authorization": "Token cli-token"}
        )
        assert r.json()["data"]["username"] == "jane.doe"
        cols = anon.get(
            base_url + "/v1/projects/acme-org/example.com/collections",
            headers={"Authorization": "Token cli-token"},
        ).json()
        assert cols[0]["id"] == "crawl.20241108-2"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_million_edge_graph_and_export_are_fast(anon):
    t0 = time.perf_counter()
    graph = SyntheticGraph(depth_sizes=[1, 50, 2500, 125000], out_degree=8, seed=0).build()
    assert graph.edge_count() >= 1_000_000
    with FakeBotify(token=TOKEN) as fake:
        fake.polls_before_done = 0
        fake.add_project(ORG, PROJECT, analyses=[A], graph=graph)
        with httpx.Client(
            base_url=fake.base_url, headers=AUTH, timeout=60, verify=SSL_CONTEXT
        ) as client:
            status = run_job(client, fake, export_payload(edges_query(3)))
            assert status["results"]["nb_lines"] == 1_000_000  # capped at export_size
            content = anon.get(status["results"]["download_url"], timeout=60).content
    elapsed = time.perf_counter() - t0
    assert elapsed < 15, elapsed
    assert gzip.decompress(content).count(b"\n") == 1_000_002

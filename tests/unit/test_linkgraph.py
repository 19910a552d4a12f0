"""The link-graph export job, end to end against the real fake HTTP server.

Exports are checked against the synthetic graph the fake serves, and the streamed summary is
checked against an independent computation from the CSV files the job wrote.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botifython_tui.core.botify import BotifyClient, RetryPolicy
from botifython_tui.core.csv_stream import CsvRewriter, StreamDecoder, TruncatedDownload
from botifython_tui.core.export_files import remove_stale_parts, safe_name_part
from botifython_tui.core.graph_stats import LinkGraphStats
from botifython_tui.core.linkgraph import (
    BytesDownloaded,
    DepthChecked,
    DepthChosen,
    ExportFailed,
    ExportFinished,
    FileWritten,
    JobCreated,
    JobPolled,
    LinkGraphExport,
    LinkGraphRequest,
    LinkGraphResult,
    Notice,
    PollPolicy,
    StepStarted,
    export_paths,
)
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "linkgraph-token-abcdef"
ORG, PROJECT, A = "acme-org", "example.com", "20241108-2"
GRAPH = SyntheticGraph(depth_sizes=[1, 6, 30, 120], out_degree=(2, 5), seed=7)
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, total_time=10)
FAST_POLL = PollPolicy(first_delay=0.01, factor=1.5, max_delay=0.05, deadline=30)
META_COLUMNS = [
    "id",
    "depth",
    "pagetype",
    "http_code",
    "is_compliant",
    "canonical_is_self",
    "canonical_to",
    "in_sitemap",
    "inlinks",
    "outlinks",
    "pagerank_botify",
    "pagerank_botify_position",
]


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    f = FakeBotify(token=TOKEN, username="jane.doe")
    f.add_project(ORG, PROJECT, analyses=[A, "20241001"], graph=GRAPH, has_search_console=True)
    f.add_project(ORG, "no-gsc.example", analyses=[A], graph=GRAPH, has_search_console=False)
    f.polls_before_done = 1
    with f:
        yield f


@pytest.fixture
async def client(fake: FakeBotify) -> AsyncIterator[BotifyClient]:
    # The 5-requests-per-second cap is tested in test_botify_client; lift it here for speed.
    async with BotifyClient(TOKEN, fake.base_url, retry=FAST_RETRY, timeout=10, rate=1000) as c:
        yield c


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def request(max_edges: int = 1_000_000, **kwargs) -> LinkGraphRequest:
    kwargs.setdefault("org", ORG)
    kwargs.setdefault("project", PROJECT)
    kwargs.setdefault("analysis", A)
    return LinkGraphRequest(max_edges=max_edges, **kwargs)


async def run_export(
    client: BotifyClient,
    downloads: Path,
    req: LinkGraphRequest,
    poll: PollPolicy = FAST_POLL,
) -> tuple[LinkGraphResult, list]:
    events = []
    job = LinkGraphExport(client, req, downloads, poll=poll, retry_delay=0.01)
    async for event in job.run():
        events.append(event)
    assert isinstance(events[-1], ExportFinished)
    return events[-1].result, events


async def expect_failure(client, downloads, req, exc=ExportFailed, poll=FAST_POLL) -> list:
    events: list = []
    with pytest.raises(exc) as info:
        job = LinkGraphExport(client, req, downloads, poll=poll, retry_delay=0.01)
        async for event in job.run():
            events.append(event)
    events.append(info.value)
    return events


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def queries(fake: FakeBotify) -> list:
    return fake.find_requests(f"/v1/projects/{ORG}/", "POST")


def job_posts(fake: FakeBotify) -> list[dict]:
    return [r.json["payload"] for r in fake.find_requests("/v1/jobs", "POST")]


# --- depth choice ------------------------------------------------------------------------------


def depth_events(events: list) -> tuple[list[DepthChecked], DepthChosen]:
    checked = [e for e in events if isinstance(e, DepthChecked)]
    (chosen,) = [e for e in events if isinstance(e, DepthChosen)]
    return checked, chosen


@pytest.mark.parametrize("slack", [0, 1])
async def test_depth_is_the_deepest_within_budget(
    fake: FakeBotify, client: BotifyClient, downloads: Path, slack: int
):
    budget = GRAPH.edge_count(2) + slack  # between the depth-2 and depth-3 edge counts
    assert budget < GRAPH.edge_count(3)
    result, events = await run_export(client, downloads, request(budget, include_meta=False))
    checked, chosen = depth_events(events)
    assert [(e.depth, e.edges, e.within_budget) for e in checked] == [
        (1, GRAPH.edge_count(1), True),
        (2, GRAPH.edge_count(2), True),
        (3, GRAPH.edge_count(3), False),
    ]
    assert (chosen.depth, chosen.edges) == (2, GRAPH.edge_count(2))
    assert "depth 3" in chosen.reason and "budget" in chosen.reason
    assert result.depth == 2 and result.edges == GRAPH.edge_count(2)
    assert len(queries(fake)) == 3
    # The count query is the documented BQL: sum of outlinks with depth <= d.
    body = queries(fake)[1].json
    assert body["collections"] == [f"crawl.{A}"]
    assert body["query"]["filters"] == {"field": f"crawl.{A}.depth", "predicate": "lte", "value": 2}


async def test_depth_one_over_budget_uses_depth_one(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    budget = GRAPH.edge_count(1) - 3
    result, events = await run_export(client, downloads, request(budget, include_meta=False))
    checked, chosen = depth_events(events)
    assert [(e.depth, e.within_budget) for e in checked] == [(1, False)]
    assert chosen.depth == 1 and "even depth 1" in chosen.reason
    assert len(queries(fake)) == 1
    assert result.links_path.name == f"{ORG}_{PROJECT}_{A}_linkgraph_depth-1.csv"
    # The export asks for no more rows than the budget.
    (payload,) = job_posts(fake)
    assert payload["export_size"] == budget
    assert len(read_rows(result.links_path)) - 1 == budget


async def test_depth_stops_early_when_the_count_stops_growing(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    small_tail = SyntheticGraph(depth_sizes=[1, 5, 25, 2], out_degree=(2, 4), seed=1)
    fake.add_project(ORG, "tail.example", analyses=[A], graph=small_tail)
    req = request(10**6, project="tail.example", include_meta=False)
    result, events = await run_export(client, downloads, req)
    checked, chosen = depth_events(events)
    # depths 1..3 grow, depth 4 adds nothing: stop there instead of probing up to 30
    assert [e.depth for e in checked] == [1, 2, 3, 4]
    assert checked[-1].edges == checked[-2].edges == small_tail.edge_count()
    assert chosen.depth == 3 and "stopped growing" in chosen.reason
    assert len(fake.find_requests("/tail.example/query", "POST")) == 4
    assert result.edges == small_tail.edge_count(3)


async def test_steps_are_reported_in_order(client: BotifyClient, downloads: Path):
    _, events = await run_export(client, downloads, request())
    steps = [e.step for e in events if isinstance(e, StepStarted)]
    assert steps == ["depth", "links", "meta", "summary"]
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("DepthChosen") < kinds.index("JobCreated")
    assert [e.kind for e in events if isinstance(e, JobCreated)] == ["links", "meta"]
    assert any(isinstance(e, JobPolled) and e.status == "PROCESSING" for e in events)
    assert [e.kind for e in events if isinstance(e, FileWritten)] == ["links", "meta"]


async def test_no_links_at_all_is_a_clear_error(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    fake.add_project(ORG, "lonely.example", analyses=[A], graph=SyntheticGraph([1], out_degree=0))
    events = await expect_failure(client, downloads, request(project="lonely.example"))
    assert "no internal links" in str(events[-1])
    assert job_posts(fake) == []


# --- happy paths -------------------------------------------------------------------------------


def bucket(degree: int) -> str:
    if degree == 0:
        return "0"
    low = 1
    while low * 2 <= degree:
        low *= 2
    return str(low) if low == 1 else f"{low}–{2 * low - 1}"


def independent_summary(links: Path, meta: Path | None) -> dict:
    """The summary recomputed from the written files with the csv module."""
    rows = read_rows(links)
    assert rows[0] == ["source", "target"]
    edges = rows[1:]
    out_degree = Counter(source for source, _ in edges)
    in_degree = Counter(target for _, target in edges)
    depths: dict[str, int] = {}
    if meta is not None:
        meta_rows = read_rows(meta)
        depth_col = meta_rows[0].index("depth")
        depths = {row[0]: int(row[depth_col]) for row in meta_rows[1:]}
    nodes = set(out_degree) | set(in_degree) | set(depths)

    def histogram(degrees: Counter) -> list[tuple[str, int]]:
        counts = Counter(bucket(degrees.get(url, 0)) for url in nodes)
        return sorted(counts.items(), key=lambda item: int(item[0].split("–")[0]))

    return {
        "urls": len(nodes),
        "edges": len(edges),
        "out_degree": histogram(out_degree),
        "in_degree": histogram(in_degree),
        "without_inlinks": sum(1 for url in nodes if in_degree.get(url, 0) == 0),
        "depth_histogram": sorted(Counter(depths.values()).items()),
        "out": out_degree,
        "in": in_degree,
    }


def check_summary(summary: dict, expected: dict) -> None:
    assert summary["urls"] == expected["urls"]
    assert summary["edges"] == expected["edges"]
    assert [tuple(b) for b in summary["out_degree"]] == expected["out_degree"]
    assert [tuple(b) for b in summary["in_degree"]] == expected["in_degree"]
    assert summary["without_inlinks"] == expected["without_inlinks"]
    assert [tuple(d) for d in summary["depth_histogram"]] == expected["depth_histogram"]
    hubs = summary["top_hubs"]
    assert len(hubs) == min(10, len(expected["out"]))
    assert all(expected["out"][url] == n for url, n in hubs)
    assert [n for _, n in hubs] == sorted(expected["out"].values(), reverse=True)[: len(hubs)]
    linked = summary["top_linked"]
    assert all(expected["in"][url] == n for url, n in linked)
    assert [n for _, n in linked] == sorted(expected["in"].values(), reverse=True)[: len(linked)]
    sample = summary["without_inlinks_sample"]
    assert all(expected["in"].get(url, 0) == 0 for url in sample)


@pytest.mark.parametrize("fmt", [None, "gzip", "zip", "plain"])
async def test_full_export(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fmt: str | None
):
    fake.download_format = fmt
    result, events = await run_export(client, downloads, request())
    depth = GRAPH.max_depth
    assert result.depth == depth

    # Files: final names, nothing else left in the folder.
    base = f"{ORG}_{PROJECT}_{A}"
    assert result.links_path == downloads / f"{base}_linkgraph_depth-{depth}.csv"
    assert result.meta_path == downloads / f"{base}_depth-{depth}_meta.csv"
    assert listing(downloads) == sorted([result.links_path.name, result.meta_path.name])

    # Edges: exactly the graph's, under our header, no `sep=`.
    raw = result.links_path.read_bytes()
    assert raw.startswith(b"source,target\n") and b"sep=" not in raw and b"\r" not in raw
    rows = read_rows(result.links_path)
    assert len(rows) - 1 == GRAPH.edge_count(depth)
    assert Counter(map(tuple, rows[1:])) == Counter(GRAPH.iter_edges(depth))

    # Nodes: one row per URL of depth <= d, our column names, Search Console metrics included.
    meta = read_rows(result.meta_path)
    assert meta[0] == [*META_COLUMNS, "impressions", "clicks"] == result.meta_columns
    assert len(meta) - 1 == GRAPH.url_count(depth)
    by_url = {row[0]: row for row in meta[1:]}
    assert set(by_url) == set(GRAPH.urls()[: GRAPH.url_count(depth)])
    home = by_url[GRAPH.url(0)]
    assert home[1:3] == ["0", "home"]
    assert int(home[12]) == GRAPH.gsc_impressions(0) and int(home[13]) == GRAPH.gsc_clicks(0)

    # Events report the files.
    written = {e.kind: e for e in events if isinstance(e, FileWritten)}
    assert written["links"].rows == GRAPH.edge_count(depth)
    assert written["meta"].rows == GRAPH.url_count(depth)
    assert written["links"].size == result.links_path.stat().st_size

    # The summary, computed while streaming, matches a recomputation from the files…
    check_summary(result.summary, independent_summary(result.links_path, result.meta_path))
    # …and the graph itself.
    assert result.edges == result.summary["edges"] == GRAPH.edge_count(depth)
    assert [tuple(d) for d in result.summary["depth_histogram"]] == [
        (d, n) for d, n in enumerate(GRAPH.depth_sizes)
    ]
    assert result.summary["depth"] == depth and result.summary["depth_reason"]
    assert result.summary["skipped_rows"] == 0 and result.summary["unknown_depth"] == 0
    assert GRAPH.url(0) in result.summary["without_inlinks_sample"]

    # What was asked of Botify.
    links_payload, meta_payload = job_posts(fake)
    for payload, deepest in ((links_payload, depth), (meta_payload, depth + 1)):
        assert payload["username"] == ORG and payload["project"] == PROJECT
        assert payload["connector"] == "direct_download" and payload["formatter"] == "csv"
        assert payload["query"]["query"]["filters"] == {
            "field": f"crawl.{A}.depth",
            "predicate": "lte",
            "value": deepest,
        }
    assert links_payload["query"]["query"]["dimensions"] == [
        "url",
        f"crawl.{A}.outlinks_internal.graph.url",
    ]
    assert links_payload["query"]["collections"] == [f"crawl.{A}"]
    assert links_payload["export_size"] == GRAPH.edge_count(depth)
    assert meta_payload["query"]["collections"] == [f"crawl.{A}", "search_console"]
    start, end = meta_payload["query"]["periods"][0]
    assert start < end <= "2024-11-08"

    # Jobs were polled through their relative job_url; downloads carried no token.
    assert all(r.headers.get("authorization") for r in fake.find_requests("/v1/jobs/"))
    downloads_seen = fake.find_requests("/downloads/")
    assert len(downloads_seen) == 2
    assert all("authorization" not in r.headers for r in downloads_seen)


async def test_meta_without_search_console(fake: FakeBotify, client: BotifyClient, downloads: Path):
    result, events = await run_export(client, downloads, request(project="no-gsc.example"))
    meta = read_rows(result.meta_path)
    assert meta[0] == META_COLUMNS == result.meta_columns
    assert len(meta) - 1 == GRAPH.url_count(result.depth)
    assert any(isinstance(e, Notice) and "Search Console" in e.message for e in events)
    meta_payload = job_posts(fake)[1]
    assert meta_payload["query"]["collections"] == [f"crawl.{A}"]
    assert "periods" not in meta_payload["query"]
    assert meta_payload["query"]["query"]["metrics"] == []


async def test_without_meta_summary_still_matches_the_links(client: BotifyClient, downloads: Path):
    result, _ = await run_export(client, downloads, request(include_meta=False))
    assert result.meta_path is None
    assert listing(downloads) == [result.links_path.name]
    check_summary(result.summary, independent_summary(result.links_path, None))


async def test_empty_export_is_refused(fake: FakeBotify, client: BotifyClient, downloads: Path):
    fake.download_fault = "empty"
    events = await expect_failure(client, downloads, request())
    assert "came back empty" in str(events[-1])
    assert not any(isinstance(e, FileWritten) for e in events)
    assert listing(downloads) == []


# --- failures: nothing partial under a final name ---------------------------------------------


def assert_nothing_written(downloads: Path) -> None:
    assert listing(downloads) == []


async def test_failed_job(fake: FakeBotify, client: BotifyClient, downloads: Path):
    fake.job_outcome = "failed"
    events = await expect_failure(client, downloads, request())
    message = str(events[-1])
    assert "failed" in message and "The export failed" in message
    assert_nothing_written(downloads)


async def test_done_without_results(fake: FakeBotify, client: BotifyClient, downloads: Path):
    fake.job_outcome = "done_without_results"
    events = await expect_failure(client, downloads, request())
    assert "no download link" in str(events[-1])
    assert_nothing_written(downloads)


@pytest.mark.parametrize("fmt", ["gzip", "zip"])
async def test_truncated_download(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fmt: str
):
    fake.download_format = fmt
    fake.download_fault = "truncated"
    events = await expect_failure(client, downloads, request())
    message = str(events[-1])
    assert "after 4 tries" in message and "Run the export again" not in message
    assert isinstance(events[-1].__cause__, TruncatedDownload)
    # the same link, fetched four times; no second job
    assert len(fake.find_requests("/downloads/")) == 4
    assert len(fake.find_requests("/v1/jobs", "POST")) == 1
    assert_nothing_written(downloads)  # no final file, no .part, no zip spool


@pytest.mark.parametrize(
    "fault,status,words", [("forbidden", 403, "expire"), ("not_found", 404, "no longer exists")]
)
async def test_download_refused(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fault: str, status: int, words: str
):
    fake.download_fault = fault
    events = await expect_failure(client, downloads, request())
    assert f"HTTP {status}" in str(events[-1]) and words in str(events[-1])
    assert_nothing_written(downloads)


async def test_poll_deadline(fake: FakeBotify, client: BotifyClient, downloads: Path):
    fake.polls_before_done = 10_000
    poll = PollPolicy(first_delay=0.02, factor=1.5, max_delay=0.1, deadline=0.3)
    started = time.monotonic()
    events = await expect_failure(client, downloads, request(), poll=poll)
    elapsed = time.monotonic() - started
    assert "did not finish" in str(events[-1])
    assert 0.3 <= elapsed < 1.5
    assert_nothing_written(downloads)


async def test_api_error_while_polling_is_typed_and_leaves_nothing(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    from botifython_tui.core.botify import ServerError

    fake.inject(502, path="/v1/jobs/", method="GET", body="html", times=None)
    await expect_failure(client, downloads, request(), exc=ServerError)
    assert_nothing_written(downloads)


async def test_failed_reexport_keeps_the_previous_good_file(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    first, _ = await run_export(client, downloads, request(include_meta=False))
    good = first.links_path.read_bytes()
    fake.download_fault = "truncated"
    await expect_failure(client, downloads, request(include_meta=False))
    assert first.links_path.read_bytes() == good
    assert listing(downloads) == [first.links_path.name]


# --- cancellation and kill ---------------------------------------------------------------------


async def cancel_when(export: LinkGraphExport, seen, after: float = 0.0) -> float:
    """Run the export in a task, cancel it once `seen(event)`; returns how long the cancel took."""
    reached = asyncio.Event()

    async def consume() -> None:
        async for event in export.run():
            if seen(event):
                reached.set()

    task = asyncio.create_task(consume())
    waiter = asyncio.create_task(reached.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    assert waiter in done, task.exception() if task.done() else "the event never came"
    await asyncio.sleep(after)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


async def test_cancel_while_polling(fake: FakeBotify, client: BotifyClient, downloads: Path):
    fake.polls_before_done = 10_000
    poll = PollPolicy(first_delay=0.5, factor=1.0, max_delay=0.5, deadline=60)
    export = LinkGraphExport(client, request(), downloads, poll=poll)
    took = await cancel_when(export, lambda e: isinstance(e, JobPolled), after=0.1)
    assert took < 1.0
    polls = len(fake.find_requests("/v1/jobs/", "GET"))
    await asyncio.sleep(0.7)
    assert len(fake.find_requests("/v1/jobs/", "GET")) == polls  # polling really stopped
    assert_nothing_written(downloads)


@pytest.mark.parametrize("fmt", ["plain", "zip", "gzip"])
async def test_cancel_during_a_slow_download(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fmt: str
):
    fake.download_format = fmt
    fake.download_rate = 5_000  # bytes per second: even the gzip file takes over a second
    export = LinkGraphExport(client, request(), downloads, poll=FAST_POLL)
    took = await cancel_when(
        export, lambda e: isinstance(e, BytesDownloaded) and e.kind == "links", after=0.4
    )
    assert took < 1.0
    assert_nothing_written(downloads)  # no final file, no .part, no spool


KILL_SCRIPT = """
import asyncio, sys
from pathlib import Path
from botifython_tui.core.botify import BotifyClient
from botifython_tui.core.linkgraph import (
    BytesDownloaded, LinkGraphExport, LinkGraphRequest, PollPolicy)

async def main():
    base, token, downloads = sys.argv[1:4]
    async with BotifyClient(token, base, rate=1000) as client:
        export = LinkGraphExport(
            client, LinkGraphRequest("acme-org", "example.com", "20241108-2"), Path(downloads),
            poll=PollPolicy(first_delay=0.01, factor=1.5, max_delay=0.05))
        async for event in export.run():
            if isinstance(event, BytesDownloaded) and event.kind == "links":
                print("downloading", flush=True)

asyncio.run(main())
"""


async def test_killed_process_leaves_only_a_hidden_part_file(fake: FakeBotify, downloads: Path):
    fake.download_format = "plain"
    fake.download_rate = 20_000
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, fake.base_url, TOKEN, str(downloads)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "downloading", proc.stderr.read() if proc.poll() else line
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    names = listing(downloads)
    assert names, "the killed export should have left its partial file"
    assert all(name.startswith(".") and ".part-" in name for name in names)
    assert remove_stale_parts(downloads, older_than=0) == len(names)
    assert listing(downloads) == []


# --- file names --------------------------------------------------------------------------------

HOSTILE = [
    "../../etc",
    "/abs",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "x" * 1000,
    "ünïcødé-名前",
    ".hidden",
    "..",
    ".",
    "",
    "   ",
    "-rf",
    "a\nb",
    "~",
    "$(rm -rf)",
    "C:\\Windows",
]


def short_id(value: object) -> str:
    return repr(value)[:24]


@pytest.mark.parametrize("value", HOSTILE, ids=short_id)
def test_safe_name_part(value: str):
    part = safe_name_part(value)
    assert part and not part.startswith((".", "-"))
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in part)
    assert part not in (".", "..")


@pytest.mark.parametrize("org", HOSTILE[:8], ids=short_id)
@pytest.mark.parametrize("analysis", ["../../etc", "x" * 1000, ".hidden", "\x00"], ids=short_id)
def test_export_paths_stay_inside_downloads(tmp_path: Path, org: str, analysis: str):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for project in (org, "y" * 1000, "example.com"):
        for depth in (1, 30):
            links, meta = export_paths(downloads, org, project, analysis, depth)
            for path in (links, meta):
                assert path.parent == downloads
                assert path.resolve().parent == downloads.resolve()
                assert not path.name.startswith(".")
                # the name, and the hidden partial file written beside it, fit in NAME_MAX
                part = f".{path.name}.part-{4_194_304}-{2**48:x}"
                assert len(part.encode()) <= 255
                path.touch()  # the OS agrees: it can be created
                path.unlink()
            assert links.name.endswith(f"_linkgraph_depth-{depth}.csv")
            assert meta.name.endswith("_meta.csv")


NAME = st.text(max_size=300) | st.text(alphabet="ab./-_\x00 é", max_size=300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(org=NAME, project=NAME, analysis=NAME)
def test_export_paths_never_leave_the_folder(org: str, project: str, analysis: str):
    downloads = Path("/nonexistent/downloads")
    links, meta = export_paths(downloads, org, project, analysis, 3)
    assert links.parent == downloads and meta.parent == downloads
    assert len(f".{links.name}.part-4194304-{2**48:x}".encode()) <= 255


async def test_long_names_export_end_to_end(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    org, project, analysis = "o" * 120, "p" * 120 + ".example", "a" * 120
    fake.add_project(org, project, analyses=[analysis], graph=GRAPH)
    result, _ = await run_export(
        client, downloads, request(org=org, project=project, analysis=analysis)
    )
    assert result.links_path.parent == downloads and result.links_path.exists()
    assert listing(downloads) == sorted([result.links_path.name, result.meta_path.name])


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_remove_stale_parts(tmp_path: Path):
    """Partial files of a process that no longer runs go at once; a live one's stay."""
    old = time.time() - 7200
    dead, alive = dead_pid(), os.getppid()
    of_dead = tmp_path / f".b_depth-3_meta.csv.part-{dead}-def"  # fresh, but its writer is gone
    of_live = tmp_path / f".a_linkgraph_depth-3.csv.part-{alive}-abc"
    no_pid_old, no_pid_new = tmp_path / ".export.part-x.zip", tmp_path / ".x.part-y"
    keep = [tmp_path / "a_linkgraph_depth-3.csv", tmp_path / ".config", tmp_path / "x.part-1"]
    for path in [of_dead, of_live, no_pid_old, no_pid_new, *keep]:
        path.write_text("x")
    for path in [no_pid_old, *keep]:
        os.utime(path, (old, old))
    assert remove_stale_parts(tmp_path) == 2
    assert listing(tmp_path) == sorted(p.name for p in [of_live, no_pid_new, *keep])
    # a live process's file that is a day old: its PID was reused by something else
    os.utime(of_live, (time.time() - 2 * 86400,) * 2)
    assert remove_stale_parts(tmp_path) == 1
    assert remove_stale_parts(tmp_path, older_than=0) == 1
    assert listing(tmp_path) == sorted(p.name for p in keep)


# --- the streaming rewrite: CsvRewriter and StreamDecoder ----------------------------------------


def rewrite(chunks: list[bytes], columns=("source", "target"), edges: bool = True):
    out = io.BytesIO()
    stats = LinkGraphStats()
    rewriter = CsvRewriter(out, list(columns), stats.add_edge_lines if edges else (lambda x: x))
    for chunk in chunks:
        rewriter.feed(chunk)
    rewriter.finish()
    return out.getvalue(), rewriter.rows, stats


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


SOURCE_ROWS = [["https://a/", "https://a/x"], ["https://a/x", "https://a/y"]]


@pytest.mark.parametrize(
    "data",
    [
        b"sep=,\nFull URL,Outlinks Internal Graph URL\nhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b"Full URL,Outlinks Internal Graph URL\nhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b"sep=,\nhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b"https://a/,https://a/x\nhttps://a/x,https://a/y",
        b"sep=,\r\nFull URL,Target\r\nhttps://a/,https://a/x\r\nhttps://a/x,https://a/y\r\n",
        b"\xef\xbb\xbfsep=,\nFull URL,Target\nhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b"\xef\xbb\xbfFull URL,Target\nhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b"\xef\xbb\xbfhttps://a/,https://a/x\nhttps://a/x,https://a/y\n",
        b'\xef\xbb\xbf"https://a/","https://a/x"\n"https://a/x","https://a/y"\n',
        b"\n\nsep=,\n\nFull URL,Target\n\nhttps://a/,https://a/x\n\n\nhttps://a/x,https://a/y\n\n",
        b"SEP=,\nfull url,target\nhttps://a/,https://a/x\r\nhttps://a/x,https://a/y",
    ],
    ids=[
        "sep+header",
        "no-sep",
        "no-header",
        "neither+no-final-newline",
        "crlf",
        "bom+sep",
        "bom+header",
        "bom+no-header",
        "bom+quoted",
        "blank-lines",
        "uppercase-sep+mixed-endings",
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_rewriter_layouts(data: bytes, chunk: int):
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    output, rows, stats = rewrite(pieces)
    assert output.startswith(b"source,target\n")
    assert b"sep=" not in output.lower() and b"\r" not in output and b"\xef\xbb\xbf" not in output
    assert read_rows_bytes(output) == [["source", "target"], *SOURCE_ROWS]
    assert rows == stats.edges == 2
    assert stats.out_degree[b"https://a/"] == 1 and stats.in_degree[b"https://a/y"] == 1


def read_rows_bytes(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_rewriter_header_only_and_empty():
    assert rewrite([b"sep=,\nFull URL,Target\n"])[:2] == (b"source,target\n", 0)
    assert rewrite([b"sep=,\n"])[:2] == (b"source,target\n", 0)
    assert rewrite([b""])[:2] == (b"source,target\n", 0)


FIELD = st.lists(st.sampled_from([*'ab/:,"\n é', "https://", "\r\n"]), min_size=1, max_size=8).map(
    "".join
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(FIELD, FIELD), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    preamble=st.sampled_from([b"sep=,\nFull URL,Target\n", b"Full URL,Target\r\n", b""]),
    edges=st.booleans(),
)
def test_rewriter_quoted_fields_any_split(rows, cuts, preamble, edges):
    """Quoted fields with commas, quotes and newlines survive, whatever the chunking."""
    rows = [list(r) for r in rows]
    if not preamble:  # without a header the first field must look like a URL
        rows = [["https://" + a, b] for a, b in rows]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    data = preamble + buffer.getvalue().encode()
    whole, whole_rows, _ = rewrite([data], edges=edges)
    pieces, piece_rows, _ = rewrite(split(data, cuts), edges=edges)
    assert pieces == whole and piece_rows == whole_rows
    parsed = read_rows_bytes(whole)
    assert parsed[0] == ["source", "target"]
    # CRLF inside a quoted field is normalised to LF, like the record ends.
    expected = [[field.replace("\r\n", "\n") for field in row] for row in rows]
    assert parsed[1:] == expected
    assert whole_rows == len(rows)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20), members=st.booleans())
def test_gzip_decoder_any_split(tmp_path_factory, cuts, members):
    text = b"sep=,\nFull URL,Target\n" + b"".join(
        f"https://a/{i},https://a/{i + 1}\n".encode() for i in range(100)
    )
    # concatenated gzip members are one stream
    parts = [text[:700], text[700:]] if members else [text]
    blob = b"".join(gzip.compress(part) for part in parts)
    decoder = StreamDecoder(tmp_path_factory.mktemp("spool"))
    out = b"".join(decoder.feed(piece) for piece in split(blob, cuts))
    out += decoder.finish()
    assert decoder.kind == "gzip" and out == text


def test_decoder_detects_kinds_and_truncation(tmp_path: Path):
    text = b"sep=,\nFull URL,Target\nhttps://a/,https://a/x\n"
    plain = StreamDecoder(tmp_path)
    assert plain.feed(text[:2]) == b"" and plain.feed(text[2:]) == text
    assert plain.finish() == b"" and plain.kind == "plain"
    tiny = StreamDecoder(tmp_path)
    assert tiny.feed(b"ab") == b"" and tiny.finish() == b"ab"

    blob = gzip.compress(text)
    cut = StreamDecoder(tmp_path)
    cut.feed(blob[: len(blob) // 2])
    with pytest.raises(TruncatedDownload):
        cut.finish()
    garbage = StreamDecoder(tmp_path)
    with pytest.raises(TruncatedDownload):
        garbage.feed(b"\x1f\x8b\x08\x00" + b"\xff" * 40)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.csv", text)
    blob = buffer.getvalue()
    zipped = StreamDecoder(tmp_path)
    assert zipped.feed(blob) == b"" and zipped.finish() == b""
    assert zipped.kind == "zip" and zipped.spool_path.name.startswith(".")
    assert b"".join(zipped.zip_chunks()) == text
    zipped.cleanup()
    half = StreamDecoder(tmp_path)
    half.feed(blob[: len(blob) // 2])
    half.finish()
    with pytest.raises(TruncatedDownload):
        b"".join(half.zip_chunks())
    half.cleanup()
    assert listing(tmp_path) == []

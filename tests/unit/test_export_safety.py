"""An export is checked before it replaces anything, and a broken download is fetched again.

The export job against the fake Botify over real HTTP: node attributes to depth n + 1, row-count
checks (empty, short, `nb_lines` mismatch), downloads dropped mid-way (resumed with `Range` or
restarted), the folder checks made before any job, and the store's record of what was written.
"""

from __future__ import annotations

import csv
import os
import stat
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from botifython_tui.core.botify import BotifyClient, RetryPolicy
from botifython_tui.core.export_files import (
    ExportFilesError,
    check_files,
    check_rows,
    credits,
    fingerprint,
    preflight,
)
from botifython_tui.core.linkgraph import (
    ExportFailed,
    ExportFinished,
    LinkGraphExport,
    LinkGraphRequest,
    Notice,
    PlanReady,
    PollPolicy,
)
from botifython_tui.core.store import Store
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

TOKEN = "good-token"
ORG, PROJECT, A = "acme-org", "example.com", "20241108-2"
# Five levels: a budget that stops at depth 2 leaves most URLs (depth 3 and 4) out of the links'
# sources, while depth 3 URLs are still targets.
GRAPH = SyntheticGraph(depth_sizes=[1, 8, 64, 512, 2048], out_degree=(2, 6), seed=11)
FAST_POLL = PollPolicy(first_delay=0.01, factor=1.5, max_delay=0.05, deadline=30)


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    f = FakeBotify(token=TOKEN, username="jane.doe")
    f.add_project(ORG, PROJECT, analyses=[A], graph=GRAPH, has_search_console=True)
    f.polls_before_done = 0
    with f:
        yield f


@pytest.fixture
async def client(fake: FakeBotify) -> AsyncIterator[BotifyClient]:
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, total_time=10)
    async with BotifyClient(TOKEN, fake.base_url, retry=retry, timeout=10, rate=1000) as c:
        yield c


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def cut_request(depth: int = 2, **kwargs) -> LinkGraphRequest:
    """A budget that stops the links at `depth`."""
    return LinkGraphRequest(ORG, PROJECT, A, max_edges=GRAPH.edge_count(depth), **kwargs)


async def export(client, downloads, req, *, fails: bool = False) -> tuple[object, list]:
    events: list = []
    job = LinkGraphExport(client, req, downloads, poll=FAST_POLL, retry_delay=0.01)
    if fails:
        with pytest.raises(ExportFailed) as info:
            async for event in job.run():
                events.append(event)
        return info.value, events
    async for event in job.run():
        events.append(event)
    assert isinstance(events[-1], ExportFinished)
    return events[-1].result, events


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in listing(folder)}


# --- node attributes to depth n + 1 -------------------------------------------------------------


async def test_node_file_covers_the_link_graph_of_a_depth_cut_export(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    result, events = await export(client, downloads, cut_request(2))
    assert result.depth == 2
    links = rows(result.links_path)[1:]
    nodes = {url for edge in links for url in edge}
    meta = rows(result.meta_path)
    header, body = meta[0], meta[1:]
    assert header == [
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
        "impressions",
        "clicks",
    ]
    covered = {row[0] for row in body}
    coverage = len(nodes & covered) / len(nodes)
    assert coverage >= 0.99, f"{coverage:.1%} of the graph's nodes have a row"
    # the depth-3 targets are most of the graph: without them coverage would be far lower
    depth3 = {url for url in nodes if GRAPH.depth(GRAPH.index_of(url)) == 3}
    assert len(depth3) > len(nodes) / 2 and depth3 <= covered
    assert len(body) == GRAPH.url_count(3)

    # Each value is Botify's, passed through.
    col = {name: i for i, name in enumerate(header)}
    for row in body[:: max(1, len(body) // 50)]:
        i = GRAPH.index_of(row[0])
        assert int(row[col["depth"]]) == GRAPH.depth(i)
        assert int(row[col["http_code"]]) == GRAPH.http_code(i)
        assert row[col["canonical_to"]] == GRAPH.canonical_url(i)
        assert int(row[col["inlinks"]]) == GRAPH.unique_inlinks(i)
        assert int(row[col["outlinks"]]) == GRAPH.out_degree_of(i)
        assert float(row[col["pagerank_botify"]]) == pytest.approx(GRAPH.pagerank_value(i))
        assert int(row[col["pagerank_botify_position"]]) == GRAPH.pagerank_position(i)
    positions = sorted(int(row[col["pagerank_botify_position"]]) for row in body)
    assert len(set(positions)) == len(positions)  # a rank, no ties

    # The summary counts the depth n + 1 bucket from the node file.
    histogram = dict(map(tuple, result.summary["depth_histogram"]))
    assert histogram[3] == GRAPH.url_count(3) - GRAPH.url_count(2)

    # The plan said it before any job: edges × 0.1 + nodes.
    (plan,) = [e.plan for e in events if isinstance(e, PlanReady)]
    assert (plan.edges, plan.nodes) == (GRAPH.edge_count(2), GRAPH.url_count(3))
    assert plan.credits == pytest.approx(GRAPH.edge_count(2) * 0.1 + GRAPH.url_count(3))
    [links_job, meta_job] = [r.json["payload"] for r in fake.find_requests("/v1/jobs", "POST")]
    assert meta_job["query"]["query"]["filters"]["value"] == 3
    assert links_job["query"]["query"]["filters"]["value"] == 2


async def test_prepare_spends_nothing(fake: FakeBotify, client: BotifyClient, downloads: Path):
    job = LinkGraphExport(client, cut_request(2), downloads, poll=FAST_POLL)
    events = [event async for event in job.prepare()]
    assert isinstance(events[-1], PlanReady) and job.plan is not None
    assert fake.find_requests("/v1/jobs") == []
    assert job.plan.existing_files() == []
    assert job.plan.meta_path.name == f"{ORG}_{PROJECT}_{A}_depth-2_meta.csv"


# --- checked before it replaces anything --------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("empty", "came back empty"),
        ("short", "holds only"),
        ("nb_lines_mismatch", "row count for the file says"),
    ],
)
async def test_a_bad_file_never_replaces_a_good_one(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fault: str, words: str
):
    first, _ = await export(client, downloads, cut_request(2))
    good = snapshot(downloads)
    assert len(good) == 2
    fake.download_fault = fault
    error, events = await export(client, downloads, cut_request(2), fails=True)
    assert words in str(error) and "left as they were" in str(error)
    assert "run the export again" not in str(error).lower()
    assert snapshot(downloads) == good  # same names, same bytes, no partial file
    assert not any(isinstance(e, ExportFinished) for e in events)
    # the links job was checked before the meta job was even created
    assert len(fake.find_requests("/v1/jobs", "POST")) == 3


def test_check_rows_tolerances():
    # nb_lines describes the file itself: a shortfall over 1% (and 2 rows) is refused
    assert check_rows("links", 1000, 1200, 1000, 10**6) is None
    assert check_rows("links", 990, 0, 1000, 10**6) is None
    assert "cut short" in check_rows("links", 980, 0, 1000, 10**6)
    assert check_rows("links", 8, 0, 10, 10**6) is None  # header and sep= counted
    assert "cut short" in check_rows("links", 7, 0, 10, 10**6)
    # without nb_lines, the depth step's count is a different sum: half is the floor
    assert check_rows("links", 600, 1000, None, 10**6) is None
    assert "holds only" in check_rows("links", 400, 1000, None, 10**6)
    assert "empty" in check_rows("links", 0, 1000, None, 10**6)
    assert "empty" in check_rows("links", 0, 0, 5, 10**6)
    assert check_rows("links", 0, 0, None, 10**6) is None
    assert check_rows("links", 0, 0, 0, 10**6) is None
    # the export size caps what can come
    assert check_rows("links", 100, 1000, None, 100) is None
    assert credits(19_844, 3_000) == pytest.approx(4_984.4)


# --- retry the download, not the job -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["gzip", "zip", "plain"])
@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
async def test_a_dropped_download_is_fetched_again_and_comes_out_whole(
    fake: FakeBotify, client: BotifyClient, downloads: Path, fmt: str, ranges: bool
):
    fake.download_format = fmt
    fake.accept_ranges = ranges
    fake.download_fault = "drop"
    fake.download_fault_times = 1  # the links download breaks once, then all goes well
    result, events = await export(client, downloads, cut_request(2))
    got = Counter(map(tuple, rows(result.links_path)[1:]))
    assert got == Counter(GRAPH.iter_edges(2))  # nothing lost, nothing twice
    assert result.edges == result.summary["edges"] == GRAPH.edge_count(2)
    assert len(fake.find_requests("/v1/jobs", "POST")) == 2
    tries = fake.find_requests(f"/downloads/{min(fake.jobs)}/")
    assert len(tries) == 2 and tries[0].path == tries[1].path
    assert "range" not in tries[0].headers
    assert tries[1].headers["range"].startswith("bytes=")
    assert tries[1].status == (206 if ranges else 200)
    notes = [e.message for e in events if isinstance(e, Notice) and "broke off" in e.message]
    assert len(notes) == 1 and "same link" in notes[0] and "no new job" in notes[0]
    assert listing(downloads) == sorted([result.links_path.name, result.meta_path.name])


async def test_a_download_that_keeps_breaking_fails_after_three_retries(
    fake: FakeBotify, client: BotifyClient, downloads: Path
):
    fake.download_fault = "drop"
    error, events = await export(client, downloads, cut_request(2), fails=True)
    message = str(error)
    assert "after 4 tries" in message and "try again later" in message
    assert "run the export again" not in message.lower()
    assert len(fake.find_requests("/downloads/")) == 4
    assert len(fake.find_requests("/v1/jobs", "POST")) == 1
    assert listing(downloads) == []


# --- check before paying ------------------------------------------------------------------------


def test_preflight_creates_a_private_folder(tmp_path: Path):
    folder = tmp_path / "a" / "downloads"
    preflight(folder, 1000)
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert listing(folder) == []  # the probe file is gone


def test_preflight_names_the_folder_and_the_reason(tmp_path: Path):
    blocker = tmp_path / "downloads"
    blocker.write_text("a file")
    with pytest.raises(ExportFilesError, match="is a file") as info:
        preflight(blocker)
    assert str(blocker) in str(info.value)
    with pytest.raises(ExportFilesError, match="cannot be created"):
        preflight(blocker / "inside")
    with pytest.raises(ExportFilesError, match="Not enough free space"):
        preflight(tmp_path, 1 << 62)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder anyway")
def test_preflight_refuses_a_read_only_folder(tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    try:
        with pytest.raises(ExportFilesError, match="read-only"):
            preflight(folder)
    finally:
        folder.chmod(0o700)


async def test_no_job_when_the_folder_cannot_take_the_files(
    fake: FakeBotify, client: BotifyClient, tmp_path: Path
):
    blocker = tmp_path / "downloads"
    blocker.write_text("a file")
    error, _ = await export(client, blocker, cut_request(2), fails=True)
    assert str(blocker) in str(error)
    assert fake.find_requests("/v1/jobs") == []


# --- what was written is recorded and checked later ---------------------------------------------


async def test_recorded_files_are_checked_later(client: BotifyClient, downloads: Path, tmp_path):
    result, _ = await export(client, downloads, cut_request(2))
    assert set(result.files) == {"links", "meta"}
    assert result.files["links"]["rows"] == GRAPH.edge_count(2)
    assert result.files["meta"]["fingerprint"] == fingerprint(result.meta_path)
    store = Store(tmp_path / "db.sqlite")
    record = store.exports(1 if store.profiles.list() else store.profiles.create("p").id).add(
        org=ORG,
        project=PROJECT,
        analysis=A,
        depth=result.depth,
        edges=result.edges,
        urls=result.urls,
        links_path=str(result.links_path),
        meta_path=str(result.meta_path),
        summary=result.summary,
        files=result.files,
    )
    paths = [("links", record.links_path), ("meta", record.meta_path)]
    assert all(check.ok for check in check_files(record.files, paths))
    with open(result.links_path, "ab") as handle:
        handle.write(b"https://x/,https://y/\n")
    result.meta_path.unlink()
    problems = {c.kind: c.problem for c in check_files(record.files, paths)}
    assert problems["meta"] == "missing" and "changed" in problems["links"]
    store.close()


def test_exports_recorded_before_migration_7_still_list(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    old = Store(path, schema_version=6)
    profile = old.profiles.list()[0] if old.profiles.list() else old.profiles.create("p")
    old.conn.execute(
        "INSERT INTO exports (profile_id, org, project, analysis, depth, edges, urls, "
        "links_path, meta_path, summary, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [profile.id, ORG, PROJECT, A, 8, 10, 5, "/x/a_linkgraph_depth-8.csv", "/x/a_meta.csv",
         "{}", "2024-01-01T00:00:00+00:00"],
    )  # fmt: skip
    old.conn.commit()
    old.close()
    store = Store(path)
    (record,) = store.exports(profile.id).list()
    assert record.meta_path == "/x/a_meta.csv" and record.files == {}
    checks = check_files(record.files, [("links", record.links_path), ("meta", record.meta_path)])
    assert [c.problem for c in checks] == ["missing", "missing"]
    store.close()

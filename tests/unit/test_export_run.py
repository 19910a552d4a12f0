"""The core export run against the fake Botify over real HTTP: recorded, declined before any job,
failures and cancels that leave only the files that were there before."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from botifython_tui.core.botify import BotifyClient, RetryPolicy
from botifython_tui.core.export_run import (
    ExportDeclined,
    ExportRecorded,
    ExportRunFailed,
    earlier_export,
    run_export,
    write_failure,
)
from botifython_tui.core.linkgraph import (
    ExportFailed,
    ExportPlan,
    JobCreated,
    LinkGraphRequest,
    PlanReady,
    PollPolicy,
    export_paths,
)
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

TOKEN = "export-run-token"
ORG, PROJECT, A = "acme-org", "example.com", "20241108"
GRAPH = SyntheticGraph(depth_sizes=[1, 6, 30, 120], out_degree=(2, 5), seed=5)
FAST_POLL = PollPolicy(first_delay=0.01, factor=1.0, max_delay=0.02, deadline=30)


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    f = FakeBotify(token=TOKEN, username="jane.doe")
    f.add_project(ORG, PROJECT, analyses=[A], graph=GRAPH, has_search_console=False)
    f.polls_before_done = 0
    with f:
        yield f


@pytest.fixture
async def client(fake: FakeBotify) -> AsyncIterator[BotifyClient]:
    retry = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, total_time=5)
    async with BotifyClient(TOKEN, fake.base_url, retry=retry, timeout=10, rate=1000) as c:
        yield c


@pytest.fixture
def downloads(settings) -> Path:
    return settings.downloads_dir


def answering(answer: bool, seen: list[ExportPlan]):
    async def confirm(plan: ExportPlan) -> bool:
        seen.append(plan)
        return answer

    return confirm


async def collect(client, downloads, store, confirm, max_edges: int = 1_000_000) -> list:
    events = []
    request = LinkGraphRequest(ORG, PROJECT, A, max_edges=max_edges)
    async for event in run_export(
        client,
        request,
        downloads,
        store=store,
        profile_id=store.profiles.current().id,
        confirm=confirm,
        poll=FAST_POLL,
        retry_delay=0.01,
    ):
        events.append(event)
    return events


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_a_confirmed_export_is_written_and_recorded(client, fake, store, downloads):
    asked: list[ExportPlan] = []
    events = await collect(client, downloads, store, answering(True, asked))
    ending = events[-1]
    assert isinstance(ending, ExportRecorded)
    (plan,) = asked
    assert any(isinstance(e, PlanReady) and e.plan == plan for e in events)
    (record,) = store.exports(store.profiles.current().id).list()
    assert record == ending.record
    assert (record.depth, record.edges) == (3, GRAPH.edge_count(3))
    assert Path(record.links_path).read_text().splitlines()[0] == "source,target"
    assert listing(downloads) == sorted(p.name for p in plan.paths)
    assert len(fake.find_requests("/v1/jobs", "POST")) == 2
    assert not [e for e in events if isinstance(e, ExportRunFailed | ExportDeclined)]


async def test_declined_creates_no_job_and_records_nothing(client, fake, store, downloads):
    asked: list[ExportPlan] = []
    events = await collect(client, downloads, store, answering(False, asked))
    assert events[-1] == ExportDeclined(asked[0])
    assert fake.find_requests("/v1/jobs", "POST") == []
    assert store.exports(1).list() == [] and listing(downloads) == []


@pytest.mark.parametrize(
    ("knob", "value", "expected"),
    [("job_outcome", "failed", "failed"), ("download_fault", "empty", "came back empty")],
)
async def test_a_failure_is_a_titled_ending_and_keeps_the_earlier_files(
    client, fake, store, downloads, knob, value, expected
):
    links, _ = export_paths(downloads, ORG, PROJECT, A, 3)
    links.write_text("source,target\nhttps://example.com/,https://example.com/a\n")
    before = {name: (downloads / name).read_bytes() for name in listing(downloads)}
    setattr(fake, knob, value)
    events = await collect(client, downloads, store, answering(True, []))
    ending = events[-1]
    assert isinstance(ending, ExportRunFailed), events[-3:]
    assert ending.title == "Export failed" and expected in str(ending.error)
    assert {name: (downloads / name).read_bytes() for name in listing(downloads)} == before
    assert store.exports(1).list() == []


async def test_a_failure_after_the_files_removes_only_the_new_ones(client, fake, store, downloads):
    """The profile went away while the export ran (deleted in another window): the record
    cannot be made, the file that was there before stays, the new one goes."""
    other = store.profiles.create("Client B")
    links, meta = export_paths(downloads, ORG, PROJECT, A, 3)
    links.write_text("source,target\nhttps://example.com/,https://example.com/a\n")

    async def confirm_then_delete(plan: ExportPlan) -> bool:
        store.profiles.delete(other.id)
        return True

    request = LinkGraphRequest(ORG, PROJECT, A)
    events: list = []
    with pytest.raises(Exception) as info:
        async for event in run_export(
            client,
            request,
            downloads,
            store=store,
            profile_id=other.id,
            confirm=confirm_then_delete,
            poll=FAST_POLL,
        ):
            events.append(event)
    assert not isinstance(info.value, AssertionError)
    assert len(fake.find_requests("/v1/jobs", "POST")) == 2  # the files were written
    assert links.exists() and not meta.exists()
    assert listing(downloads) == [links.name]


async def test_a_cancel_removes_what_the_run_wrote(client, fake, store, downloads):
    fake.polls_before_done = 10_000
    events: list = []
    started = asyncio.Event()

    async def consume() -> None:
        async for event in run_export(
            client,
            LinkGraphRequest(ORG, PROJECT, A),
            downloads,
            store=store,
            profile_id=1,
            confirm=answering(True, []),
            poll=FAST_POLL,
        ):
            events.append(event)
            if isinstance(event, JobCreated):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing(downloads) == []  # no partial file, no final file
    assert store.exports(1).list() == []
    assert not [e for e in events if isinstance(e, ExportRecorded | ExportRunFailed)]


async def test_an_exception_in_confirm_goes_to_the_caller_before_any_job(
    client, fake, store, downloads
):
    async def refuse(plan: ExportPlan) -> bool:
        raise LookupError("not asked")

    with pytest.raises(LookupError):
        await collect(client, downloads, store, refuse)
    assert fake.find_requests("/v1/jobs", "POST") == []


def test_a_write_failure_names_the_folder_and_the_fix(tmp_path):
    full = write_failure(tmp_path, OSError(errno.ENOSPC, "No space left on device", "x.csv"))
    assert isinstance(full, ExportFailed) and full.title == "Export failed"
    assert str(tmp_path) in str(full) and "(x.csv)" in str(full)
    assert "free some space" in str(full) and "left as they were" in str(full)
    denied = write_failure(tmp_path, OSError(errno.EACCES, "Permission denied"))
    assert "permissions" in str(denied) and "free some space" not in str(denied)


async def test_an_earlier_export_of_the_same_depth_is_found(client, store, downloads):
    asked: list[ExportPlan] = []
    await collect(client, downloads, store, answering(True, asked))
    plan = asked[0]
    when, files = earlier_export(store, plan)
    assert when.startswith(" on ") and files == plan.paths
    links, meta = export_paths(downloads, ORG, PROJECT, A, plan.depth - 1)
    other_depth = dataclasses.replace(plan, depth=plan.depth - 1, links_path=links, meta_path=meta)
    assert earlier_export(store, other_depth) is None

"""Botify screen, Export tab: a full run, cancel (polling, downloading), failures, guards."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Button, DataTable, Input, Static, TabbedContent

from botifython_tui.core import app_events
from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.botify import BotifyScreen
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.screens.todos import TodosScreen
from botifython_tui.tui.widgets.bar_chart import BarChart
from botifython_tui.tui.widgets.export_progress import ExportProgress
from tests.fakes.botify_server import SyntheticGraph
from tests.tui.helpers import posted_events
from tests.tui.test_botify_support import (
    message,
    open_botify,
    rendered,
    status,
    titles,
    until,
)

pytest_plugins = ["tests.tui.test_botify_support"]

LINKS = "acme-org_example.com_20241108_linkgraph_depth-3.csv"
META = "acme-org_example.com_20241108_depth-3_meta.csv"


@pytest.fixture
def chosen(connected, store):
    """Connected, with acme-org/example.com 20241108 chosen in the first profile."""
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    return connected


@pytest.fixture
def big(fake, store):
    """A project whose export is big enough to still be downloading when cancelled."""
    graph = SyntheticGraph.for_edge_count(150_000, levels=3, out_degree=(20, 40), seed=3)
    fake.add_project("acme-org", "big.example.com", analyses=["20241108"], graph=graph)
    save_selection(store, 1, Selection("acme-org", "big.example.com", "20241108"))
    return graph


ANALYTICS = ("_nodes.csv", "_report.md", "_analytics.json", "_analytics.npz")


def leftovers(settings) -> list[str]:
    """Every export file in downloads/, hidden partial files included (not the analytics)."""
    folder = settings.downloads_dir
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(ANALYTICS))


def progress_text(app) -> str:
    return "\n".join(app.screen.query_one(ExportProgress).lines)


def export_status(app) -> str:
    return str(app.screen.query_one("#export-status", Static).render())


def idle(screen: BotifyScreen) -> bool:
    """No export runs, and the screen has drawn how the last one ended."""
    return screen.exporting is None and not screen.query_one("#start-export", Button).disabled


async def watch(pilot, seen: list[str], condition, timeout: float = 8.0) -> None:
    """Wait for a condition, noting every status line shown on the way."""
    for _ in range(int(timeout / 0.02)):
        shown = (
            export_status(pilot.app)
            + " | "
            + str(pilot.app.screen.query_one("#export-bytes", Static).render())
        )
        if not seen or seen[-1] != shown:
            seen.append(shown)
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"condition not met in time; saw {seen[-5:]}")


async def confirm_credits(pilot, screen: BotifyScreen, answer: str = "y") -> str:
    """Wait for the credit question (asked once the counts are made); answer it."""
    await until(pilot, lambda: isinstance(pilot.app.screen, Confirm) or screen.exporting is None, 8)
    assert isinstance(pilot.app.screen, Confirm), export_status(pilot.app)
    question = pilot.app.screen.question
    await pilot.press(answer)
    await pilot.pause()
    return question


async def start(pilot, *, confirm: bool = True) -> BotifyScreen:
    screen = await open_botify(pilot)
    assert screen.query_one(TabbedContent).active == "tab-export"
    await pilot.press("s")
    await pilot.pause()
    if confirm:
        await confirm_credits(pilot, screen)
    return screen


async def test_full_export_streams_progress_writes_files_and_shows_the_summary(
    chosen, store, fake, quick_polls
):
    fake.poll_delay = 0.15  # long enough to see the job status
    fake.download_rate = 60_000
    app = make_app(chosen, store)
    messages: list = []
    seen: list[str] = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await start(pilot)
        assert "exporting" in status(app)
        await watch(pilot, seen, lambda: idle(screen))

        log = progress_text(app)
        graph = fake.project("acme-org", "example.com").analyses[0].graph
        for depth in (1, 2, 3):
            assert f"depth {depth}: {graph.edge_count(depth):,} edges, within budget" in log
        assert "→ depth 3 chosen: the count stopped growing at depth 3" in log
        assert f"wrote {LINKS}" in log and f"wrote {META}" in log
        assert any("Links job: PROCESSING" in s for s in seen)
        assert any("Meta job: DONE" in s or "Meta job: PROCESSING" in s for s in seen)
        assert any(" of " in s.split(" | ")[1] for s in seen)  # bytes received of the total

        assert leftovers(chosen) == sorted([LINKS, META])  # no partial file left
        links = (chosen.downloads_dir / LINKS).read_text().splitlines()
        assert links[0] == "source,target" and len(links) == graph.edge_count(3) + 1

        (record,) = store.exports(1).list()
        assert (record.analysis, record.depth, record.edges) == ("20241108", 3, graph.edge_count(3))
        assert record.links_path == str(chosen.downloads_dir / LINKS)

        assert screen.query_one(TabbedContent).active == "tab-summary"
        title = str(screen.query_one("#summary-title", Static).render())
        assert f"{graph.url_count(3):,} URLs · {graph.edge_count(3):,} edges" in title
        assert len(screen.query_one("#summary-depth", BarChart).rows) == 4
        assert screen.query_one("#summary-out", BarChart).rows
        # The hubs block is laid out after the tab switch; under load that takes a frame or two.
        hubs = screen.query_one("#summary-hubs")
        await until(pilot, lambda: "https://example.com/" in rendered(hubs))
        assert "Export finished" in titles(app)
        assert "exported" in " ".join(
            str(c) for c in screen.query_one("#analyses-table", DataTable).get_row("20241108")
        )
        assert not screen.query_one("#start-export", Button).disabled
    kinds = [type(e) for e in posted_events(messages)]
    assert kinds.index(app_events.ExportStarted) < kinds.index(app_events.ExportFinished)
    finished = next(e for e in posted_events(messages) if isinstance(e, app_events.ExportFinished))
    assert finished.edges == graph.edge_count(3)


async def test_cancel_while_polling_stops_within_a_second(chosen, store, fake, quick_polls):
    fake.polls_before_done = 10_000
    fake.poll_delay = 0.1
    app = make_app(chosen, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await start(pilot)
        await until(pilot, lambda: "PROCESSING" in export_status(app))
        assert screen.query_one("#cancel-export", Button).has_focus
        started = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: idle(screen), timeout=2)
        assert time.monotonic() - started < 1.0
        assert app.exports.worker.is_cancelled
        assert "Cancelled" in export_status(app)
        assert not screen.query_one("#start-export", Button).disabled
        polls = len(fake.find_requests("/v1/jobs/"))
        await pilot.pause(0.3)
        assert len(fake.find_requests("/v1/jobs/")) == polls  # polling really stopped
    assert leftovers(chosen) == []
    assert store.exports(1).list() == []
    assert app_events.ExportCancelled in [type(e) for e in posted_events(messages)]


async def test_cancel_while_downloading_stops_and_removes_partial_files(
    chosen, store, fake, big, quick_polls
):
    fake.download_rate = 50_000
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot)
        await until(
            pilot,
            lambda: (
                "Downloading" in export_status(app)
                and "0 B" not in str(screen.query_one("#export-bytes", Static).render())
            ),
            timeout=8,
        )
        assert any(name.startswith(".") for name in leftovers(chosen))  # a .part is being written
        started = time.monotonic()
        await pilot.click("#cancel-export")
        await until(pilot, lambda: idle(screen), timeout=2)
        assert time.monotonic() - started < 1.0
    assert leftovers(chosen) == []  # no final file and no .part file
    assert store.exports(1).list() == []


@pytest.mark.parametrize(
    ("knob", "value", "expected"),
    [
        ("job_outcome", "failed", "failed"),
        ("job_outcome", "done_without_results", "no download link"),
        ("download_fault", "truncated", "kept breaking off"),
        ("download_fault", "empty", "came back empty"),
        ("download_fault", "nb_lines_mismatch", "cut short"),
        ("download_fault", "forbidden", "HTTP 403"),
    ],
)
async def test_failures_are_one_clear_notification_and_leave_no_file(
    chosen, store, fake, quick_polls, knob, value, expected
):
    setattr(fake, knob, value)
    app = make_app(chosen, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await start(pilot)
        await until(pilot, lambda: idle(screen), timeout=8)
        await pilot.pause()
        assert titles(app).count("Export failed") == 1
        assert expected in message(app, "Export failed")
        assert "Failed:" in export_status(app)
    assert leftovers(chosen) == []
    assert store.exports(1).list() == []
    failed = [e for e in posted_events(messages) if isinstance(e, app_events.ExportFailure)]
    assert len(failed) == 1 and expected in failed[0].reason


async def test_second_start_is_refused_while_one_runs(chosen, store, fake, quick_polls):
    fake.polls_before_done = 10_000
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot)
        await until(pilot, lambda: len(fake.jobs) == 1)
        worker = app.exports.worker
        await pilot.press("s")
        await pilot.pause()
        assert "Export running" in titles(app)
        assert app.exports.worker is worker and worker.is_running
        assert len(fake.jobs) == 1
        await pilot.press("escape")
        await until(pilot, lambda: idle(screen))


async def test_the_credits_are_asked_about_before_any_job(chosen, store, fake, quick_polls):
    graph = fake.project("acme-org", "example.com").analyses[0].graph
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, confirm=False)
        question = await confirm_credits(pilot, screen, "n")
        edges, urls = graph.edge_count(3), graph.url_count(4)
        assert f"about {round(edges * 0.1 + urls):,} Botify credits" in question
        assert f"{edges:,} links" in question and "depth 3" in question
        await until(pilot, lambda: idle(screen))
        assert fake.find_requests("/v1/jobs", "POST") == []
        assert "no credits were spent" in export_status(app) or "Not exported" in export_status(app)
    assert leftovers(chosen) == [] and store.exports(1).list() == []


async def test_an_analysis_already_exported_asks_first(chosen, store, fake, quick_polls):
    store.exports(1).add(
        org="acme-org",
        project="example.com",
        analysis="20241108",
        depth=3,
        edges=1,
        urls=1,
        links_path="/gone.csv",
        meta_path=None,
        summary={},
    )
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, confirm=False)
        question = await confirm_credits(pilot, screen, "n")
        assert "credits" in question and "already exported at depth 3" in question
        await until(pilot, lambda: idle(screen))
        assert fake.jobs == {}
        await pilot.press("s")
        await confirm_credits(pilot, screen, "y")
        await until(pilot, lambda: idle(screen) and len(store.exports(1).list()) == 2)


async def test_edge_budget_is_validated_and_limits_the_depth(chosen, store, fake, quick_polls):
    graph = fake.project("acme-org", "example.com").analyses[0].graph
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        budget = screen.query_one("#budget-input", Input)
        assert budget.value == str(chosen.max_edges)
        for bad in ("0", "", "12.5"):
            budget.value = bad
            await pilot.press("b", "enter")
            assert "Edge budget" in titles(app)
            assert screen.exporting is None and fake.jobs == {}
            app.clear_notifications()

        budget.value = f"{graph.edge_count(2):,}"
        await pilot.press("enter")  # Enter in the field starts the export
        await confirm_credits(pilot, screen)
        await until(pilot, lambda: idle(screen) and store.exports(1).list())
        log = progress_text(app)
        assert f"depth 3: {graph.edge_count(3):,} edges, over budget" in log
        assert "→ depth 2 chosen: depth 3 would have" in log
        assert store.exports(1).list()[0].depth == 2


async def test_the_app_stays_usable_during_an_export(chosen, store, fake, quick_polls):
    fake.polls_before_done = 10_000
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot)
        await until(pilot, lambda: "PROCESSING" in export_status(app))
        await pilot.press("f2")
        assert isinstance(app.screen, TodosScreen)
        await pilot.press("n")
        app.screen.query_one("#new-todo", Input).value = "Check the export"
        await pilot.press("enter")
        await pilot.pause()
        assert [t.title for t in store.todos(1).list()] == ["Check the export"]
        polls = len(fake.find_requests("/v1/jobs/"))
        await until(pilot, lambda: len(fake.find_requests("/v1/jobs/")) > polls + 2)
        await pilot.press("f4")
        assert app.screen is screen and screen.exporting is not None
        assert "links job" in progress_text(app)  # the progress is still there
        await pilot.press("escape")
        await until(pilot, lambda: idle(screen))


async def test_a_downloads_folder_that_cannot_take_files_fails_before_any_job(
    chosen, store, fake, quick_polls
):
    folder = chosen.downloads_dir
    if folder.exists():
        folder.rmdir()
    folder.write_text("a file where the folder should be")
    app = make_app(chosen, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, confirm=False)
        await until(pilot, lambda: idle(screen), timeout=8)
        await pilot.pause()
        assert not isinstance(app.screen, Confirm)  # nothing to confirm: it cannot be written
        note = message(app, "Export failed")
        assert str(folder) in note and "is a file" in note
        assert "Free some space" not in note
    assert fake.find_requests("/v1/jobs") == []
    assert store.exports(1).list() == []

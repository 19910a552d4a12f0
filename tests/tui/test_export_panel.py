"""The export panel on its own, in a small host app: it posts what the user asks and draws any run
it is given, from its start."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Button, Input

from botifython_tui.core.linkgraph import (
    BytesDownloaded,
    DepthChosen,
    ExportFinished,
    JobCreated,
    LinkGraphResult,
    StepStarted,
)
from botifython_tui.core.selection import Selection
from botifython_tui.tui.export_runner import ExportPhase, RunningExport
from botifython_tui.tui.widgets.export_panel import ExportPanel
from tests.tui.helpers import notifications


class Host(App):
    def compose(self) -> ComposeResult:
        yield ExportPanel(250_000, id="panel")


def requests(messages: list) -> list:
    """The panel's messages, each once (the hook sees a message again as it bubbles up)."""
    wanted = ExportPanel.StartRequested | ExportPanel.CancelRequested
    seen: dict[int, object] = {}
    for message in messages:
        if isinstance(message, wanted):
            seen.setdefault(id(message), message)
    return list(seen.values())


def running_export() -> RunningExport:
    run = RunningExport(Selection("acme-org", "example.com", "20241108"), 5000, profile_id=1)
    run.phase = ExportPhase.RUNNING
    for event in (
        StepStarted("depth", "Choosing the crawl depth for at most 5,000 edges"),
        DepthChosen(2, 4200, "depth 3 would have 9,000 links"),
        StepStarted("links", "Exporting the links of depth ≤ 2"),
        JobCreated("links", "job-77"),
    ):
        run.history.append(event)
    run.last_bytes = BytesDownloaded("links", 2000, 4000)
    return run


async def test_start_and_cancel_post_their_messages():
    app = Host()
    messages: list = []
    async with app.run_test(message_hook=messages.append) as pilot:
        panel = app.query_one(ExportPanel)
        assert app.query_one("#budget-input", Input).value == "250000"
        await pilot.click("#start-export")
        await pilot.pause()
        (start,) = requests(messages)
        assert isinstance(start, ExportPanel.StartRequested)
        assert start.budget == 250_000 and start.control is panel

        app.query_one("#budget-input", Input).focus()
        app.query_one("#budget-input", Input).value = "1,000"
        await pilot.press("enter")
        await pilot.pause()
        assert requests(messages)[-1].budget == 1000

        panel.set_running(True)
        await pilot.pause()
        assert app.focused is app.query_one("#cancel-export", Button)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(requests(messages)[-1], ExportPanel.CancelRequested)


async def test_a_bad_budget_is_said_and_not_posted():
    app = Host()
    messages: list = []
    async with app.run_test(message_hook=messages.append) as pilot:
        field = app.query_one("#budget-input", Input)
        for bad in ("0", "", "100,000,001"):
            field.value = bad
            app.query_one(ExportPanel).request_start()
            await pilot.pause()
        assert requests(messages) == []
        said = notifications(app)
        assert len(said) == 3 and "at most 100,000,000" in said[-1]
        assert app.focused is field


async def test_a_run_started_elsewhere_is_drawn_from_its_start(tmp_path: Path):
    app = Host()
    async with app.run_test() as pilot:
        panel = app.query_one(ExportPanel)
        run = running_export()
        panel.follow(run, None)  # first news of a run the panel never saw
        await pilot.pause()
        lines = panel.progress.lines
        assert lines[0] == "Export of acme-org/example.com 20241108, at most 5,000 edges"
        assert "  → depth 2 chosen: depth 3 would have 9,000 links" in lines
        assert "  links job job-77 created" in lines
        assert app.query_one("#start-export", Button).disabled
        assert not app.query_one("#cancel-export", Button).disabled

        links = tmp_path / "links.csv"
        result = LinkGraphResult(
            "acme-org", "example.com", "20241108", 2, 4200, 800, links, None, summary={}
        )
        event = ExportFinished(result)
        run.history.append(event)
        panel.follow(run, event)
        run.record = object()  # recorded: the run's ExportFinished said how it ended
        panel.ended(run)
        await pilot.pause()
        assert panel.progress.lines[-1].startswith("Done: 800 URLs, 4,200 edges at depth ≤ 2")
        assert not app.query_one("#start-export", Button).disabled


async def test_a_declined_run_says_so():
    app = Host()
    async with app.run_test() as pilot:
        panel = app.query_one(ExportPanel)
        run = running_export()
        panel.show_run(run)
        run.ended = ("Not exported: no job was created, no credits were spent.", "Not exported.")
        panel.ended(run)
        await pilot.pause()
        assert panel.progress.lines[-1].startswith("Not exported")
        assert app.query_one("#cancel-export", Button).disabled

"""The Botify screen's export tab: the edge budget, Start and Cancel, and the run's live progress.

The panel only posts what the user asked (`StartRequested(budget)`, `CancelRequested`); the screen
decides and calls the app's export runner. The panel draws any run it is given (`follow`,
`ended`), including one started elsewhere or before the screen was opened: `show_run` replays
what the run did so far.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from botifython_tui.core.linkgraph import Event, ExportFinished, FileWritten
from botifython_tui.core.selection import Selection
from botifython_tui.core.settings import MAX_EDGE_BUDGET
from botifython_tui.core.text import single_line
from botifython_tui.tui.export_runner import ExportPhase, RunningExport
from botifython_tui.tui.widgets.export_progress import ExportProgress

EXPORT_HINT = "s: start · Esc: cancel · b: edge budget · v: visualise · 4: summary"
EXPORT_INTRO = (
    "The export finds the deepest crawl depth whose links fit in the edge budget, then "
    "downloads the links and the page attributes (pagetype, compliance, …) as CSV files into "
    "the downloads folder. Exports spend Botify credits: the estimate is shown, and asked "
    "about, before any job starts."
)


def parse_budget(text: str) -> int:
    """The edge budget typed by the user: a whole number from 1 to 100,000,000."""
    cleaned = re.sub(r"[\s,_]", "", text or "")
    if not cleaned.isdigit() or int(cleaned) < 1:
        raise ValueError(
            f"The edge budget must be a whole number above 0, such as 1000000 "
            f"(not {single_line(text or '')!r})."
        )
    value = int(cleaned)
    if value > MAX_EDGE_BUDGET:
        raise ValueError(f"The edge budget can be at most {MAX_EDGE_BUDGET:,} edges.")
    return value


class ExportPanel(Vertical):
    """Budget, Start/Cancel and the progress of the export shown."""

    DEFAULT_CSS = """
    ExportPanel { height: 1fr; }
    ExportPanel > .botify-row { height: 1; margin-top: 1; }
    ExportPanel #budget-input { width: 16; }
    ExportPanel .botify-row Button { margin-left: 2; }
    ExportPanel #export-progress { height: 1fr; }
    """

    @dataclass
    class StartRequested(Message):
        """Start pressed (or Enter in the budget), with a valid budget."""

        panel: ExportPanel
        budget: int

        @property
        def control(self) -> ExportPanel:
            return self.panel

    @dataclass
    class CancelRequested(Message):
        """Cancel pressed."""

        panel: ExportPanel

        @property
        def control(self) -> ExportPanel:
            return self.panel

    def __init__(self, budget: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.budget = budget
        self.run: RunningExport | None = None  # the run drawn in the progress

    def compose(self) -> ComposeResult:
        yield Static(id="export-target", markup=False)
        with Horizontal(classes="botify-row"):
            yield Label("Edge budget", classes="botify-label")
            yield Input(
                f"{self.budget}",
                compact=True,
                id="budget-input",
                restrict=r"[0-9,_ ]*",
                max_length=14,
            )
            yield Button("Start export (s)", id="start-export", compact=True, variant="primary")
            yield Button("Cancel (Esc)", id="cancel-export", compact=True, disabled=True)
        yield ExportProgress(EXPORT_INTRO, id="export-progress")
        yield Static(EXPORT_HINT, classes="botify-hint", markup=False)

    @property
    def progress(self) -> ExportProgress:
        return self.query_one(ExportProgress)

    # --- what the user asks ---------------------------------------------------------------------
    def request_start(self) -> None:
        """Post `StartRequested` with the typed budget; a bad budget is said, not posted."""
        field = self.query_one("#budget-input", Input)
        try:
            budget = parse_budget(field.value)
        except ValueError as exc:
            self.notify(str(exc), title="Edge budget", severity="error", markup=False)
            field.focus()
            return
        self.post_message(self.StartRequested(self, budget))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "budget-input":
            event.stop()
            self.request_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start-export":
            event.stop()
            self.request_start()
        elif event.button.id == "cancel-export":
            event.stop()
            self.post_message(self.CancelRequested(self))

    def focus_target(self, *, typing: bool) -> Widget:
        """The button that works now: Cancel while the run goes on, Start otherwise."""
        cancel = self.query_one("#cancel-export", Button)
        return self.query_one("#start-export") if cancel.disabled else cancel

    # --- drawing a run ------------------------------------------------------------------------
    def show_target(self, selection: Selection | None, *, exported_before: bool) -> None:
        """What `s` would export (or what to choose first)."""
        if selection is None or not selection.analysis:
            text = "Choose a project and an analysis first (tab 2)."
        else:
            text = f"Link graph of {selection.project_label} · {selection.analysis}"
            text += " · exported before" if exported_before else ""
        self.query_one("#export-target", Static).update(single_line(text))

    def set_running(self, running: bool, *, focus: bool = True) -> None:
        """Start or Cancel enabled; `focus` moves the focus to the button that now works."""
        start = self.query_one("#start-export", Button)
        cancel = self.query_one("#cancel-export", Button)
        had_focus = cancel.has_focus
        start.disabled = running
        cancel.disabled = not running
        if running and focus:
            cancel.focus()
        elif not running and had_focus and focus:
            start.focus()

    def show_run(self, run: RunningExport | None) -> None:
        """Draw `run` from its start (a run started elsewhere, or while this was not shown)."""
        self.run = run
        if run is None:
            self.set_running(False, focus=False)
            return
        progress = self.progress
        progress.start(run.title)
        for event in run.history:
            progress.show(event)
        ended = run.record is not None or run.ended is not None
        self.set_running(not ended, focus=False)
        if run.ended is not None:
            progress.finish(*run.ended)
            return
        if ended:
            return
        last = run.history[-1] if run.history else None
        if run.last_bytes is not None and not isinstance(last, FileWritten | ExportFinished):
            progress.show(run.last_bytes)
        self._show_phase(run)

    def follow(self, run: RunningExport, event: Event | None) -> None:
        """The runner's `Progressed`: one more event of the run, or its phase changed."""
        if run is not self.run:
            self.show_run(run)
            return
        if event is not None:
            self.progress.show(event)
        else:
            self._show_phase(run)

    def ended(self, run: RunningExport) -> None:
        """The runner's `Ended`: say how it ended (a recorded run's `ExportFinished` did)."""
        if run is not self.run:
            self.show_run(run)
            return
        if run.ended is not None:
            self.progress.finish(*run.ended)
        self.set_running(False, focus=run.record is None)

    def _show_phase(self, run: RunningExport) -> None:
        if run.phase in (ExportPhase.CONFIRMING, ExportPhase.CANCELLING):
            self.progress.set_status(run.status)

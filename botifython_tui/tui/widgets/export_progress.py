"""Live progress of a link-graph export, drawn from the job's events as they stream in."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import ProgressBar, RichLog, Static

from botifython_tui.core.export_files import credits_text
from botifython_tui.core.linkgraph import (
    BytesDownloaded,
    DepthChecked,
    DepthChosen,
    Event,
    ExportFinished,
    FileWritten,
    JobCreated,
    JobPolled,
    Notice,
    PlanReady,
    StepStarted,
)
from botifython_tui.core.text import single_line

IDLE = "No export running."


def human_bytes(size: float) -> str:
    """1536 -> '1.5 kB' (decimal units, like browsers and Botify)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def short_path(path: Path) -> str:
    """A folder as a person would type it: relative to here, or to home, else absolute."""
    path = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        return prefix + str(relative) if str(relative) != "." else prefix or "."
    return str(path)


def elapsed_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class ExportProgress(Vertical):
    """A log of the steps, the job status with elapsed time, and a byte progress bar."""

    def __init__(
        self, intro: str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.intro = intro
        self.lines: list[str] = []
        self._job_kind: str | None = None
        self._job_status = ""
        self._job_started = 0.0
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield RichLog(id="export-log", wrap=True, markup=False, highlight=False, min_width=20)
        yield Static(IDLE, id="export-status", markup=False)
        with Horizontal(id="export-bar-row"):
            yield ProgressBar(id="export-bar", total=None, show_eta=False, show_percentage=True)
            yield Static("", id="export-bytes", markup=False)

    def on_mount(self) -> None:
        self.query_one("#export-bar-row").display = False
        if self.intro:
            self.query_one(RichLog).write(Text(self.intro, style="dim"))

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, what: str) -> None:
        self.lines.clear()
        self.query_one(RichLog).clear()
        self.write(what)
        self.set_status("Starting…")
        self.query_one("#export-bar-row").display = False

    def finish(self, message: str, status: str | None = None) -> None:
        """The run ended (success, failure or cancel): stop the clock, say how it ended."""
        self._stop_ticker()
        self._job_kind = None
        self.query_one("#export-bar-row").display = False
        self.write(message)
        self.set_status(status or message)

    def write(self, line: str) -> None:
        line = single_line(line)
        self.lines.append(line)
        self.query_one(RichLog).write(Text(line))

    def set_status(self, text: str) -> None:
        self.query_one("#export-status", Static).update(single_line(text))

    # --- events -------------------------------------------------------------------------------
    def show(self, event: Event) -> None:
        """Render one progress event of `LinkGraphExport.run()`."""
        if isinstance(event, StepStarted):
            self.write(f"▸ {event.message}")
            self.set_status(event.message)
        elif isinstance(event, DepthChecked):
            verdict = "within budget" if event.within_budget else "over budget"
            self.write(f"  depth {event.depth}: {event.edges:,} edges, {verdict}")
        elif isinstance(event, DepthChosen):
            self.write(f"  → depth {event.depth} chosen: {event.reason}")
        elif isinstance(event, PlanReady):
            plan = event.plan
            self.write(f"  → {credits_text(plan.edges, plan.nodes)}")
        elif isinstance(event, JobCreated):
            self.write(f"  {event.kind} job {event.job_id} created")
            self._job_kind, self._job_status = event.kind, "CREATED"
            self._job_started = time.monotonic()
            self._start_ticker()
            self._show_job()
        elif isinstance(event, JobPolled):
            self._job_kind, self._job_status = event.kind, event.status
            self._job_started = time.monotonic() - event.elapsed
            self._show_job()
        elif isinstance(event, BytesDownloaded):
            self._stop_ticker()
            self._show_bytes(event)
        elif isinstance(event, FileWritten):
            self.write(
                f"  wrote {event.path.name} ({event.rows:,} rows, {human_bytes(event.size)})"
            )
            self.query_one("#export-bar-row").display = False
        elif isinstance(event, Notice):
            self.write(f"  note: {event.message}")
        elif isinstance(event, ExportFinished):
            result = event.result
            folder = short_path(Path(result.links_path).parent)
            self.finish(
                f"Done: {result.urls:,} URLs, {result.edges:,} edges at depth ≤ {result.depth}, "
                f"files in {folder}/",
                f"Done: {result.edges:,} edges at depth ≤ {result.depth}. Summary: 4 · "
                "Cosmograph: v",
            )

    def _show_job(self) -> None:
        if self._job_kind is None:
            return
        elapsed = time.monotonic() - self._job_started
        self.set_status(
            f"{self._job_kind.capitalize()} job: {self._job_status} · {elapsed_text(elapsed)}"
        )

    def _show_bytes(self, event: BytesDownloaded) -> None:
        row = self.query_one("#export-bar-row")
        bar = self.query_one("#export-bar", ProgressBar)
        if not row.display:
            row.display = True
            bar.update(total=event.total, progress=0)
        if event.total:
            bar.update(total=event.total, progress=event.received)
            text = f"{human_bytes(event.received)} of {human_bytes(event.total)}"
        else:
            bar.update(total=None)
            text = f"{human_bytes(event.received)} received"
        self.query_one("#export-bytes", Static).update(text)
        self.set_status(f"Downloading the {event.kind} file")

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = self.set_interval(0.5, self._show_job)

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

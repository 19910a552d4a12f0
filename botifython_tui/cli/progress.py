"""Render link-graph export events: Rich live progress on a terminal, plain lines otherwise.

Both renderers take the same events from `LinkGraphExport.run()`. The plain one writes nothing but
printable text (no colour, no cursor movement), so logs and pipes stay clean. Every piece of text
that comes from Botify (URLs, job ids, messages) is passed through `single_line` or shown with
markup off.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from botifython_tui.core.export_files import credits_text
from botifython_tui.core.linkgraph import (
    BytesDownloaded,
    DepthChecked,
    DepthChosen,
    Event,
    FileWritten,
    JobCreated,
    JobPolled,
    LinkGraphResult,
    Notice,
    PlanReady,
    StepStarted,
)
from botifython_tui.core.text import single_line

PLAIN_POLL_EVERY = 10.0  # seconds between "still processing" lines in plain mode
PLAIN_BYTES_EVERY = 5.0  # seconds between download lines in plain mode
BAR_WIDTH = 30
KIND_LABEL = {"links": "links", "meta": "node attributes"}


def human_bytes(size: int | float | None) -> str:
    """1234567 -> '1.2 MB' (decimal units, like Rich's DownloadColumn)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value):,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def _kind(kind: str) -> str:
    return KIND_LABEL.get(kind, single_line(kind))


class Renderer(Protocol):
    def __enter__(self) -> Renderer: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def handle(self, event: Event) -> None: ...


class PlainRenderer:
    """One line per meaningful change; throttled so a long job does not flood a log."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.write = write or _print
        self._last_status: dict[str, tuple[str, float]] = {}
        self._last_bytes: dict[str, float] = {}

    def __enter__(self) -> PlainRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def handle(self, event: Event) -> None:
        line = self._line(event)
        if line is not None:
            self.write(line)

    def _line(self, event: Event) -> str | None:
        if isinstance(event, StepStarted):
            return f"{single_line(event.message)} …"
        if isinstance(event, DepthChecked):
            over = "" if event.within_budget else " (over the budget)"
            return f"  depth {event.depth}: {event.edges:,} edges{over}"
        if isinstance(event, DepthChosen):
            return (
                f"  using depth {event.depth} ({event.edges:,} edges): {single_line(event.reason)}"
            )
        if isinstance(event, PlanReady):
            return f"  {credits_text(event.plan.edges, event.plan.nodes)}"
        if isinstance(event, JobCreated):
            return f"  {_kind(event.kind)} export job {single_line(event.job_id)} started"
        if isinstance(event, JobPolled):
            now = time.monotonic()
            last = self._last_status.get(event.kind)
            if last and last[0] == event.status and now - last[1] < PLAIN_POLL_EVERY:
                return None
            self._last_status[event.kind] = (event.status, now)
            return f"  {_kind(event.kind)} export job: {single_line(event.status)} after {event.elapsed:.0f} s"
        if isinstance(event, BytesDownloaded):
            now = time.monotonic()
            if event.received == 0:
                self._last_bytes[event.kind] = now
                size = f" ({human_bytes(event.total)})" if event.total else ""
                return f"  downloading the {_kind(event.kind)} export{size}"
            if now - self._last_bytes.get(event.kind, 0.0) < PLAIN_BYTES_EVERY:
                return None
            self._last_bytes[event.kind] = now
            share = f" ({event.received / event.total:.0%})" if event.total else ""
            return f"  downloaded {human_bytes(event.received)}{share}"
        if isinstance(event, FileWritten):
            return (
                f"  wrote {single_line(str(event.path))} "
                f"({event.rows:,} rows, {human_bytes(event.size)})"
            )
        if isinstance(event, Notice):
            return f"  note: {single_line(event.message)}"
        return None  # ExportFinished: the command prints the summary


def _print(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # progress: standard output is for results


class RichRenderer:
    """A live status line (spinner, what is happening, elapsed time) and a byte progress bar."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = console or Console(file=sys.stderr, highlight=False)
        self.status = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.downloads = Progress(
            TextColumn("  {task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.live = Live(
            Group(self.status, self.downloads),
            console=self.console,
            refresh_per_second=10,
            transient=True,
        )
        self._step: Any = None
        self._step_text = ""
        self._download_tasks: dict[str, Any] = {}

    def __enter__(self) -> RichRenderer:
        self.live.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.live.__exit__(*exc_info)

    def _print(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.live.console.print(Text(text, style=style or ""), soft_wrap=True)

    def _set_status(self, text: str) -> None:
        if self._step is not None:
            self.status.update(self._step, description=text)

    def handle(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            if self._step is not None:
                self.status.remove_task(self._step)
            self._step_text = single_line(event.message)
            self._step = self.status.add_task(self._step_text, total=None)
            self._print(self._step_text, "bold")
        elif isinstance(event, DepthChecked):
            over = "" if event.within_budget else " (over the budget)"
            self._print(f"  depth {event.depth}: {event.edges:,} edges{over}", "dim")
            self._set_status(f"{self._step_text}: depth {event.depth} has {event.edges:,} edges")
        elif isinstance(event, DepthChosen):
            self._print(
                f"  using depth {event.depth} ({event.edges:,} edges): {single_line(event.reason)}"
            )
        elif isinstance(event, PlanReady):
            self._print(f"  {credits_text(event.plan.edges, event.plan.nodes)}")
        elif isinstance(event, JobCreated):
            self._set_status(
                f"{_kind(event.kind)} export job {single_line(event.job_id)}: waiting for Botify"
            )
        elif isinstance(event, JobPolled):
            self._set_status(
                f"{_kind(event.kind)} export job: {single_line(event.status)} "
                f"(polled after {event.elapsed:.0f} s)"
            )
        elif isinstance(event, BytesDownloaded):
            task = self._download_tasks.get(event.kind)
            if task is None:
                self._set_status(f"Downloading the {_kind(event.kind)} export")
                self._download_tasks[event.kind] = self.downloads.add_task(
                    _kind(event.kind), total=event.total, completed=event.received
                )
            else:
                self.downloads.update(task, completed=event.received, total=event.total)
        elif isinstance(event, FileWritten):
            task = self._download_tasks.pop(event.kind, None)
            if task is not None:
                self.downloads.remove_task(task)
            self._print(
                f"  wrote {single_line(str(event.path))} "
                f"({event.rows:,} rows, {human_bytes(event.size)})",
                "green",
            )
        elif isinstance(event, Notice):
            self._print(f"  note: {single_line(event.message)}", "yellow")


def make_renderer(tty: bool | None = None) -> Renderer:
    """Rich when standard error (where progress goes) is a terminal, plain lines otherwise."""
    if tty is None:
        tty = sys.stderr.isatty()
    return RichRenderer() if tty else PlainRenderer()


# --- the summary ---------------------------------------------------------------------------------


def _bars(rows: list[tuple[str, int]], indent: str = "  ") -> list[str]:
    """Label, a bar scaled to the largest count, and the count; one line per row."""
    if not rows:
        return [f"{indent}(none)"]
    top = max(count for _, count in rows) or 1
    label_width = max(len(label) for label, _ in rows)
    count_width = max(len(f"{count:,}") for _, count in rows)
    lines = []
    for label, count in rows:
        length = round(count / top * BAR_WIDTH)
        bar = "█" * (length if length or not count else 1)
        lines.append(f"{indent}{label:>{label_width}}  {bar:<{BAR_WIDTH}}  {count:>{count_width},}")
    return lines


def summary_lines(result: LinkGraphResult, files: list[FileWritten]) -> list[str]:
    """The finished export as plain text: counts, histograms, hubs, orphans and file paths."""
    summary = result.summary
    lines = [
        f"Link graph of {single_line(result.org)}/{single_line(result.project)}, "
        f"analysis {single_line(result.analysis)}",
        f"  depth  {result.depth}: {single_line(str(summary.get('depth_reason', '')))}",
        f"  URLs   {result.urls:,}",
        f"  edges  {result.edges:,}",
    ]
    if summary.get("skipped_rows"):
        lines.append(f"  skipped rows without a source or target: {summary['skipped_rows']:,}")

    lines.append("URLs per depth")
    histogram = [(str(depth), int(count)) for depth, count in summary.get("depth_histogram", [])]
    if histogram:
        lines += _bars(histogram)
        if summary.get("unknown_depth"):
            lines.append(f"  unknown depth: {summary['unknown_depth']:,}")
    else:
        lines.append("  (unknown: the node attributes were not exported)")
    lines.append("Outlinks per URL (how many URLs have that many)")
    lines += _bars([(str(label), int(count)) for label, count in summary.get("out_degree", [])])
    lines.append("Inlinks per URL (how many URLs have that many)")
    lines += _bars([(str(label), int(count)) for label, count in summary.get("in_degree", [])])

    hubs = summary.get("top_hubs", [])
    lines.append(f"Top {len(hubs)} hubs (most outlinks)" if hubs else "Top hubs: none")
    width = max((len(f"{n:,}") for _, n in hubs), default=0)
    lines += [f"  {n:>{width},}  {single_line(str(url))}" for url, n in hubs]

    orphans = int(summary.get("without_inlinks", 0))
    sample = summary.get("without_inlinks_sample", [])
    shown = f" (first {len(sample)})" if orphans > len(sample) else ""
    lines.append(f"URLs without inlinks: {orphans:,}{shown}")
    lines += [f"  {single_line(str(url))}" for url in sample]

    lines.append("Files")
    for written in files:
        lines.append(
            f"  {_kind(written.kind)}: {single_line(str(written.path))} "
            f"({written.rows:,} rows, {human_bytes(written.size)})"
        )
    return lines

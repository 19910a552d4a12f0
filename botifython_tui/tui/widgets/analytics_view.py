"""Link-graph analytics as tables and bar charts; computed in a worker thread, never the UI's.

`AnalyticsView.analyse(...)` computes (or reads from the cache) one export's analytics;
`AnalyticsView.compare(a, b)` two exports'. Each table takes focus and `c` copies it as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import ReportsFailedWork
from botifython_tui.tui.widgets.bar_chart import BarChart

log = get_logger("tui.analytics")

# Charts whose values are shares: drawn in basis points, shown as percentages.
_SHARE_CHARTS = {"pagerank.by_pagetype", "compare.pagetypes"}


@dataclass(frozen=True)
class ExportRef:
    """What the view needs to find an export's files."""

    links_path: str
    meta_path: str | None
    depth: int | None
    expected_rows: int | None = None
    label: str = ""


def _percent(basis_points: int) -> str:
    return f"{basis_points / 100:.1f}%"


class AnalyticsTable(Static, can_focus=True):
    """One titled table; `c` copies it as plain text (OSC 52)."""

    BINDINGS = [Binding("c", "copy", "Copy table", id="analytics.copy")]

    def __init__(self, table: Any, **kwargs: Any) -> None:
        super().__init__(markup=False, classes="analytics-table", **kwargs)
        self.table = table
        self.border_title = single_line(table.title)

    def on_mount(self) -> None:
        self.update(self._renderable())

    def _renderable(self) -> Any:
        table = self.table
        grid = Table(box=None, expand=True, pad_edge=False, header_style="bold")
        for name, numeric in zip(table.columns, table.numeric, strict=True):
            url = name in ("URL", "url")
            grid.add_column(
                Text(name),
                justify="right" if numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
                ratio=1 if url else None,
                min_width=12 if url else None,
            )
        for row in table.rows:
            grid.add_row(*[Text(cell) for cell in row])
        parts: list[Any] = []
        if table.note:
            parts.append(Text(table.note, style="dim"))
        parts.append(grid if table.rows else Text("No rows.", style="dim"))
        return Group(*parts)

    def action_copy(self) -> None:
        from botifython_tui.core.analytics.report import plain_text

        self.app.copy_to_clipboard(plain_text(self.table))
        self.notify(
            f"Copied “{single_line(self.table.title)}” as text (OSC 52).",
            title="Copied",
            markup=False,
        )


class AnalyticsView(ReportsFailedWork, Vertical):
    """Status line, then every table (with a bar chart where one helps)."""

    @dataclass
    class Ready(Message):
        """The analytics are shown (or failed: `error` says why)."""

        view: AnalyticsView
        error: str = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown_key: tuple[Any, ...] | None = None
        self.tables: list[Any] = []
        self.analytics: dict[str, Any] | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static("", id="analytics-status", markup=False)
        yield Vertical(id="analytics-body")

    def clear(self, message: str = "") -> None:
        self.shown_key = None
        self.tables = []
        self.analytics = None
        self.query_one("#analytics-status", Static).update(message)
        self.query_one("#analytics-body").remove_children()

    def _status(self, text: str) -> None:
        self.query_one("#analytics-status", Static).update(neutralize_controls(text))

    # --- one export ---------------------------------------------------------------------------
    def analyse(self, ref: ExportRef, *, fresh: bool = False) -> None:
        """Compute (in a thread) and show one export's analytics; no-op if already shown."""
        key = ("export", ref.links_path, ref.meta_path, ref.depth)
        if key == self.shown_key and not fresh:
            return
        self.clear()
        self.shown_key = key
        if not Path(ref.links_path).is_file():
            self._status("Analytics: the links file is no longer on disk.")
            return
        self.busy = True
        self._status("Computing the link-graph analytics (PageRank, depth, leaks, flow)…")
        self._analyse(ref, fresh, key)

    @work(thread=True, exclusive=True, group="analytics", exit_on_error=False)
    def _analyse(self, ref: ExportRef, fresh: bool, key: tuple[Any, ...]) -> None:
        from botifython_tui.core.analytics.files import analyse_export, export_files
        from botifython_tui.core.analytics.loading import ExportReadError
        from botifython_tui.core.analytics.report import tables

        try:
            result = analyse_export(
                export_files(ref.links_path, ref.meta_path, ref.depth),
                expected_rows=ref.expected_rows,
                fresh_export=fresh,
            )
            found = tables(result.analytics)
        except ExportReadError as exc:
            self.app.call_from_thread(self._failed, key, str(exc))
            return
        except Exception as exc:  # a bug or a full disk: the log has the traceback
            log.warning("analytics of %s failed", ref.links_path, exc_info=True)
            self.app.call_from_thread(
                self._failed, key, f"The analytics could not be computed: {exc}"
            )
            return
        head = []
        for warning in result.analytics.get("warnings") or []:
            head.append(f"Warning: {warning}")
        head += list(result.analytics.get("notes") or [])
        where = "from the cache" if result.from_cache else f"in {result.seconds:.1f} s"
        status = (
            f"Analytics ({where}); report: {result.files.report.name}. Tab to a table, c copies it."
        )
        self.app.call_from_thread(
            self._show, key, found, "\n".join([status, *head]), result.analytics
        )

    # --- two exports --------------------------------------------------------------------------
    def compare(self, first: ExportRef, second: ExportRef) -> None:
        key = ("compare", first.links_path, second.links_path)
        self.clear()
        self.shown_key = key
        self.busy = True
        self._status(
            single_line(
                f"Comparing {first.label or first.links_path} → {second.label or second.links_path}…"
            )
        )
        self._compare(first, second, key)

    @work(thread=True, exclusive=True, group="analytics", exit_on_error=False)
    def _compare(self, first: ExportRef, second: ExportRef, key: tuple[Any, ...]) -> None:
        from botifython_tui.core.analytics.compare import compare, comparison_tables
        from botifython_tui.core.analytics.files import analyse_export, export_files
        from botifython_tui.core.analytics.loading import ExportReadError

        try:
            results = [
                analyse_export(
                    export_files(ref.links_path, ref.meta_path, ref.depth),
                    expected_rows=ref.expected_rows,
                )
                for ref in (first, second)
            ]
            found = comparison_tables(compare(*results))
        except ExportReadError as exc:
            self.app.call_from_thread(self._failed, key, str(exc))
            return
        except Exception as exc:
            log.warning("comparison failed", exc_info=True)
            self.app.call_from_thread(self._failed, key, f"The comparison failed: {exc}")
            return
        status = (
            f"A: {first.label or first.links_path}\nB: {second.label or second.links_path}\n"
            "Tab to a table, c copies it; s shows the summary again."
        )
        self.app.call_from_thread(self._show, key, found, status, None)

    # --- rendering (UI thread) ----------------------------------------------------------------
    def _failed(self, key: tuple[Any, ...], message: str) -> None:
        if key != self.shown_key:
            return
        self.busy = False
        self._status(single_line(message))
        self.post_message(self.Ready(self, error=message))

    def _show(
        self, key: tuple[Any, ...], found: list[Any], status: str, analytics: dict | None
    ) -> None:
        if key != self.shown_key:  # another export was chosen meanwhile
            return
        self.busy = False
        self.tables = found
        self.analytics = analytics
        self._status(status)
        body = self.query_one("#analytics-body")
        body.remove_children()
        widgets: list[Any] = []
        section = None
        for table in found:
            if table.section != section:
                section = table.section
                widgets.append(
                    Static(Text(single_line(section), style="bold"), classes="analytics-section")
                )
            if table.chart:
                share = table.key in _SHARE_CHARTS
                chart = BarChart(
                    [
                        (label, round(value * 10_000) if share else round(value))
                        for label, value in table.chart
                    ],
                    formatter=_percent if share else None,
                    classes="analytics-chart",
                )
                chart.border_title = single_line(table.title)
                widgets.append(chart)
            widgets.append(AnalyticsTable(table))
        body.mount_all(widgets)
        self.post_message(self.Ready(self))

    def text(self) -> str:
        """Every table shown, as plain text."""
        from botifython_tui.core.analytics.report import plain_text

        return "\n\n".join(plain_text(table) for table in self.tables)

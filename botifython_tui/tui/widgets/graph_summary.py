"""The summary of a link-graph export: counts, three bar charts, top hubs, URLs without inlinks."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from botifython_tui.core.text import single_line
from botifython_tui.tui.widgets.analytics_view import AnalyticsView, ExportRef
from botifython_tui.tui.widgets.bar_chart import BarChart

NO_SUMMARY = "No export yet: choose an analysis and start an export."


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class GraphSummary(Vertical):
    """Everything the export learnt about the graph; fill it with `show(summary, title=…)`."""

    def compose(self) -> ComposeResult:
        yield Static(NO_SUMMARY, id="summary-title", markup=False)
        yield Static(id="summary-reason", markup=False)
        with Horizontal(classes="summary-row"):
            yield BarChart(id="summary-depth", classes="summary-chart")
            yield Static(id="summary-counts", classes="summary-chart")
        with Horizontal(classes="summary-row"):
            yield BarChart(id="summary-out", classes="summary-chart")
            yield BarChart(id="summary-in", classes="summary-chart")
        yield Static(id="summary-hubs", classes="summary-block")
        yield Static(id="summary-orphans", classes="summary-block")
        yield AnalyticsView(id="summary-analytics")

    def on_mount(self) -> None:
        self.query_one("#summary-depth").border_title = "URLs by depth"
        self.query_one("#summary-counts").border_title = "Totals"
        self.query_one("#summary-out").border_title = "URLs by outlink count"
        self.query_one("#summary-in").border_title = "URLs by inlink count"
        self.query_one("#summary-hubs").border_title = "Top 10 hubs (most outlinks)"
        self.query_one("#summary-orphans").border_title = "URLs without inlinks"
        self.set_class(True, "-empty")

    def clear(self, message: str = NO_SUMMARY) -> None:
        self.query_one("#summary-title", Static).update(message)
        self.query_one(AnalyticsView).clear()
        self.set_class(True, "-empty")

    def analyse(self, record: Any, *, fresh: bool = False) -> None:
        """Compute (in a worker thread) and show the analytics of a recorded export below."""
        self.query_one(AnalyticsView).analyse(
            ExportRef(
                links_path=record.links_path,
                meta_path=record.meta_path,
                depth=record.depth,
                expected_rows=record.edges or None,
                label=f"{record.org}/{record.project} {record.analysis} · depth {record.depth}",
            ),
            fresh=fresh,
        )

    def show(self, summary: dict[str, Any], *, title: str = "") -> None:
        """Render a summary dict as made by the export (see `LinkGraphStats.summary`)."""
        urls, edges = _int(summary.get("urls")), _int(summary.get("edges"))
        depth = summary.get("depth")
        heading = f"{urls:,} URLs · {edges:,} edges"
        if depth is not None:
            heading += f" · depth ≤ {_int(depth)}"
        self.query_one("#summary-title", Static).update(
            single_line(f"{title} · {heading}" if title else heading)
        )
        reason = summary.get("depth_reason")
        self.query_one("#summary-reason", Static).update(
            single_line(f"Depth chosen because {reason}.") if reason else ""
        )
        self.query_one("#summary-depth", BarChart).set_data(
            [[f"depth {row[0]}", row[1]] for row in summary.get("depth_histogram") or [] if row]
        )
        self.query_one("#summary-out", BarChart).set_data(summary.get("out_degree") or [])
        self.query_one("#summary-in", BarChart).set_data(summary.get("in_degree") or [])
        self.query_one("#summary-counts", Static).update(self._counts(summary))
        self.query_one("#summary-hubs", Static).update(self._hubs(summary.get("top_hubs") or []))
        self.query_one("#summary-orphans", Static).update(self._orphans(summary))
        self.set_class(False, "-empty")

    @staticmethod
    def _counts(summary: dict[str, Any]) -> Text:
        rows = [
            ("URLs", _int(summary.get("urls"))),
            ("Edges", _int(summary.get("edges"))),
            ("Without inlinks", _int(summary.get("without_inlinks"))),
        ]
        if summary.get("unknown_depth"):
            rows.append(("Depth unknown", _int(summary.get("unknown_depth"))))
        if summary.get("skipped_rows"):
            rows.append(("Rows skipped", _int(summary.get("skipped_rows"))))
        width = max(len(label) for label, _ in rows)
        text = Text()
        for index, (label, value) in enumerate(rows):
            if index:
                text.append("\n")
            text.append(label.ljust(width), "dim")
            text.append(f" {value:>11,}", "bold")
        return text

    @staticmethod
    def _hubs(hubs: list[Any]) -> Table | Text:
        if not hubs:
            return Text("No links.", style="dim")
        table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("Outlinks", justify="right", no_wrap=True, width=9)
        table.add_column("URL", no_wrap=True, overflow="ellipsis", ratio=1)
        for row in hubs[:10]:
            if len(row) < 2:
                continue
            table.add_row(Text(f"{_int(row[1]):,}"), Text(single_line(str(row[0]))))
        return table

    @staticmethod
    def _orphans(summary: dict[str, Any]) -> Text:
        count = _int(summary.get("without_inlinks"))
        sample = [single_line(str(url)) for url in summary.get("without_inlinks_sample") or []]
        if not count:
            return Text("Every URL has at least one inlink.")
        text = Text(
            f"{count:,} URL{'s' if count != 1 else ''} with no inlink"
            + (" (start pages, or pages only reached from outside the graph)" if sample else ""),
        )
        if sample:
            shown = "first" if count > len(sample) else "all"
            text.append(f"; {shown} {len(sample)}:", "dim")
            for url in sample:
                text.append("\n  ")
                text.append(url)
        return text

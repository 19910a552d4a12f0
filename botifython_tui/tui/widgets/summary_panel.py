"""The Botify screen's Summary tab: the export of the chosen analysis, its summary and analytics,
and its Cosmograph view."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget

from botifython_tui.core.selection import Selection
from botifython_tui.core.store import ExportRecord, Store
from botifython_tui.tui.screens.botify_visualise import visualise_export
from botifython_tui.tui.widgets.graph_summary import GraphSummary


class SummaryPanel(VerticalScroll):
    """Shows the newest export of the chosen analysis (`record`), or says there is none yet."""

    def __init__(self, *, id: str | None = "summary-scroll") -> None:
        super().__init__(id=id)
        self.record: ExportRecord | None = None

    def compose(self) -> ComposeResult:
        yield GraphSummary(id="summary")

    def show_record(self, record: ExportRecord, *, fresh: bool = False) -> None:
        """`fresh`: the files were just written, so the analytics are computed anew."""
        self.record = record
        summary = self.query_one(GraphSummary)
        summary.show(record.summary, title=f"{record.org}/{record.project} {record.analysis}")
        summary.analyse(record, fresh=fresh)  # a worker; writes the nodes file and the report

    def show_for(self, store: Store, profile_id: int, selection: Selection | None) -> None:
        """The newest export of `selection` in this profile (unchanged if already shown)."""
        match = None
        if selection is not None:
            match = next(
                (
                    r
                    for r in store.exports(profile_id).list()
                    if (r.org, r.project, r.analysis) == selection.key
                ),
                None,
            )
        if match is None:
            if self.record is not None:
                self.record = None
                self.query_one(GraphSummary).clear()
            return
        if self.record is None or self.record.id != match.id:
            self.show_record(match)

    def focus_target(self, *, typing: bool) -> Widget:
        return self  # scrolled with the keys

    def visualise(self) -> None:
        record = self.record
        if record is None:
            self.notify(
                "Nothing to visualise yet: export this analysis first (s), or open an older "
                "export from Link graphs (F5).",
                title="No export",
                severity="warning",
            )
            return
        visualise_export(
            self.screen,
            links_path=record.links_path,
            meta_path=record.meta_path,
            label=f"{record.org}/{record.project} {record.analysis} · depth {record.depth}",
        )

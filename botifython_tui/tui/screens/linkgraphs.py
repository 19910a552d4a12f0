"""Link graphs: every export made in this profile, with its summary and a Cosmograph link."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from botifython_tui.core.export_files import FileCheck, check_files, safe_name_part
from botifython_tui.core.selection import Selection
from botifython_tui.core.store import ExportRecord
from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.export_runner import ExportBusy, ExportRefused, ExportRunner
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.botify_visualise import visualise_export
from botifython_tui.tui.widgets.analytics_view import AnalyticsView, ExportRef
from botifython_tui.tui.widgets.export_progress import short_path
from botifython_tui.tui.widgets.graph_summary import GraphSummary

EMPTY = "No link graph exported in this profile yet: export one from Botify (F4)."


def record_files(record: ExportRecord) -> list[Path]:
    return [Path(p) for p in (record.links_path, record.meta_path) if p]


def file_checks(record: ExportRecord) -> list[FileCheck]:
    """Each file of the export: there, and as it was written (size and fingerprint)."""
    return check_files(record.files, [("links", record.links_path), ("meta", record.meta_path)])


def missing_files(record: ExportRecord) -> list[Path]:
    return [check.path for check in file_checks(record) if check.problem == "missing"]


def changed_files(record: ExportRecord) -> list[FileCheck]:
    return [check for check in file_checks(record) if check.problem not in (None, "missing")]


def files_cell(checks: list[FileCheck]) -> Text:
    if any(check.problem == "missing" for check in checks):
        return Text("missing", style="bold")
    if any(not check.ok for check in checks):
        return Text("changed", style="bold")
    return Text(f"{len(checks)} ok")


def short_name(record: ExportRecord, path: Path) -> str:
    """`acme_example.com_20241108_meta.csv` -> `…_meta.csv`: the row already names the rest."""
    parts = (record.org, record.project, record.analysis)
    prefix = "_".join(safe_name_part(part) for part in parts) + "_"
    return "…_" + path.name[len(prefix) :] if path.name.startswith(prefix) else path.name


def local_date(created_at: str) -> str:
    try:
        return datetime.fromisoformat(created_at).astimezone().strftime("%Y-%m-%d")
    except ValueError:
        return created_at[:10]


def ref_label(record: ExportRecord) -> str:
    return single_line(
        f"export {record.id} ({record.org}/{record.project} {record.analysis}, depth {record.depth})"
    )


def export_ref(record: ExportRecord) -> ExportRef:
    return ExportRef(
        links_path=record.links_path,
        meta_path=record.meta_path,
        depth=record.depth,
        expected_rows=record.edges or None,
        label=ref_label(record),
    )


class LinkGraphsScreen(AppScreen):
    """The profile's exports, newest first; Enter shows a summary, v opens Cosmograph."""

    app_name = "Link graphs"
    BINDINGS = [
        Binding("s", "open_summary", "Summary", id="linkgraphs.summary"),
        Binding("v", "visualise", "Visualise", id="linkgraphs.visualise"),
        Binding("k", "compare", "Compare", id="linkgraphs.compare"),
        Binding("e", "export_again", "Export again", id="linkgraphs.export"),
        Binding("l", "focus_list", "Back to the list", id="linkgraphs.list", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[ExportRecord] = []
        self.shown: ExportRecord | None = None
        self.compare_from: ExportRecord | None = None  # A, once `k` was pressed on a row
        self.comparing = False  # the compare view is in front of the summary
        self._ready = False  # is_mounted only turns true after on_mount

    def compose_body(self) -> ComposeResult:
        yield Static(id="linkgraphs-running", markup=False)
        yield DataTable(id="exports-table", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY, id="export-files", markup=False)
        with VerticalScroll(id="linkgraph-summary-scroll"):
            yield GraphSummary(id="linkgraph-summary")
            yield AnalyticsView(id="compare-view")

    def on_mount(self) -> None:
        # AppScreen.on_mount runs as well: Textual calls the handler of every class in the MRO.
        self._ready = True
        table = self.query_one(DataTable)
        table.add_column("Project", key="project", width=20)
        table.add_column("Analysis", key="analysis", width=11)
        table.add_column("Depth", key="depth", width=5)
        table.add_column("Edges", key="edges", width=9)
        table.add_column("Files", key="files", width=7)
        table.add_column("Date", key="date", width=10)
        table.border_title = "Exports in this profile"
        self.query_one("#linkgraph-summary-scroll").border_title = "Summary"
        self.query_one("#compare-view").display = False
        self.refresh_data()
        table.focus()

    # --- data ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        if not self._ready:
            return
        self._show_running()
        table = self.query_one(DataTable)
        selected = self.selected()
        self.records = self.store.exports(self.profile.id).list()
        table.clear()
        for record in self.records:
            files = files_cell(file_checks(record))
            table.add_row(
                Text(single_line(f"{record.org}/{record.project}"), overflow="ellipsis"),
                Text(single_line(record.analysis)),
                Text(str(record.depth), justify="right"),
                Text(f"{record.edges:,}", justify="right"),
                files,
                Text(local_date(record.created_at)),
                key=str(record.id),
            )
        ids = [record.id for record in self.records]
        if selected is not None and selected.id in ids:
            table.move_cursor(row=ids.index(selected.id))
        self._show_files()
        summary = self.query_one(GraphSummary)
        if self.shown is not None and self.shown.id not in ids:
            self.shown = None
        if self.shown is None and self.records and not self.comparing:
            self._show_summary(self.selected() or self.records[0])
        elif not self.records:
            summary.clear(EMPTY)

    def selected(self) -> ExportRecord | None:
        table = self.query_one(DataTable)
        if table.row_count == 0 or not self.records:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next((r for r in self.records if str(r.id) == row_key.value), None)

    def _show_files(self) -> None:
        line = self.query_one("#export-files", Static)
        record = self.selected()
        if record is None:
            line.update(EMPTY)
            return
        checks = file_checks(record)
        gone = [check.path for check in checks if check.problem == "missing"]
        changed = [check for check in checks if check.problem not in (None, "missing")]
        folder = short_path(Path(record.links_path).parent) + "/"
        if gone:
            names = ", ".join(short_name(record, path) for path in gone)
            line.update(single_line(f"Missing from {folder}: {names}"))
        elif changed:
            names = ", ".join(f"{short_name(record, c.path)} {c.problem}" for c in changed)
            line.update(single_line(f"Not as exported, in {folder}: {names}"))
        else:
            names = ", ".join(short_name(record, path) for path in record_files(record))
            line.update(single_line(f"Files in {folder}: {names}"))
        line.set_class(bool(gone or changed), "-missing")

    def _show_running(self) -> None:
        """The export running now, wherever it was started (hidden while none runs)."""
        line = self.query_one("#linkgraphs-running", Static)
        run = self.shell.exports.state
        line.display = run is not None
        if run is not None:
            line.update(f"Exporting {run.describe()} · details on the Botify screen (F4)")

    def on_export_runner_progressed(self, message: ExportRunner.Progressed) -> None:
        self._show_running()

    def on_export_runner_ended(self, message: ExportRunner.Ended) -> None:
        self.refresh_data()  # a new export in the list (or the line goes)

    def _show_summary(self, record: ExportRecord) -> None:
        self.shown = record
        self.comparing = False
        scroll = self.query_one("#linkgraph-summary-scroll")
        scroll.border_title = "Summary"
        self.query_one("#compare-view").display = False
        summary = self.query_one(GraphSummary)
        summary.display = True
        summary.show(record.summary, title=f"{record.org}/{record.project} {record.analysis}")
        summary.analyse(record)  # a worker thread; instant from the cache
        scroll.scroll_home(animate=False)

    # --- events and actions ---------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_files()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_summary()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.focused is self.query_one("#linkgraph-summary-scroll"):
            event.stop()
            self.action_focus_list()

    @reports_errors("open the summary")
    def action_open_summary(self) -> None:
        record = self.selected()
        if record is None:
            self.notify(EMPTY, markup=False)
            return
        self._show_summary(record)
        gone = missing_files(record)
        if gone:
            self.notify(
                f"The files of this export are no longer on disk ({', '.join(p.name for p in gone)} "
                f"in {gone[0].parent}). The summary below is from the record; export the analysis "
                "again from Botify (F4) to visualise it.",
                title="Files missing",
                severity="warning",
                markup=False,
                timeout=10,
            )
        elif changed := changed_files(record):
            names = ", ".join(f"{c.path.name} ({c.problem})" for c in changed)
            self.notify(
                f"The files of this export changed since it was made: {names}. The summary "
                "below is from the record and may not match them; export the analysis again "
                "from Botify (F4) for files that match.",
                title="Files changed",
                severity="warning",
                markup=False,
                timeout=10,
            )
        self.query_one("#linkgraph-summary-scroll").focus()

    def action_focus_list(self) -> None:
        self.query_one(DataTable).focus()

    @reports_errors("compare two exports")
    def action_compare(self) -> None:
        """First press marks the highlighted export as A; the second, on another, compares."""
        record = self.selected()
        if record is None:
            self.notify(EMPTY, markup=False)
            return
        first = self.compare_from
        if first is None or first.id == record.id or first.id not in {r.id for r in self.records}:
            self.compare_from = record
            self.notify(
                f"Compare from {ref_label(record)}: highlight another export and press k.",
                title="Compare",
                markup=False,
            )
            return
        self.compare_from = None
        gone = missing_files(first) + missing_files(record)
        if gone:
            self.notify(
                f"Cannot compare: {', '.join(p.name for p in gone)} no longer on disk.",
                title="Files missing",
                severity="warning",
                markup=False,
            )
            return
        self.shown = None
        self.comparing = True
        self.query_one(GraphSummary).display = False
        view = self.query_one("#compare-view", AnalyticsView)
        view.display = True
        scroll = self.query_one("#linkgraph-summary-scroll")
        scroll.border_title = "Compare"
        view.compare(export_ref(first), export_ref(record))
        scroll.scroll_home(animate=False)

    def action_export_again(self) -> None:
        """Export the highlighted analysis again (the credits are asked about first)."""
        record = self.selected()
        if record is None:
            self.notify(EMPTY, markup=False)
            return
        selection = Selection(record.org, record.project, record.analysis)
        try:
            self.shell.exports.start(selection, self.shell.settings.max_edges)
        except (ExportBusy, ExportRefused) as exc:
            self.notify(str(exc), title=exc.title, severity="warning", markup=False)
            return
        self._show_running()

    @reports_errors("visualise the export")
    def action_visualise(self) -> None:
        record = self.selected()
        if record is None:
            self.notify(EMPTY, markup=False)
            return
        visualise_export(
            self,
            links_path=record.links_path,
            meta_path=record.meta_path,
            label=f"{record.org}/{record.project} {record.analysis} · depth {record.depth}",
        )

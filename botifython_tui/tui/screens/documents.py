"""Documents: what the assistant's memory holds in this profile; add, search, re-index, remove."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, ProgressBar, Static
from textual.worker import Worker, WorkerState

from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import for_the_user, report_error, reports_errors
from botifython_tui.tui.messages import WorkFailed
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt

KIND_LABEL = {"document": "file", "chat": "chat", "export": "export"}
_ACTIONS = {"ingest": "add the documents", "search": "search", "remove": "remove the document"}


class DocumentsScreen(AppScreen):
    """The memory's sources (files, chats, export summaries) and a search over them."""

    app_name = "Documents"
    BINDINGS = [
        Binding("a", "add", "Add files", id="docs.add"),
        Binding("slash,f", "search", "Search", id="docs.search"),
        Binding("r", "reindex", "Re-index", id="docs.reindex"),
        Binding("d,delete", "remove", "Remove", id="docs.remove"),
        Binding("escape", "stop", "Stop", id="docs.stop", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="docs-status", markup=False)
        yield ProgressBar(id="docs-progress", show_eta=False)
        yield DataTable(id="docs-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="docs-results", markup=False)

    def on_mount(self) -> None:
        self.stopping = False
        self.busy = False
        table = self.query_one(DataTable)
        table.add_column("Kind", key="kind", width=6)
        table.add_column("Source", key="source", width=self._source_width())
        table.add_column("Chunks", key="chunks", width=7)
        table.add_column("Updated", key="updated", width=16)
        self.query_one(ProgressBar).display = False
        self.refresh_data()
        table.focus()

    @property
    def memory(self):
        return self.shell.memory

    def unavailable(self) -> str | None:
        """The one line saying what to install, when the memory extra is missing."""
        from botifython_tui.core.memory import MemoryUnavailable

        try:
            self.memory  # noqa: B018 - creating it checks the installation
        except MemoryUnavailable as exc:
            return str(exc)
        return None

    def _refuse_if_unavailable(self) -> bool:
        problem = self.unavailable()
        if problem:
            self._status(problem)
            self.notify(problem, title="Document memory", severity="warning", markup=False)
        return problem is not None

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        table = self.query_one(DataTable)
        table.clear()
        problem = self.unavailable()
        if problem:
            self._status(problem)
            return
        width = self._source_width()
        table.columns["source"].width = width
        try:
            documents = self.memory.documents(self.profile.id)
        except Exception as exc:  # the memory broken: say so, keep the app
            report_error(self, exc, "list the documents")
            documents = []
        for doc in documents:
            table.add_row(
                Text(KIND_LABEL.get(doc.kind, doc.kind)),
                Text(_elided(single_line(_shown_source(doc.source, doc.title)), width)),
                Text(str(doc.chunks), justify="right"),
                Text(doc.updated_at.replace("T", " ")[:16]),
                key=f"{doc.kind}\x00{doc.source}",
            )
        if not self.busy:
            self._status(
                f"{len(documents)} sources in this profile's memory."
                if documents
                else "Nothing in memory yet: press a to add files or folders."
            )

    def _source_width(self) -> int:
        """What is left for the Source column once the others fit (all readable at 80 columns)."""
        table = self.query_one(DataTable)
        total = table.size.width or self.app.size.width
        return max(16, total - (6 + 7 + 16) - 2 * 4 - 2)

    def on_resize(self) -> None:
        self.refresh_data()

    def _status(self, text: str) -> None:
        self.query_one("#docs-status", Static).update(text)

    # --- add / reindex ---------------------------------------------------------------------
    def action_add(self) -> None:
        if self._refuse_if_unavailable():
            return
        self.app.push_screen(
            TextPrompt(
                "Add files or folders (space-separated paths)", placeholder="notes/ report.md"
            ),
            self._add,
        )

    def _add(self, value: str | None) -> None:
        if value and value.strip():
            self.ingest([p for p in value.split() if p])

    def action_reindex(self) -> None:
        if self._refuse_if_unavailable():
            return
        self.ingest(None)

    @work(thread=True, exclusive=True, group="docs", exit_on_error=False)
    def ingest(self, paths: list[str] | None) -> None:
        """Embedding is slow: it runs in a thread, with progress drawn from the events."""
        from botifython_tui.core.memory import ChunksEmbedded, FileDone, ModelLoading, ScanFinished

        self.busy = True
        self.stopping = False
        bar = self.query_one(ProgressBar)
        profile_id = self.profile.id

        def progress(event) -> None:
            if isinstance(event, ModelLoading):
                self.app.call_from_thread(
                    self._status, f"Loading the embedding model {event.model}…"
                )
            elif isinstance(event, ScanFinished):
                self.app.call_from_thread(bar.update, total=max(event.files, 1), progress=0)
            elif isinstance(event, FileDone):
                self.app.call_from_thread(bar.update, progress=event.index)
                self.app.call_from_thread(
                    self._status,
                    f"{event.outcome}: {single_line(event.path)} ({event.chunks} chunks)",
                )
            elif isinstance(event, ChunksEmbedded) and event.total:
                self.app.call_from_thread(
                    self._status,
                    f"Embedding {event.done}/{event.total} chunks {single_line(event.source)}",
                )

        self.app.call_from_thread(setattr, bar, "display", True)
        try:
            if paths is None:
                report = self.memory.reindex(profile_id, progress=progress)
            else:
                report = self.memory.add_paths(
                    [str(Path(p).expanduser()) for p in paths],
                    profile_id,
                    progress=progress,
                    should_stop=lambda: self.stopping,
                )
            text = (
                f"Added {len(report.added)}, updated {len(report.updated)}, unchanged "
                f"{len(report.unchanged)}, removed {len(report.removed)}, skipped {len(report.skipped)}"
            )
            if report.skipped:
                path, reason = report.skipped[0]
                text += f" (e.g. {single_line(path)}: {single_line(reason)})"
            if report.cancelled:
                text = "Stopped. " + text
        finally:
            self.busy = False
            self.app.call_from_thread(setattr, bar, "display", False)
        self.app.call_from_thread(self.refresh_data)
        self.app.call_from_thread(self._status, text + ".")

    def action_stop(self) -> None:
        if self.busy:
            self.stopping = True
            self._status("Stopping after the current file…")

    # --- search ------------------------------------------------------------------------------
    def action_search(self) -> None:
        if self._refuse_if_unavailable():
            return
        self.app.push_screen(
            TextPrompt("Search your documents", placeholder="a question"), self._search
        )

    def _search(self, query: str | None) -> None:
        if query and query.strip():
            self.search(query.strip())

    @work(exclusive=True, group="docs-search", exit_on_error=False)
    async def search(self, query: str) -> None:
        self._status("Searching…" if self.memory.model_loaded else "Loading the embedding model…")
        hits = await self.memory.asearch(query, self.profile.id, k=5)
        results = Text()
        for rank, hit in enumerate(hits, start=1):
            results.append(f"{rank}. {hit.score:.2f} ", style="bold")
            results.append(single_line(_shown_source(hit.source, hit.title)))
            results.append(f"\n   {single_line(hit.text)[:150]}\n", style="dim")
        self.query_one("#docs-results", Static).update(results if hits else "No match.")
        self._status(f"{len(hits)} results for {query!r}.")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed job: this screen is ready again and says so on its status line; the app's one
        handler tells the user (the memory's errors carry their title and the fix)."""
        error = event.worker.error
        if event.state != WorkerState.ERROR or error is None:
            return
        self.busy = False
        self.query_one(ProgressBar).display = False
        self._status(single_line(str(error)) if for_the_user(error) else "Failed: see the message.")
        self.app.post_message(
            WorkFailed(error, _ACTIONS.get(event.worker.name or "", "work on the documents"))
        )
        self.refresh_data()

    # --- remove ------------------------------------------------------------------------------
    @reports_errors("remove the document")
    def action_remove(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        kind, source = str(row_key.value).split("\x00", 1)
        self.app.push_screen(
            Confirm(
                f"Forget {KIND_LABEL.get(kind, kind)} {single_line(source)!r}? (the file itself stays)"
            ),
            lambda yes: self.remove(source) if yes else None,
        )

    @work(thread=True, group="docs", exit_on_error=False)
    def remove(self, source: str) -> None:
        self.memory.remove(source, self.profile.id)
        self.app.call_from_thread(self.refresh_data)


def _elided(text: str, width: int) -> str:
    """A path too long for its column keeps its end (the file name): "…/sub/file.md"."""
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1) :]


def _shown_source(source: str, title: str) -> str:
    if source.startswith(("chat:", "export:")):
        return title or source
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source

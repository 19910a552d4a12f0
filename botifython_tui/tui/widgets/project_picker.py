"""Choose a Botify project and analysis: from the user's projects, or from a pasted project URL.

The picker lists and proposes; it posts `Selected` and the screen holding it keeps the choice
(and hands it back with `show_selection`, so the lists follow a profile switch too).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static

from botifython_tui.core.botify import (
    Analysis,
    BotifyError,
    NotFoundError,
    Project,
    latest_finished,
    parse_project_ref,
)
from botifython_tui.core.selection import Selection
from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.tui.errors import ReportsFailedWork
from botifython_tui.tui.screens.botify_support import make_client, token_store

PROJECT_HINT = "Enter: choose · u: paste a URL · r: reload projects · Esc: leave a field"


class ProjectPicker(ReportsFailedWork, Vertical):
    """The projects and analyses tables and the project URL field.

    Needs `app.settings` (Botify API URL, data folder with the token) and `app.store` (which
    analyses were exported). Workers are named by what they do, so a failure reaches the app's
    one handler under the error's own title.
    """

    DEFAULT_CSS = """
    ProjectPicker {
        height: auto;
    }
    """

    class Selected(Message):
        """A project and analysis were chosen: `final` when the person picked the analysis
        itself, rather than the picker proposing one for a project."""

        def __init__(self, selection: Selection, *, final: bool) -> None:
            super().__init__()
            self.selection = selection
            self.final = final

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.selection: Selection | None = None  # the choice in force, as the screen keeps it
        self.projects: list[Project] = []
        self.analyses: list[Analysis] = []
        self.analyses_for: tuple[str, str] | None = None
        self.username: str | None = None  # whose projects are listed; None while not connected

    def compose(self) -> ComposeResult:
        with Horizontal(classes="botify-row"):
            yield Label("Project URL", classes="botify-label")
            yield Input(
                compact=True,
                id="url-input",
                placeholder="https://app.botify.com/ORG/PROJECT/ or ORG/PROJECT",
            )
        with Horizontal(id="project-lists"):
            yield DataTable(id="projects-table", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="analyses-table", cursor_type="row", zebra_stripes=True)
        yield Static(PROJECT_HINT, classes="botify-hint", markup=False)

    def on_mount(self) -> None:
        projects = self.query_one("#projects-table", DataTable)
        projects.add_column("Project", key="project")
        projects.border_title = "Your projects"
        analyses = self.query_one("#analyses-table", DataTable)
        analyses.add_column("Analysis", key="slug", width=11)
        analyses.add_column("Launched", key="date", width=10)
        analyses.add_column("Note", key="note")
        analyses.border_title = "Analyses"

    def _run(self, work, *, name: str, group: str) -> None:
        self.run_worker(work, name=name, group=group, exclusive=True, exit_on_error=False)

    def focus_target(self, *, typing: bool) -> Widget:
        """What arriving here should focus: the analyses, else the projects, else the URL field
        (never a text field when the person just left one, `typing=False`)."""
        projects = self.query_one("#projects-table", DataTable)
        analyses = self.query_one("#analyses-table", DataTable)
        if analyses.row_count or (not typing and not projects.row_count):
            return analyses
        if projects.row_count:
            return projects
        return self.query_one("#url-input")

    # --- the choice in force --------------------------------------------------------------------
    def show_selection(self, selection: Selection | None, *, fetch: bool) -> None:
        """Follow the kept choice; `fetch` lists its analyses when they are not shown yet."""
        changed = selection != self.selection
        if changed:
            self.selection = selection
            if selection is None:
                self._set_analyses(None, [])
            elif (selection.org, selection.project) != self.analyses_for:
                self._set_analyses(None, [])
                if fetch:
                    self.load_analyses(selection.org, selection.project, choose=False)
        self.fill_analyses(to_selection=changed)

    def _kept(self) -> str:
        if self.selection is None:
            return ""
        return f" Still using {self.selection.project_label}."

    # --- projects -------------------------------------------------------------------------------
    def connected(self, username: str) -> None:
        """The token works: list the projects, and the chosen project's analyses unless shown."""
        self.username = username
        self.load_projects(username)
        kept = self.selection
        if kept is not None and (kept.org, kept.project) != self.analyses_for:
            self.load_analyses(kept.org, kept.project, choose=False)

    def load_projects(self, username: str | None = None) -> None:
        self._run(self._fetch_projects(username), name="list your projects", group="projects")

    def reload(self) -> None:
        """r: list the projects again (once connected)."""
        if self.username is None:
            self.notify(
                "Connect with your API token first (tab 1).",
                title="Not connected",
                severity="warning",
            )
            return
        self.load_projects(self.username)

    def forget_projects(self) -> None:
        """Disconnected: the list goes, and a listing under way stops."""
        self.username = None
        self.workers.cancel_group(self, "projects")
        self.projects = []
        table = self.query_one("#projects-table", DataTable)
        table.clear()
        table.loading = False

    async def _fetch_projects(self, username: str | None) -> None:
        table = self.query_one("#projects-table", DataTable)
        table.loading = True
        try:
            async with make_client(self.app) as client:
                projects = await client.projects(username or await client.username())
        finally:
            table.loading = False
        self.projects = projects
        table.clear()
        for project in projects:
            label = Text(single_line(project.label))
            if project.name and project.name not in (project.slug, project.label):
                label.append(f"  {single_line(project.name)}", style="dim")
            table.add_row(label, key=project.label)
        table.border_title = f"Your projects ({len(projects)})"
        if self.selection is not None and self.selection.project_label in table.rows:
            table.move_cursor(row=table.get_row_index(self.selection.project_label))
        url = self.query_one("#url-input", Input)
        if projects and url.has_focus and not url.value:
            table.focus()  # nothing typed yet: picking from the list is the likelier next step

    # --- choosing -------------------------------------------------------------------------------
    @on(Input.Submitted, "#url-input")
    def _url_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.choose_from_url(event.value)

    def choose_from_url(self, text: str) -> None:
        """A pasted project (or analysis) URL, or ORG/PROJECT: list its analyses and choose."""
        try:
            ref = parse_project_ref(text)
        except ValueError as exc:
            self.notify(
                neutralize_controls(f"{exc}{self._kept()}"),
                title="Not a project URL",
                severity="error",
                markup=False,
            )
            return
        if not token_store(self.app).load():
            self.notify(
                "Connect with your API token first (tab 1).",
                title="Not connected",
                severity="warning",
            )
            return
        self.load_analyses(ref.org, ref.project, choose=True, wanted=ref.analysis)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "projects-table":
            org, _, project = key.partition("/")
            self.load_analyses(org, project, choose=True)
        elif event.data_table.id == "analyses-table":
            self.choose_analysis(key)

    def choose_analysis(self, slug: str) -> None:
        """The person picked an analysis of the listed project; unfinished ones are refused."""
        if self.analyses_for is None:
            return
        analysis = next((a for a in self.analyses if a.slug == slug), None)
        if analysis is not None and not analysis.is_finished:
            self.notify(
                single_line(
                    f"The analysis {slug} is not finished ({analysis.status}): only finished "
                    "analyses can be exported."
                ),
                title="Analysis not ready",
                severity="warning",
                markup=False,
            )
            return
        org, project = self.analyses_for
        self.post_message(self.Selected(Selection(org, project, slug), final=True))

    # --- analyses -------------------------------------------------------------------------------
    def load_analyses(
        self, org: str, project: str, *, choose: bool, wanted: str | None = None
    ) -> None:
        """List a project's analyses; `choose` proposes one (`wanted` if it exists)."""
        self._run(
            self._fetch_analyses(org, project, choose=choose, wanted=wanted),
            name=f"list the analyses of {org}/{project}",
            group="analyses",
        )

    async def _fetch_analyses(
        self, org: str, project: str, *, choose: bool, wanted: str | None
    ) -> None:
        table = self.query_one("#analyses-table", DataTable)
        table.loading = True
        try:
            async with make_client(self.app) as client:
                analyses = await client.analyses(org, project)
        except BotifyError as exc:
            if choose and self._kept():  # say that nothing changed
                raise type(exc)(f"{exc}{self._kept()}", status=exc.status, code=exc.code) from exc
            raise
        finally:
            table.loading = False
        if not analyses:
            raise NotFoundError(
                f"The project {org}/{project} has no analyses yet: crawl it on Botify first."
                + self._kept()
            )
        self._set_analyses((org, project), analyses)
        if not choose:
            return
        analysis, note = self._default_analysis(org, project, analyses, wanted)
        self.post_message(self.Selected(Selection(org, project, analysis), final=False))
        self.notify(
            single_line(f"{org}/{project}: {len(analyses)} analyses; chose {analysis}.{note}"),
            title="Project",
            markup=False,
        )
        self.query_one("#url-input", Input).value = ""
        self.query_one("#analyses-table").focus()

    def _default_analysis(
        self, org: str, project: str, analyses: list[Analysis], wanted: str | None
    ) -> tuple[str, str]:
        """The analysis to propose, and a note when the wanted one does not exist.

        The wanted one, else the one chosen before in the same project, else the newest finished.
        """
        slugs = [a.slug for a in analyses]
        if wanted and wanted in slugs:
            return wanted, ""
        previous = self.selection
        same = previous is not None and (previous.org, previous.project) == (org, project)
        if same and previous is not None and previous.analysis in slugs:
            analysis = previous.analysis
        else:
            latest = latest_finished(analyses)
            analysis = latest.slug if latest is not None else slugs[0]
        note = f" The analysis {wanted} does not exist there; chose {analysis}." if wanted else ""
        return analysis, note

    def _set_analyses(self, project: tuple[str, str] | None, analyses: list[Analysis]) -> None:
        self.analyses_for = project
        self.analyses = analyses
        self.fill_analyses(to_selection=True)

    def fill_analyses(self, *, to_selection: bool = False) -> None:
        """Redraw the analyses (marks of exported ones included); the cursor stays put unless
        `to_selection` or the list changed."""
        table = self.query_one("#analyses-table", DataTable)
        shown = [str(key.value) for key in table.rows]
        under_cursor = (
            shown[table.cursor_row] if shown and 0 <= table.cursor_row < len(shown) else None
        )
        exported = self.app.store.exported_analyses()  # type: ignore[attr-defined]
        table.clear()
        org, project = self.analyses_for or ("", "")
        for analysis in self.analyses:
            if not analysis.is_finished:
                note = Text(single_line(analysis.status), style="dim")
            elif (org, project, analysis.slug) in exported:
                note = Text("● exported", style="bold")
            else:
                note = Text("")
            table.add_row(
                Text(single_line(analysis.slug)),
                Text(single_line(analysis.date[:10])),
                note,
                key=analysis.slug,
            )
        table.border_title = single_line(
            f"Analyses of {org}/{project}" if self.analyses_for else "Analyses"
        )
        sel = self.selection
        target = (
            sel.analysis if sel is not None and (sel.org, sel.project) == (org, project) else None
        )
        same_list = shown == [analysis.slug for analysis in self.analyses]
        if same_list and not to_selection and under_cursor is not None:
            target = under_cursor  # a background refresh must not move the cursor
        if target and target in table.rows:
            table.move_cursor(row=table.get_row_index(target))

"""Botify: connect with a token, choose a project and analysis, export the link graph, summary."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker

from botifython_tui.core import app_events
from botifython_tui.core.botify import (
    Analysis,
    BotifyError,
    NotFoundError,
    Project,
    mask_token,
    parse_project_ref,
)
from botifython_tui.core.selection import Selection, load_selection, save_selection
from botifython_tui.core.store import ExportRecord
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.export_runner import (
    ExportBusy,
    ExportRefused,
    ExportRunner,
    RunningExport,
)
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.botify_support import (
    make_client,
    token_store,
)
from botifython_tui.tui.screens.botify_visualise import visualise_export
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.widgets.export_panel import ExportPanel
from botifython_tui.tui.widgets.graph_summary import GraphSummary

log = get_logger("tui.botify")

TOKEN_HELP = (
    "Paste your Botify API token (app.botify.com → your account → API token) and press Enter. "
    "It is checked with Botify, then kept in the data folder, readable only by you."
)
DEMO_OFFER = (
    "No token, or no Botify account? Press F9 to try the demo project: a simulated shop and "
    "blog, served on this machine, with its data and exports kept apart from yours."
)
DEMO_NOTE = (
    "This is the demo account, simulated on this machine: connected already (its token is "
    "demo-token), its exports go to downloads/demo. Start Botifython without --demo for your "
    "own account."
)
PROJECT_HINT = "Enter: choose · u: paste a URL · r: reload projects · Esc: leave a field"


class BotifyScreen(AppScreen):
    """Token, project and analysis, link-graph export with live progress, and its summary."""

    app_name = "Botify"

    BINDINGS = [
        Binding("s", "start_export", "Export", id="botify.export"),
        Binding("v", "visualise", "Visualise", id="botify.visualise"),
        Binding("escape", "cancel_export", "Cancel", id="botify.cancel"),
        Binding("1", "show_tab('tab-connect')", "Connect tab", id="botify.tab1", show=False),
        Binding("2", "show_tab('tab-project')", "Project tab", id="botify.tab2", show=False),
        Binding("3", "show_tab('tab-export')", "Export tab", id="botify.tab3", show=False),
        Binding("4", "show_tab('tab-summary')", "Summary tab", id="botify.tab4", show=False),
        Binding("t", "edit_token", "Paste a token", id="botify.token", show=False),
        Binding("d", "disconnect", "Disconnect", id="botify.disconnect", show=False),
        Binding("u", "edit_url", "Paste a project URL", id="botify.url", show=False),
        Binding("r", "reload_projects", "Reload projects", id="botify.reload", show=False),
        Binding("b", "edit_budget", "Edge budget", id="botify.budget", show=False),
        Binding("f9", "try_demo", "Try the demo", id="botify.demo", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.username: str | None = None
        self.token_state = "none"  # none | checking | ok | rejected | unreachable
        self.selection: Selection | None = None
        self.projects: list[Project] = []
        self.analyses: list[Analysis] = []
        self.analyses_for: tuple[str, str] | None = None
        self.record: ExportRecord | None = None
        self._ready = False  # is_mounted only turns true after on_mount

    # --- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(id="botify-status", markup=False)
        with TabbedContent(id="botify-tabs"):
            with TabPane("1 Connect", id="tab-connect"):
                yield Static(TOKEN_HELP, classes="botify-help", markup=False)
                with Horizontal(classes="botify-row"):
                    yield Label("API token", classes="botify-label")
                    yield Input(
                        password=True,
                        compact=True,
                        id="token-input",
                        placeholder="Paste the token, then Enter",
                    )
                with Horizontal(classes="botify-row botify-buttons"):
                    yield Button("Connect", id="connect-button", compact=True, variant="primary")
                    yield Button("Disconnect (d)", id="disconnect-button", compact=True)
                yield Static(id="token-status", markup=False)
                demo = self.shell.settings.demo
                yield Static(DEMO_NOTE if demo else DEMO_OFFER, id="demo-offer", markup=False)
                if not demo:
                    yield Button("Try the demo project (F9)", id="demo-button", compact=True)
            with TabPane("2 Project", id="tab-project"):
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
            with TabPane("3 Export", id="tab-export"):
                yield ExportPanel(self.shell.settings.max_edges, id="export-panel")
            with TabPane("4 Summary", id="tab-summary"), VerticalScroll(id="summary-scroll"):
                yield GraphSummary(id="summary")

    def on_mount(self) -> None:
        # AppScreen.on_mount runs as well: Textual calls the handler of every class in the MRO.
        self._ready = True
        projects = self.query_one("#projects-table", DataTable)
        projects.add_column("Project", key="project")
        projects.border_title = "Your projects"
        analyses = self.query_one("#analyses-table", DataTable)
        analyses.add_column("Analysis", key="slug", width=11)
        analyses.add_column("Launched", key="date", width=10)
        analyses.add_column("Note", key="note")
        analyses.border_title = "Analyses"
        self.query_one(ExportPanel).show_run(self.shell.exports.last)
        token = token_store(self.app).load()
        self.refresh_data()
        if token:
            self._verify(token, new=False)
        if not token:
            self.action_show_tab("tab-connect")
        elif self.selection is None or not self.selection.analysis:
            self.action_show_tab("tab-project")
        else:
            self.action_show_tab("tab-export")
        self._show_token_status()

    # --- data ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        """Reload the profile's selection and exports (profile switched, another instance)."""
        if not self._ready:
            return
        selection = load_selection(self.store, self.profile.id)
        changed = selection != self.selection
        if changed:
            self.selection = selection
            if selection is None:
                self._set_analyses(None, [])
            elif (selection.org, selection.project) != self.analyses_for:
                self._set_analyses(None, [])
                if self.token_state == "ok":
                    self._load_analyses(selection.org, selection.project, choose=False)
        self._fill_analyses(to_selection=changed)
        self._show_latest_summary()
        self._update_status()

    @property
    def connected(self) -> bool:
        return self.token_state == "ok"

    def _update_status(self) -> None:
        state = {
            "ok": f"Connected as {self.username}",
            "checking": "Checking the token…",
            "none": "Not connected: paste your API token (1)",
            "rejected": "Token rejected: paste a new one (1)",
            "unreachable": "Botify unreachable: token not checked",
        }[self.token_state]
        parts = [state]
        if self.selection is None:
            parts.append("no project chosen (2)")
        else:
            parts.append(self.selection.project_label)
            parts.append(self.selection.analysis or "no analysis chosen (2)")
        if self.exporting is not None:
            parts.append("exporting…")
        self.query_one("#botify-status", Static).update(single_line(" · ".join(parts)))
        panel = self.query_one(ExportPanel)
        if self.selection is None or not self.selection.analysis:
            panel.set_target("Choose a project and an analysis first (tab 2).")
        else:
            sel = self.selection
            exported = (sel.org, sel.project, sel.analysis) in self.store.exported_analyses()
            panel.set_target(
                f"Link graph of {sel.project_label} · {sel.analysis}"
                + (" · exported before" if exported else "")
            )

    def _show_token_status(self, extra: str = "") -> None:
        masked = token_store(self.app).masked()
        stored = masked != mask_token(None)
        text = {
            "ok": f"Connected as {self.username} · token {masked}",
            "checking": f"Checking the token {masked} with Botify…",
            "none": "No token stored yet.",
            "rejected": f"The stored token {masked} was rejected by Botify: paste a new one.",
            "unreachable": f"Token {masked} stored; Botify could not be reached to check it.",
        }[self.token_state]
        if self.token_state == "none" and stored:
            text = f"Token {masked} stored."
        if token_store(self.app).from_env():
            text += " (from BOTIFY_API_TOKEN, which wins over a stored token)"
        self.query_one("#token-status", Static).update(single_line(f"{text} {extra}".strip()))
        self.query_one("#token-input", Input).placeholder = (
            f"Paste a new token to replace {masked}, then Enter"
            if stored
            else "Paste the token, then Enter"
        )
        self.query_one("#disconnect-button", Button).disabled = not stored
        if not self.shell.settings.demo:  # the demo offer, while there is no working token
            offered = not self.connected
            self.query_one("#demo-offer").display = offered
            self.query_one("#demo-button").display = offered
            self.refresh_bindings()
        self._update_status()

    # --- tabs and focus -------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        self._focus_main(tab)

    def _focus_main(self, tab: str, *, typing: bool = True) -> None:
        """Focus what the tab is for; `typing=False` never picks a text field (after Esc)."""
        target: Widget
        if tab == "tab-connect":
            wants_token = typing and not self.connected
            target = self.query_one("#token-input" if wants_token else "#connect-button")
        elif tab == "tab-project":
            projects = self.query_one("#projects-table", DataTable)
            analyses = self.query_one("#analyses-table", DataTable)
            if analyses.row_count or (not typing and not projects.row_count):
                target = analyses
            elif projects.row_count:
                target = projects
            else:
                target = self.query_one("#url-input")
        elif tab == "tab-export":
            running = self.exporting is not None
            target = self.query_one("#cancel-export" if running else "#start-export")
        else:
            target = self.query_one("#summary-scroll")

        def focus_if_still_shown() -> None:
            # Focusing a widget shows its tab: if the user moved on meanwhile, leave them there.
            if self.query_one(TabbedContent).active == tab:
                target.focus()

        self.call_after_refresh(focus_if_still_shown)

    def on_key(self, event: events.Key) -> None:
        # Esc leaves a text field (then letters and digits are keys again), like in Todos.
        if event.key == "escape" and isinstance(self.focused, Input):
            event.stop()
            event.prevent_default()
            self._focus_main(self.query_one(TabbedContent).active, typing=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "try_demo":  # offered while no token is stored, never inside the demo
            return not self.shell.settings.demo and not self.connected and self.exporting is None
        if action == "cancel_export":
            return self.exporting is not None  # shown in the footer only while exporting
        return True

    def action_edit_token(self) -> None:
        self.query_one(TabbedContent).active = "tab-connect"
        self.query_one("#token-input").focus()

    def action_try_demo(self) -> None:
        if self.check_action("try_demo", ()):
            self.shell.try_demo()

    def action_edit_url(self) -> None:
        self.query_one(TabbedContent).active = "tab-project"
        self.query_one("#url-input").focus()

    def action_edit_budget(self) -> None:
        self.query_one(TabbedContent).active = "tab-export"
        self.query_one("#budget-input").focus()

    # --- workers and their errors ---------------------------------------------------------------
    def _run(self, work, *, name: str, group: str) -> Worker:
        return self.run_worker(work, name=name, group=group, exclusive=True, exit_on_error=False)

    # --- token ----------------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "token-input":
            self.action_connect()
        elif event.input.id == "url-input":
            self.choose_from_url(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "connect-button": self.action_connect,
            "disconnect-button": self.action_disconnect,
            "demo-button": self.action_try_demo,
        }
        if event.button.id in actions:
            actions[event.button.id]()

    def action_connect(self) -> None:
        field = self.query_one("#token-input", Input)
        token = field.value.strip()
        if not token:
            self.notify(
                "Paste your Botify API token into the field first.",
                title="No token",
                severity="warning",
            )
            field.focus()
            return
        self._verify(token, new=True)

    def _verify(self, token: str, *, new: bool) -> None:
        self._run(self._verify_token(token, new=new), name="verify the token", group="token")

    async def _verify_token(self, token: str, *, new: bool) -> None:
        previous = (self.token_state, self.username)
        if previous[0] == "checking":  # an earlier check was superseded
            previous = ("none", None)
        self.token_state = "checking"
        self._show_token_status()
        try:
            async with make_client(self.app, token) as client:
                username = await client.username()
        except BotifyError as exc:
            if new:  # nothing is saved: back to what we had before
                self.token_state, self.username = previous
                self._show_token_status(f"The token was not saved: {_first_sentence(exc)}")
            else:
                self.token_state = "unreachable" if _unreachable(exc) else "rejected"
                self._show_token_status()
            raise
        if new:
            token_store(self.app).save(token)
            self.query_one("#token-input", Input).value = ""
        self.username = username
        self.token_state = "ok"
        self._show_token_status()
        if new:
            self.notify(
                f"Connected as {username}. The token is saved ({mask_token(token)}).",
                title="Botify",
                markup=False,
            )
            self.shell.publish(app_events.BotifyConnected(username))
        self._load_projects()
        if self.selection is not None and self.analyses_for != (
            self.selection.org,
            self.selection.project,
        ):
            self._load_analyses(self.selection.org, self.selection.project, choose=False)
        if new:
            self.action_show_tab("tab-project" if self.selection is None else "tab-export")

    def action_disconnect(self) -> None:
        if not token_store(self.app).load():
            self.notify("No token is stored: there is nothing to forget.", markup=False)
            return
        self.app.push_screen(
            Confirm(
                "Forget the Botify token stored on this machine? You will need to paste it "
                "again to export.",
                confirm_label="Forget it",
            ),
            lambda yes: self._disconnect() if yes else None,
        )

    @reports_errors("forget the token")
    def _disconnect(self) -> None:
        self.workers.cancel_group(self, "token")
        self.workers.cancel_group(self, "projects")
        token_store(self.app).clear()
        self.username = None
        self.token_state = "none"
        self.projects = []
        self.query_one("#projects-table", DataTable).clear()
        self._show_token_status()
        if token_store(self.app).from_env():
            self.notify(
                "The stored token is forgotten, but BOTIFY_API_TOKEN is set and still used; "
                "unset it to disconnect.",
                title="Botify",
                severity="warning",
                markup=False,
            )
        else:
            self.notify("Disconnected: the token is forgotten.", title="Botify", markup=False)
        self.shell.publish(app_events.BotifyDisconnected())
        self.action_show_tab("tab-connect")

    # --- projects and analyses --------------------------------------------------------------------
    def action_reload_projects(self) -> None:
        if not self.connected:
            self.notify(
                "Connect with your API token first (tab 1).",
                title="Not connected",
                severity="warning",
            )
            return
        self._load_projects()

    def _load_projects(self) -> None:
        self._run(self._fetch_projects(), name="list your projects", group="projects")

    async def _fetch_projects(self) -> None:
        table = self.query_one("#projects-table", DataTable)
        table.loading = True
        try:
            async with make_client(self.app) as client:
                username = self.username or await client.username()
                projects = await client.projects(username)
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

    def choose_from_url(self, text: str) -> None:
        try:
            ref = parse_project_ref(text)
        except ValueError as exc:
            kept = (
                f" Still using {self.selection.project_label}."
                if self.selection is not None
                else ""
            )
            self.notify(f"{exc}{kept}", title="Not a project URL", severity="error", markup=False)
            return
        if not token_store(self.app).load():
            self.notify(
                "Connect with your API token first (tab 1).",
                title="Not connected",
                severity="warning",
            )
            return
        self._load_analyses(ref.org, ref.project, choose=True, wanted=ref.analysis)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "projects-table":
            org, _, project = key.partition("/")
            self._load_analyses(org, project, choose=True)
        elif event.data_table.id == "analyses-table":
            self.choose_analysis(key)

    def _load_analyses(
        self, org: str, project: str, *, choose: bool, wanted: str | None = None
    ) -> None:
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
        if not choose:
            self._set_analyses((org, project), analyses)
            return
        finished = [a.slug for a in analyses if a.status.lower() == "success"]
        slugs = [a.slug for a in analyses]
        note = ""
        if wanted and wanted in slugs:
            analysis = wanted
        else:
            if wanted:
                note = f" The analysis {wanted} does not exist there;"
            previous = self.selection
            same = previous is not None and (previous.org, previous.project) == (org, project)
            if same and previous.analysis in slugs:
                analysis = previous.analysis
            else:
                analysis = finished[0] if finished else slugs[0]
            if note:
                note += f" chose {analysis}."
        self._set_analyses((org, project), analyses)
        self._select(Selection(org, project, analysis))
        self.notify(
            single_line(f"{org}/{project}: {len(analyses)} analyses; chose {analysis}.{note}"),
            title="Project",
            markup=False,
        )
        self.query_one("#url-input", Input).value = ""
        self.query_one("#analyses-table").focus()

    def _kept(self) -> str:
        if self.selection is None:
            return ""
        return f" Still using {self.selection.project_label}."

    def _set_analyses(self, project: tuple[str, str] | None, analyses: list[Analysis]) -> None:
        self.analyses_for = project
        self.analyses = analyses
        self._fill_analyses(to_selection=True)

    def _fill_analyses(self, *, to_selection: bool = False) -> None:
        """Redraw the analyses; the cursor stays put unless `to_selection` or the list changed."""
        table = self.query_one("#analyses-table", DataTable)
        shown = [str(key.value) for key in table.rows]
        under_cursor = (
            shown[table.cursor_row] if shown and 0 <= table.cursor_row < len(shown) else None
        )
        exported = self.store.exported_analyses()
        table.clear()
        org, project = self.analyses_for or ("", "")
        for analysis in self.analyses:
            if analysis.status.lower() != "success":
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

    def choose_analysis(self, slug: str) -> None:
        if self.analyses_for is None:
            return
        analysis = next((a for a in self.analyses if a.slug == slug), None)
        if analysis is not None and analysis.status.lower() != "success":
            self.notify(
                f"The analysis {slug} is not finished ({analysis.status}): only finished "
                "analyses can be exported.",
                title="Analysis not ready",
                severity="warning",
                markup=False,
            )
            return
        org, project = self.analyses_for
        self._select(Selection(org, project, slug))
        self.action_show_tab("tab-export")

    @reports_errors("remember the project")
    def _select(self, selection: Selection) -> None:
        save_selection(self.store, self.profile.id, selection)
        self.selection = selection
        self._fill_analyses(to_selection=True)
        self._show_latest_summary()
        self._update_status()
        self.shell.publish(
            app_events.ProjectSelected(selection.org, selection.project, selection.analysis)
        )

    # --- export (the app's runner does the work; the panel shows it) ---------------------------
    @property
    def exporting(self) -> RunningExport | None:
        """The export running now (started here, from Link graphs or by the assistant)."""
        return self.shell.exports.state

    def action_start_export(self) -> None:
        self.query_one(ExportPanel).request_start()

    def on_export_panel_start_requested(self, message: ExportPanel.StartRequested) -> None:
        message.stop()
        running = self.exporting
        if running is not None:
            self.notify(
                f"An export of {running.label} is already running: wait for it, or cancel it "
                "with Esc.",
                title="Export running",
                severity="warning",
                markup=False,
            )
            return
        if not token_store(self.app).load():
            self.notify(
                "Connect with your API token first.", title="Not connected", severity="warning"
            )
            self.action_show_tab("tab-connect")
            return
        selection = self.selection
        if selection is None or not selection.analysis:
            self.notify(
                "Choose a project and an analysis first.",
                title="No analysis chosen",
                severity="warning",
            )
            self.action_show_tab("tab-project")
            return
        # The counts come first (free); the runner asks about the credits before any job.
        try:
            self.shell.exports.start(selection, message.budget)
        except (ExportBusy, ExportRefused) as exc:
            self.notify(str(exc), title=exc.title, severity="warning", markup=False)
            return
        self.query_one(TabbedContent).active = "tab-export"
        self.query_one(ExportPanel).set_running(True)
        self.refresh_bindings()

    def on_export_panel_cancel_requested(self, message: ExportPanel.CancelRequested) -> None:
        message.stop()
        self.action_cancel_export()

    def action_cancel_export(self) -> None:
        self.shell.exports.cancel()

    def on_export_runner_progressed(self, message: ExportRunner.Progressed) -> None:
        self.query_one(ExportPanel).follow(message.run, message.event)
        if message.event is None:  # started, asking, cancelling: the status and keys change
            self.refresh_bindings()
            self._update_status()

    def on_export_runner_ended(self, message: ExportRunner.Ended) -> None:
        run = message.run
        panel = self.query_one(ExportPanel)
        panel.ended(run)
        self.refresh_bindings()
        record = run.record
        if record is not None and self.profile.id == run.profile_id:  # the profile may differ
            self._show_record(record, fresh=True)  # fresh: the analytics of the new files
        self._fill_analyses()
        self._update_status()
        if record is not None and self.query_one(TabbedContent).active == "tab-export":
            self.action_show_tab("tab-summary")  # they were watching: show what came out

    def on_screen_resume(self) -> None:
        # An export may have moved on, or started or ended, while another screen was in view.
        if self._ready:
            self.query_one(ExportPanel).show_run(self.shell.exports.last)

    # --- summary and visualisation ------------------------------------------------------------
    def _show_record(self, record: ExportRecord, *, fresh: bool = False) -> None:
        self.record = record
        title = f"{record.org}/{record.project} {record.analysis}"
        self.query_one(GraphSummary).show(record.summary, title=title)
        self.query_one(GraphSummary).analyse(record, fresh=fresh)  # worker; writes report

    def _show_latest_summary(self) -> None:
        sel = self.selection
        records = self.store.exports(self.profile.id).list() if sel is not None else []
        match = next(
            (
                r
                for r in records
                if sel is not None
                and (r.org, r.project, r.analysis) == (sel.org, sel.project, sel.analysis)
            ),
            None,
        )
        if match is None:
            if self.record is not None:
                self.record = None
                self.query_one(GraphSummary).clear()
            return
        if self.record is None or self.record.id != match.id:
            self._show_record(match)

    def action_visualise(self) -> None:
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
            self,
            links_path=record.links_path,
            meta_path=record.meta_path,
            label=f"{record.org}/{record.project} {record.analysis} · depth {record.depth}",
        )


def _unreachable(exc: BaseException) -> bool:
    from botifython_tui.core.botify import ConnectionFailed, ServerError

    return isinstance(exc, ConnectionFailed | ServerError)


def _first_sentence(exc: BaseException) -> str:
    text = str(exc)
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text

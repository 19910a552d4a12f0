"""Botify: connect with a token, choose a project and analysis, export the link graph, summary."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, TabPane

from botifython_tui.core import app_events
from botifython_tui.core.selection import Selection, load_selection, save_selection
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.export_runner import (
    ExportBusy,
    ExportRefused,
    ExportRunner,
    RunningExport,
)
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.botify_support import first_tab, status_line, token_store
from botifython_tui.tui.widgets.botify_tabs import BotifyTabs
from botifython_tui.tui.widgets.export_panel import ExportPanel
from botifython_tui.tui.widgets.project_picker import ProjectPicker
from botifython_tui.tui.widgets.summary_panel import SummaryPanel
from botifython_tui.tui.widgets.token_panel import TokenPanel

log = get_logger("tui.botify")


class BotifyScreen(AppScreen):
    """Token (`TokenPanel`), project and analysis (`ProjectPicker`), link-graph export with
    live progress, and its summary. The widgets post what happened; the screen keeps the choice,
    switches tabs and tells the app (BotifyConnected, BotifyDisconnected, ProjectSelected)."""

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
        self.selection: Selection | None = None
        self._ready = False  # is_mounted only turns true after on_mount

    # --- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(id="botify-status", markup=False)
        with BotifyTabs(id="botify-tabs"):
            with TabPane("1 Connect", id="tab-connect"):
                yield TokenPanel(id="token-panel")
            with TabPane("2 Project", id="tab-project"):
                yield ProjectPicker(id="project-picker")
            with TabPane("3 Export", id="tab-export"):
                yield ExportPanel(self.shell.settings.max_edges, id="export-panel")
            with TabPane("4 Summary", id="tab-summary"):
                yield SummaryPanel()

    def on_mount(self) -> None:
        # AppScreen.on_mount runs as well: Textual calls the handler of every class in the MRO.
        self._ready = True
        panel = self.token_panel
        self.watch(panel, "state", self._token_state_changed, init=False)
        self.query_one(ExportPanel).show_run(self.shell.exports.last)
        token = token_store(self.app).load()
        self.refresh_data()
        panel.verify_stored()
        self.action_show_tab(first_tab(bool(token), self.selection))

    # --- data ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        """Reload the profile's selection and exports (profile switched, another instance)."""
        if not self._ready:
            return
        selection = load_selection(self.store, self.profile.id)
        self.selection = selection
        self.picker.show_selection(selection, fetch=self.connected)
        self._show_latest_summary()
        self._update_status()

    @property
    def token_panel(self) -> TokenPanel:
        return self.query_one(TokenPanel)

    @property
    def picker(self) -> ProjectPicker:
        return self.query_one(ProjectPicker)

    @property
    def connected(self) -> bool:
        return self.token_panel.connected

    def _update_status(self) -> None:
        sel, exporting = self.selection, self.exporting is not None
        line = status_line(self.token_panel.status_text, sel, exporting=exporting)
        self.query_one("#botify-status", Static).update(line)
        exported = sel is not None and sel.key in self.store.exported_analyses()
        self.query_one(ExportPanel).show_target(sel, exported_before=exported)

    def _token_state_changed(self) -> None:
        self.refresh_bindings()  # the demo is offered while no token works
        self._update_status()

    # --- tabs and focus -------------------------------------------------------------------------
    @property
    def tabs(self) -> BotifyTabs:
        return self.query_one(BotifyTabs)

    def action_show_tab(self, tab: str) -> None:
        self.tabs.show(tab)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "try_demo":  # offered while no token is stored, never inside the demo
            return not self.shell.settings.demo and not self.connected and self.exporting is None
        if action == "cancel_export":
            return self.exporting is not None  # shown in the footer only while exporting
        return True

    def action_edit_token(self) -> None:
        self.tabs.edit("tab-connect", "#token-input")

    def action_edit_url(self) -> None:
        self.tabs.edit("tab-project", "#url-input")

    def action_edit_budget(self) -> None:
        self.tabs.edit("tab-export", "#budget-input")

    def action_try_demo(self) -> None:
        if self.check_action("try_demo", ()):
            self.shell.try_demo()

    @on(TokenPanel.DemoRequested)
    def _demo_requested(self) -> None:
        self.action_try_demo()

    # --- token --------------------------------------------------------------------------------
    def action_disconnect(self) -> None:
        self.token_panel.disconnect()

    @on(TokenPanel.Connected)
    def _connected(self, message: TokenPanel.Connected) -> None:
        if message.pasted:
            self.shell.publish(app_events.BotifyConnected(message.username))
        self.picker.connected(message.username)
        if message.pasted:
            self.action_show_tab("tab-project" if self.selection is None else "tab-export")

    @on(TokenPanel.Disconnected)
    def _disconnected(self) -> None:
        self.picker.forget_projects()
        self._update_status()
        self.shell.publish(app_events.BotifyDisconnected())
        self.action_show_tab("tab-connect")

    # --- projects and analyses ------------------------------------------------------------------
    def action_reload_projects(self) -> None:
        self.picker.reload()

    @on(ProjectPicker.Selected)
    def _project_chosen(self, message: ProjectPicker.Selected) -> None:
        if self._select(message.selection) and message.final:
            self.action_show_tab("tab-export")

    @reports_errors("remember the project")
    def _select(self, selection: Selection) -> bool:
        """Keep the choice for this profile; the picker and the status follow."""
        save_selection(self.store, self.profile.id, selection)
        self.selection = selection
        self.picker.show_selection(selection, fetch=False)
        self._show_latest_summary()
        self._update_status()
        self.shell.publish(
            app_events.ProjectSelected(selection.org, selection.project, selection.analysis)
        )
        return True

    # --- export (the app's runner does the work; the panel shows it) ---------------------------
    @property
    def exporting(self) -> RunningExport | None:
        """The export running now (started here, from Link graphs or by the assistant)."""
        return self.shell.exports.state

    def action_start_export(self) -> None:
        self.query_one(ExportPanel).request_start()

    def on_export_panel_start_requested(self, message: ExportPanel.StartRequested) -> None:
        message.stop()
        # The counts come first (free); the runner asks about the credits before any job.
        try:
            self.shell.exports.start(self.selection, message.budget)
        except ExportBusy as exc:
            self.notify(str(exc), title=exc.title, severity="warning", markup=False)
            return
        except ExportRefused as exc:  # said, and the tab where the missing part is given shown
            self.notify(exc.what, title=exc.title, severity="warning", markup=False)
            self.action_show_tab("tab-connect" if exc.missing == "token" else "tab-project")
            return
        self.tabs.active = "tab-export"
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
        record = run.record
        watching = record is not None and self.tabs.active == "tab-export"
        if watching:
            # Let go of the focus first: a focused Cancel button that is disabled hands the
            # focus to its neighbour in the Export tab, which would show that tab again and take
            # the next key typed ("4" for the summary) as the edge budget.
            self.set_focus(None)
        self.query_one(ExportPanel).ended(run)
        self.refresh_bindings()
        if record is not None and self.profile.id == run.profile_id:  # the profile may differ
            self.summary_panel.show_record(record, fresh=True)  # analytics of the new files
        self.picker.fill_analyses()
        self._update_status()
        if watching:
            self.action_show_tab("tab-summary")  # they were watching: show what came out

    def on_screen_resume(self) -> None:
        # An export may have moved on, or started or ended, while another screen was in view.
        if self._ready:
            self.query_one(ExportPanel).show_run(self.shell.exports.last)

    # --- summary and visualisation ------------------------------------------------------------
    @property
    def summary_panel(self) -> SummaryPanel:
        return self.query_one(SummaryPanel)

    def _show_latest_summary(self) -> None:
        self.summary_panel.show_for(self.store, self.profile.id, self.selection)

    def action_visualise(self) -> None:
        self.summary_panel.visualise()

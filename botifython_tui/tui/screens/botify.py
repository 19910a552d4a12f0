"""Botify: connect with a token, choose a project and analysis, export the link graph, summary."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import (
    Button,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker

from botifython_tui.core import app_events
from botifython_tui.core.export_files import credits_text, remove_live_parts
from botifython_tui.core.linkgraph import (
    ExportFailed,
    ExportFinished,
    ExportPlan,
    LinkGraphExport,
    LinkGraphRequest,
    PollPolicy,
)
from botifython_tui.core.selection import Selection, load_selection, save_selection
from botifython_tui.core.store import ExportRecord
from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.botify_support import (
    make_client,
    token_store,
)
from botifython_tui.tui.screens.botify_visualise import visualise_export
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.widgets.export_progress import ExportProgress
from botifython_tui.tui.widgets.graph_summary import GraphSummary
from botifython_tui.tui.widgets.project_picker import ProjectPicker
from botifython_tui.tui.widgets.token_panel import TokenPanel, TokenState

log = get_logger("tui.botify")

MAX_BUDGET = 100_000_000
EXPORT_HINT = "s: start · Esc: cancel · b: edge budget · v: visualise · 4: summary"
EXPORT_INTRO = (
    "The export finds the deepest crawl depth whose links fit in the edge budget, then "
    "downloads the links and the page attributes (pagetype, compliance, …) as CSV files into "
    "the downloads folder. Exports spend Botify credits: the estimate is shown, and asked "
    "about, before any job starts."
)


def parse_budget(text: str) -> int:
    """The edge budget typed by the user: a whole number from 1 to 100,000,000."""
    cleaned = re.sub(r"[\s,_]", "", text or "")
    if not cleaned.isdigit() or int(cleaned) < 1:
        raise ValueError(
            f"The edge budget must be a whole number above 0, such as 1000000 "
            f"(not {single_line(text or '')!r})."
        )
    value = int(cleaned)
    if value > MAX_BUDGET:
        raise ValueError(f"The edge budget can be at most {MAX_BUDGET:,} edges.")
    return value


class BotifyScreen(AppScreen):
    """Token (`TokenPanel`), project and analysis (`ProjectPicker`), link-graph export with
    live progress, and its summary. The widgets post what happened; the screen keeps the choice,
    switches tabs and tells the app (BotifyConnected, BotifyDisconnected, ProjectSelected)."""

    app_name = "Botify"
    # Tests make polling quick; None means the job's default (growing pauses up to 10 s).
    poll_policy: PollPolicy | None = None
    retry_delay: float = 1.0  # seconds before fetching a broken download again (× the try)

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
        self.export_worker: Worker | None = None
        self.exporting: Selection | None = None
        self.record: ExportRecord | None = None
        self._ready = False  # is_mounted only turns true after on_mount

    # --- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(id="botify-status", markup=False)
        with TabbedContent(id="botify-tabs"):
            with TabPane("1 Connect", id="tab-connect"):
                yield TokenPanel(id="token-panel")
            with TabPane("2 Project", id="tab-project"):
                yield ProjectPicker(id="project-picker")
            with TabPane("3 Export", id="tab-export"):
                yield Static(id="export-target", markup=False)
                with Horizontal(classes="botify-row"):
                    yield Label("Edge budget", classes="botify-label")
                    yield Input(
                        f"{self.shell.settings.max_edges}",
                        compact=True,
                        id="budget-input",
                        restrict=r"[0-9,_ ]*",
                        max_length=14,
                    )
                    yield Button(
                        "Start export (s)", id="start-export", compact=True, variant="primary"
                    )
                    yield Button("Cancel (Esc)", id="cancel-export", compact=True, disabled=True)
                yield ExportProgress(EXPORT_INTRO, id="export-progress")
                yield Static(EXPORT_HINT, classes="botify-hint", markup=False)
            with TabPane("4 Summary", id="tab-summary"), VerticalScroll(id="summary-scroll"):
                yield GraphSummary(id="summary")

    def on_mount(self) -> None:
        # AppScreen.on_mount runs as well: Textual calls the handler of every class in the MRO.
        self._ready = True
        panel = self.token_panel
        self.watch(panel, "state", self._token_state_changed, init=False)
        token = token_store(self.app).load()
        self.refresh_data()
        panel.verify_stored()
        if not token:
            self.action_show_tab("tab-connect")
        elif self.selection is None or not self.selection.analysis:
            self.action_show_tab("tab-project")
        else:
            self.action_show_tab("tab-export")

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
        panel = self.token_panel
        state = {
            TokenState.OK: f"Connected as {panel.username}",
            TokenState.CHECKING: "Checking the token…",
            TokenState.NONE: "Not connected: paste your API token (1)",
            TokenState.REJECTED: "Token rejected: paste a new one (1)",
            TokenState.UNREACHABLE: "Botify unreachable: token not checked",
        }[panel.state]
        parts = [state]
        if self.selection is None:
            parts.append("no project chosen (2)")
        else:
            parts.append(self.selection.project_label)
            parts.append(self.selection.analysis or "no analysis chosen (2)")
        if self.exporting is not None:
            parts.append("exporting…")
        self.query_one("#botify-status", Static).update(single_line(" · ".join(parts)))
        target = self.query_one("#export-target", Static)
        if self.selection is None or not self.selection.analysis:
            target.update("Choose a project and an analysis first (tab 2).")
        else:
            sel = self.selection
            exported = (sel.org, sel.project, sel.analysis) in self.store.exported_analyses()
            target.update(
                single_line(
                    f"Link graph of {sel.project_label} · {sel.analysis}"
                    + (" · exported before" if exported else "")
                )
            )

    def _token_state_changed(self) -> None:
        self.refresh_bindings()  # the demo is offered while no token works
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
            target = self.token_panel.focus_target(typing=typing)
        elif tab == "tab-project":
            target = self.picker.focus_target(typing=typing)
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

    @on(TokenPanel.DemoRequested)
    def _demo_requested(self) -> None:
        self.action_try_demo()

    def action_edit_url(self) -> None:
        self.query_one(TabbedContent).active = "tab-project"
        self.query_one("#url-input").focus()

    def action_edit_budget(self) -> None:
        self.query_one(TabbedContent).active = "tab-export"
        self.query_one("#budget-input").focus()

    # --- the Export tab's field and buttons (the token panel and the picker handle their own) ---
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "budget-input":
            self.action_start_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "start-export": self.action_start_export,
            "cancel-export": self.action_cancel_export,
        }
        if event.button.id in actions:
            actions[event.button.id]()

    # --- token --------------------------------------------------------------------------------
    def action_disconnect(self) -> None:
        self.token_panel.disconnect()

    @on(TokenPanel.Connected)
    def _connected(self, message: TokenPanel.Connected) -> None:
        if message.pasted:
            self.shell.publish(app_events.BotifyConnected(message.username))
        self.picker.load_projects(message.username)
        selection = self.selection
        if selection is not None and self.picker.analyses_for != (
            selection.org,
            selection.project,
        ):
            self.picker.load_analyses(selection.org, selection.project, choose=False)
        if message.pasted:
            self.action_show_tab("tab-project" if selection is None else "tab-export")

    @on(TokenPanel.Disconnected)
    def _disconnected(self) -> None:
        self.picker.forget_projects()
        self._update_status()
        self.shell.publish(app_events.BotifyDisconnected())
        self.action_show_tab("tab-connect")

    # --- projects and analyses ------------------------------------------------------------------
    def action_reload_projects(self) -> None:
        if not self.connected:
            self.notify(
                "Connect with your API token first (tab 1).",
                title="Not connected",
                severity="warning",
            )
            return
        self.picker.load_projects(self.token_panel.username)

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

    # --- export -----------------------------------------------------------------------------------
    def action_start_export(self) -> None:
        if self.exporting is not None:
            self.notify(
                f"An export of {self.exporting.project_label} {self.exporting.analysis} is "
                "already running: wait for it, or cancel it with Esc.",
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
        field = self.query_one("#budget-input", Input)
        try:
            budget = parse_budget(field.value)
        except ValueError as exc:
            self.notify(str(exc), title="Edge budget", severity="error", markup=False)
            self.query_one(TabbedContent).active = "tab-export"
            field.focus()
            return
        # The counts come first (free); the credits are asked about before any job (see _export).
        self._start(selection, budget)

    def _remember_export(self, record: ExportRecord, profile_id: int) -> None:
        """The export's short summary joins the assistant's memory (never its rows)."""
        from botifython_tui.core.memory.feeds import remembers_chats

        if not remembers_chats(self.store.kv):  # the same switch: tests and opt-outs skip the model
            return
        try:
            memory = self.shell.memory
        except ImportError:  # the memory stack is not installed
            return

        def remember() -> None:
            memory.remember_export(record)

        self.app.run_worker(
            remember, thread=True, group="memory", name="remember the export", exit_on_error=False
        )

    def start_export_for(self, selection: Selection, budget: int) -> str:
        """Start an export on request (the assistant's approved action); returns what happened."""
        if self.exporting is not None:
            raise RuntimeError(
                f"An export of {self.exporting.project_label} {self.exporting.analysis} is "
                "already running."
            )
        self._start(selection, budget)
        return (
            f"Started the link-graph export of {selection.project_label} {selection.analysis} "
            f"with a budget of {budget:,} edges: once the depth and counts are known, the app "
            "shows the credits it will spend and asks before any job starts."
        )

    def _start(self, selection: Selection, budget: int) -> None:
        if self.exporting is not None:  # a second confirmation dialog answered late
            return
        assert selection.analysis is not None
        request = LinkGraphRequest(
            selection.org, selection.project, selection.analysis, max_edges=budget
        )
        self.exporting = selection
        self._export_controls()
        self.query_one(TabbedContent).active = "tab-export"
        self.export_worker = self.run_worker(
            self._export(request, self.profile.id),
            name="export the link graph",
            group="export",
            exclusive=True,
            exit_on_error=False,
        )

    def _export_controls(self, *, refocus: bool = True) -> None:
        running = self.exporting is not None
        start = self.query_one("#start-export", Button)
        cancel = self.query_one("#cancel-export", Button)
        had_focus = cancel.has_focus
        start.disabled = running
        cancel.disabled = not running
        if running:
            cancel.focus()
        elif had_focus and refocus:
            # Focusing a widget also shows its tab: only when the Export tab stays in front.
            start.focus()
        self.refresh_bindings()
        self._update_status()

    def _credit_question(self, plan: ExportPlan) -> str:
        """What the export will spend, and which earlier files of the same depth it replaces."""
        text = (
            f"Export the link graph of {plan.org}/{plan.project} {plan.analysis} at depth "
            f"{plan.depth}? It spends {credits_text(plan.edges, plan.nodes)}."
        )
        same = [
            record
            for profile in self.store.profiles.list()
            for record in self.store.exports(profile.id).list()
            if (record.org, record.project, record.analysis, record.depth)
            == (plan.org, plan.project, plan.analysis, plan.depth)
        ]
        existing = plan.existing_files()
        if same or existing:
            when = f" on {max(r.created_at for r in same)[:10]}" if same else ""
            names = ", ".join(p.name for p in existing) or "its files"
            text += (
                f"\n\nIt was already exported at depth {plan.depth}{when}: this export replaces "
                f"{names}."
            )
        return neutralize_controls(text)

    def _watch_signals(self) -> list[tuple[int, object]]:
        """SIGINT, SIGTERM and SIGHUP during an export: partial files go at once, then quit."""
        loop = asyncio.get_running_loop()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                previous = signal.getsignal(signum)
                loop.add_signal_handler(signum, self._on_signal, signum)
                installed.append((signum, previous))
        return installed

    @staticmethod
    def _unwatch_signals(installed: list[tuple[int, object]]) -> None:
        """Give the signals back to whoever handled them before the export."""
        loop = asyncio.get_running_loop()
        for signum, previous in installed:
            with contextlib.suppress(RuntimeError, ValueError, TypeError):
                loop.remove_signal_handler(signum)
                if previous is not None:
                    signal.signal(signum, previous)

    def _on_signal(self, signum: int) -> None:
        removed = remove_live_parts()
        log.info("signal %d during an export: removed %s", signum, [str(p) for p in removed])
        code = 128 + int(signum)
        if self.export_worker is not None:
            self.export_worker.cancel()
        self.app.exit(return_code=code)
        # After SIGHUP the terminal is gone and drawing may block: do not wait for ever.
        asyncio.get_running_loop().call_later(5.0, os._exit, code)

    async def _export(self, request: LinkGraphRequest, profile_id: int) -> None:
        progress = self.query_one(ExportProgress)
        label = f"{request.org}/{request.project} {request.analysis}"
        progress.start(f"Export of {label}, at most {request.max_edges:,} edges")
        where = (request.org, request.project, request.analysis)
        self.shell.running_export = label  # the assistant is told what runs
        self.shell.publish(app_events.ExportStarted(*where, max_edges=request.max_edges))
        downloads = self.shell.settings.downloads_dir
        new_paths: set[Path] = set()
        result = None
        recorded = False
        signals = self._watch_signals()
        try:
            async with make_client(self.app, interactive=False) as client:
                job = LinkGraphExport(
                    client, request, downloads, poll=self.poll_policy, retry_delay=self.retry_delay
                )
                async for event in job.prepare():  # free: folder checks, depth, counts
                    progress.show(event)
                plan = job.plan
                assert plan is not None
                progress.set_status(
                    f"Depth {plan.depth}: {credits_text(plan.edges, plan.nodes)}. Confirm to start."
                )
                confirmed = await self.app.push_screen_wait(
                    Confirm(self._credit_question(plan), confirm_label="Export")
                )
                if not confirmed:
                    progress.finish(
                        "Not exported: no job was created, no credits were spent.",
                        "Not exported.",
                    )
                    self.shell.publish(app_events.ExportCancelled(*where))
                    return
                new_paths = {path for path in plan.paths if not path.exists()}
                async for event in job.run(plan):
                    if isinstance(event, ExportFinished):
                        result = event.result
                    progress.show(event)
            if result is None:
                raise ExportFailed("The export ended without a result; nothing was recorded.")
            record = self.store.exports(profile_id).add(
                org=result.org,
                project=result.project,
                analysis=result.analysis,
                depth=result.depth,
                edges=result.edges,
                urls=result.urls,
                links_path=str(result.links_path),
                meta_path=str(result.meta_path) if result.meta_path else None,
                summary=result.summary,
                files=result.files,
            )
            recorded = True
        except asyncio.CancelledError:
            _remove(new_paths)
            with contextlib.suppress(Exception):  # the screen may be closing with the app
                progress.finish(
                    "Cancelled: no files were kept. A job already started on Botify may still "
                    "finish there.",
                    "Cancelled: no files were kept.",
                )
                self.shell.publish(app_events.ExportCancelled(*where))
            raise
        except OSError as exc:
            _remove(new_paths)
            fix = (
                "Free some space or choose another --downloads-dir."
                if exc.errno == errno.ENOSPC
                else "Check the folder's permissions or choose another --downloads-dir."
            )
            failure = ExportFailed(
                f"Could not write the export into {downloads}: {exc.strerror or exc}. "
                f"Earlier exports were left as they were. {fix}"
            )
            progress.finish(f"Failed: {failure}", "Failed: see the message above.")
            self.shell.publish(app_events.ExportFailure(*where, reason=str(failure)))
            raise failure from exc
        except Exception as exc:
            _remove(new_paths)
            progress.finish(f"Failed: {exc}", "Failed: see the message above.")
            self.shell.publish(app_events.ExportFailure(*where, reason=str(exc)))
            raise
        finally:
            self._unwatch_signals(signals)
            self.exporting = None
            self.shell.running_export = None
            with contextlib.suppress(Exception):
                self._export_controls(refocus=not recorded)
        self.shell.publish(
            app_events.ExportFinished(
                *where,
                depth=record.depth,
                edges=record.edges,
                urls=record.urls,
                links_file=Path(record.links_path).name,
            )
        )
        self._remember_export(record, profile_id)
        if self.profile.id == profile_id:  # the profile may have been switched meanwhile
            self._show_record(record, fresh=True)  # fresh: the analytics of the new files
        self.picker.fill_analyses()
        self._update_status()
        self.notify(
            f"{label}: {record.urls:,} URLs, {record.edges:,} edges at depth ≤ {record.depth}. "
            "Press v to visualise it in Cosmograph.",
            title="Export finished",
            markup=False,
        )
        if self.query_one(TabbedContent).active == "tab-export":
            self.action_show_tab("tab-summary")  # they were watching: show what came out

    def action_cancel_export(self) -> None:
        worker = self.export_worker
        if self.exporting is None or worker is None or worker.is_finished:
            return
        self.query_one(ExportProgress).set_status("Cancelling…")
        worker.cancel()

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


def _remove(paths: set[Path]) -> None:
    """Files this run wrote before it failed: a half export is worse than none."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()

"""The Textual shell: registered apps as modes, the current profile, notifications for errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from botifython_tui import __version__
from botifython_tui.config import Settings
from botifython_tui.core.app_events import AppEvent, ErrorShown, ProfileSwitched
from botifython_tui.core.store import Profile, Store
from botifython_tui.core.text import single_line
from botifython_tui.logs import configure_logging, get_logger
from botifython_tui.tui.errors import ReportsFailedWork, for_the_user, report_error
from botifython_tui.tui.export_runner import ExportRunner
from botifython_tui.tui.keys import KeyPacing
from botifython_tui.tui.messages import AppEventPosted, StoreChanged, WorkFailed
from botifython_tui.tui.registry import AppSpec, builtin_apps, plugin_apps, resolve_apps
from botifython_tui.tui.safe_output import SafeOutput
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.widgets.app_frame import AppFrame

if TYPE_CHECKING:
    from botifython_tui.core.fileserver import DownloadsServer

log = get_logger("tui")
STORE_POLL_SECONDS = 1.0


class BotifythonApp(ReportsFailedWork, SafeOutput, KeyPacing, App):
    """Botifython's terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "Botifython"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
        Binding(
            "ctrl+t", "toggle_chat", "Chat pane", id="app.chat_pane", priority=True, show=False
        ),
        # Priority: F1 works while a text box has focus; `?` does not, so it can be typed.
        Binding("f1", "help", "Help: keys", id="app.help", priority=True, show=False),
        Binding("question_mark", "help", "Help: keys", id="app.help_question", show=False),
    ]

    profile: reactive[Profile | None] = reactive(None, init=False)

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        apps: Iterable[AppSpec] | None = None,
        start_app: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        problems: list[str] = []
        if apps is None:
            extra, problems = plugin_apps()
            apps = [*builtin_apps(), *extra]
        self.apps, clashes = resolve_apps(apps)
        self.startup_problems = problems + clashes
        self.startup_notes: list[str] = []  # e.g. an earlier version's ./data found here
        self.start_app = start_app or self.apps[0].id
        self._data_version = store.data_version()
        self._downloads_server: DownloadsServer | None = None
        self.set_reactive(BotifythonApp.profile, store.profiles.current())
        from botifython_tui.tui.chat_session import ChatSession

        self.chat = ChatSession(self)
        self.chat_docked = False
        self.exports = ExportRunner(self)  # the one link-graph export at a time
        self.chat.export_starter = self.exports.start_for_assistant
        self.demo_requested = False  # "Try the demo project": the command line restarts in it
        self._memory = None
        for spec in self.apps:
            self.add_mode(spec.id, spec.screen)
            # Priority: the app keys work even while a text box (which binds F5–F7) has focus.
            # Shown in the app bar under the header, so the footer keeps room for the screen's keys.
            self._bindings.bind(
                spec.key, f"open_app('{spec.id}')", spec.name, show=False, priority=True
            )

    # --- start-up ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.switch_mode(self.start_app)
        self._show_profile()
        for problem in self.startup_problems:
            self.notify(problem, title="Plugin", severity="warning", markup=False)
        for text in self.startup_notes:
            self.notify(text, title="Data folder", severity="warning", timeout=30, markup=False)
        self.set_interval(STORE_POLL_SECONDS, self.check_store_changes)

    # --- apps ---------------------------------------------------------------------------------
    def action_open_app(self, app_id: str) -> None:
        if app_id in {spec.id for spec in self.apps} and self.current_mode != app_id:
            self.switch_mode(app_id)

    def action_toggle_chat(self) -> None:
        """Show or hide the chat pane docked beside the current app."""
        frames = self.screen.query(AppFrame)
        pane = frames.first().ensure_docked_chat() if frames else None
        if pane is None:
            self.notify("The chat is already full-screen here.", markup=False)
            return
        self.chat_docked = not self.chat_docked
        pane.display = self.chat_docked
        if self.chat_docked:
            self.call_after_refresh(pane.focus_input)  # mounted on its first showing
        elif self.focused is not None and pane in self.focused.ancestors_with_self:
            self.screen.focus_next()

    def action_help(self) -> None:
        """F1 or ?: the keys of the current screen and the global ones (F1 again closes it)."""
        from botifython_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The app's own commands first (help, apps, this screen's actions), then Textual's few;
        never the dozens of text-editor and list bindings of the focused widget."""
        from botifython_tui.tui.screens.help import own_bindings

        yield SystemCommand(
            "Help: keys of this screen",
            "Every key of this screen and the global ones (F1, or ? outside a text box)",
            self.action_help,
        )
        for spec in self.apps:
            yield SystemCommand(
                f"Open {spec.name}",
                f"{spec.description} ({spec.key.upper()})",
                lambda app_id=spec.id: self.action_open_app(app_id),
            )
        # Every key binding of the screen is also a palette command, so the mouse-less and the
        # key-forgetful can reach every action.
        seen: set[str] = set()
        candidates = [(active.node, active.binding) for active in screen.active_bindings.values()]
        # A focused input takes letters as text, so their bindings (n, Space…) are not active
        # now; their commands still belong in the palette.
        candidates += [
            (screen, binding)
            for _, binding in screen._bindings
            if self._check_action_state(binding.action, screen) is not False
        ]
        for node, binding in candidates:
            if not binding.description or binding.action in seen:
                continue
            if binding.action.startswith("open_app") or binding.action in ("quit", "help"):
                continue
            if node is not self and (binding.action, binding.description) not in own_bindings(node):
                continue  # a Textual widget's own (cursor moves, text editing …)
            seen.add(binding.action)
            yield SystemCommand(
                f"{screen.title or ''} {binding.description}".strip(),
                f"Key: {self.get_key_display(binding)}",
                lambda node=node, action=binding.action: self.call_later(node.run_action, action),
            )
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Minimize", "Maximize"):
                yield command

    # --- quitting -----------------------------------------------------------------------------
    def running_work(self) -> list[str]:
        """What quitting now would interrupt: an export, a document ingest."""
        from textual.worker import WorkerState

        running: list[str] = []
        if self.exports.state is not None:
            running.append(f"the export of {single_line(self.exports.state.label)}")
        for worker in self.workers:
            # The Documents screen's `ingest` worker (adding or re-indexing documents).
            if (
                worker.group == "docs"
                and worker.name == "ingest"
                and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
            ):
                running.append("adding documents to the memory")
                break
        return running

    async def action_quit(self) -> None:
        """Quit at once, unless an export or an ingest runs: then ask first (No by default)."""
        running = self.running_work()
        if not running:
            self.exit()
            return
        if isinstance(self.screen, QuitConfirm):
            return  # already asking
        self.push_screen(
            QuitConfirm(
                f"{' and '.join(running).capitalize()} is still running. Quit anyway and stop it?",
                confirm_label="Quit",
            ),
            lambda yes: self.exit() if yes else None,
        )

    # --- profile ------------------------------------------------------------------------------
    def switch_profile(self, profile_id: int) -> Profile:
        previous = self.profile
        self.profile = self.store.profiles.use(profile_id)
        if previous is None or previous.id != self.profile.id:
            self.publish(ProfileSwitched(self.profile.name))
            self.notify(f"Now using the profile {single_line(self.profile.name)!r}.", markup=False)
        return self.profile

    def reload_profile(self) -> None:
        """Re-read the profile (renamed here or by another instance; gone means fall back)."""
        assert self.profile is not None
        try:
            self.profile = self.store.profiles.get(self.profile.id)
        except KeyError:
            self.profile = self.store.profiles.current()
            self.notify(
                f"This profile was deleted elsewhere; now using "
                f"{single_line(self.profile.name)!r}.",
                severity="warning",
                markup=False,
            )

    def watch_profile(self) -> None:
        self._show_profile()
        self.chat.profile_changed()
        self.refresh_screen_data()

    def _show_profile(self) -> None:
        if self.profile is not None:
            demo = "DEMO (simulated Botify) · " if self.settings.demo else ""  # on every screen
            self.sub_title = f"{demo}Profile: {single_line(self.profile.name)}"

    # --- keeping in step with the store -----------------------------------------------------
    def refresh_screen_data(self) -> None:
        """The screen in view redraws from the store; the others do when they are shown again."""
        if self.screen_stack:
            self.screen.post_message(StoreChanged())

    def check_store_changes(self) -> None:
        """Another instance (another tmux pane) wrote to the database: redraw."""
        version = self.store.data_version()
        if version != self._data_version:
            self._data_version = version
            self.reload_profile()
            self.refresh_screen_data()

    # --- the demo ---------------------------------------------------------------------------
    def try_demo(self) -> None:
        """Leave, so that the command line starts again on the demo account (never mixed)."""
        self.demo_requested = True
        self.exit()

    # --- the assistant's memory (documents, chats, exports) ---------------------------------
    @property
    def memory(self):
        """The document memory; cheap to create, its model loads on first use in a thread."""
        if self._memory is None:
            from botifython_tui.core.memory import Memory

            self._memory = Memory(self.store, self.settings.data_dir)
        return self._memory

    # --- the downloads server (Cosmograph loads the exports from it) -------------------------
    def downloads_server(self) -> DownloadsServer:
        """The app's one read-only server of the downloads folder; started by whoever needs it."""
        if self._downloads_server is None:
            from botifython_tui.core.fileserver import DownloadsServer

            self._downloads_server = DownloadsServer(
                self.settings.downloads_dir,
                port=self.settings.serve_port,
                allowed=self._served_exports,
                origins=self.settings.cors_origins,
            )
        return self._downloads_server

    def _served_exports(self) -> list:
        """The files the server may serve: the current profile's recorded exports (any thread)."""
        from botifython_tui.core.fileserver import export_files

        profile = self.profile
        return [] if profile is None else export_files(self.store.exports(profile.id).list())

    def on_unmount(self) -> None:
        self.chat.shutdown()
        if self._downloads_server is not None:
            self._downloads_server.stop()

    # --- what happened, and what failed ----------------------------------------------------
    def publish(self, event: AppEvent) -> None:
        """Something happened in the app: the assistant is told, the screen in view hears of it."""
        log.debug("event %s", type(event).__name__)
        try:
            self.chat.on_app_event(event)
        except Exception:
            log.exception("The chat could not take the app event %r", event)
        self.post_message(AppEventPosted(event))

    def on_app_event_posted(self, message: AppEventPosted) -> None:
        if self.screen_stack and self.screen.is_mounted:
            self.screen.post_message(AppEventPosted(message.event))

    def on_export_runner_progressed(self, message: ExportRunner.Progressed) -> None:
        """The running export moved on: the screen in view shows it, the chat's status line too
        (an export the assistant started shows where the user is)."""
        if self.screen_stack and self.screen.is_mounted:
            self.screen.post_message(ExportRunner.Progressed(message.run, message.event))
        self.chat.export_progressed(message.run.describe())

    def on_export_runner_ended(self, message: ExportRunner.Ended) -> None:
        if self.screen_stack and self.screen.is_mounted:
            self.screen.post_message(ExportRunner.Ended(message.run))

    def on_work_failed(self, message: WorkFailed) -> None:
        """The one place where a failed worker reaches the user: a titled notification (the error
        carries its title), the traceback of an unexpected failure in the log."""
        report_error(self, message.error, message.action)
        if message.announced or not for_the_user(message.error):
            return
        title = getattr(message.error, "title", "") or f"Could not {message.action}"
        self.publish(ErrorShown(title, str(message.error)))


def tidy_downloads(folder: Path) -> None:
    """Remove the partial export files of a process that no longer runs (killed, power cut)."""
    from botifython_tui.core.export_files import remove_stale_parts

    try:
        if folder.is_dir():
            removed = remove_stale_parts(folder)
            if removed:
                log.info("removed %d partial export files left in %s", removed, folder)
    except OSError:
        log.warning("could not tidy the downloads folder %s", folder, exc_info=True)


class QuitConfirm(Confirm):
    """The question asked by Ctrl+Q while work runs."""


def make_app(settings: Settings, store: Store, **kwargs: Any) -> BotifythonApp:
    """Build the app; used by the command line and the tests alike."""
    configure_logging(settings.log_path)
    tidy_downloads(settings.downloads_dir)
    if settings.demo:  # the demo opens where it is about: its Botify account
        kwargs.setdefault("start_app", "botify")
    app = BotifythonApp(settings, store, **kwargs)
    app.title = f"Botifython {__version__}"
    return app

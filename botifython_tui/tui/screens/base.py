"""What every app screen shares: access to the store and the profile, and a refresh hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header

from botifython_tui.core.store import Profile, Store
from botifython_tui.tui.errors import ReportsFailedWork
from botifython_tui.tui.messages import StoreChanged
from botifython_tui.tui.widgets.app_bar import AppBar
from botifython_tui.tui.widgets.app_frame import AppFrame
from botifython_tui.tui.widgets.chat_pane import ChatPane
from botifython_tui.tui.widgets.help_footer import HelpFooter

if TYPE_CHECKING:
    from botifython_tui.tui.app import BotifythonApp


class AppScreen(ReportsFailedWork, Screen):
    """A screen registered as an app. It redraws its data on `refresh_data()`."""

    app_name = ""
    has_docked_chat = True  # a chat pane beside the app, shown with Ctrl+T

    @property
    def shell(self) -> BotifythonApp:
        return self.app  # type: ignore[return-value]

    @property
    def store(self) -> Store:
        return self.shell.store

    @property
    def profile(self) -> Profile:
        return self.shell.profile

    def compose(self) -> ComposeResult:
        """The frame every app shares; a screen fills the body with `compose_body()`."""
        yield Header()
        yield AppBar(self.shell.current_mode)
        with AppFrame(dockable=self.has_docked_chat):
            with Vertical(id="app-body"):
                yield from self.compose_body()
            if self.has_docked_chat and self.shell.chat_docked:
                yield ChatPane(docked=True, id="docked-chat")
        yield HelpFooter(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = f"Botifython · {self.app_name}" if self.app_name else "Botifython"

    @property
    def docked_chat(self) -> ChatPane | None:
        return self.query_one(AppFrame).docked_chat if self.has_docked_chat else None

    def ensure_docked_chat(self) -> ChatPane | None:
        return self.query_one(AppFrame).ensure_docked_chat()

    def focus_on_arrival(self) -> None:
        """Focus what typing on arrival should reach (a screen that says "type" focuses its input)."""

    def on_screen_suspend(self) -> None:
        # Still in the stack: a dialog opened over this screen. Otherwise another app was opened.
        self._covered = self in self.app.screen_stack

    def on_screen_resume(self) -> None:
        if not getattr(self, "_covered", False) and self.is_mounted:
            self.focus_on_arrival()  # arriving from another app, not back from a dialog
        self._covered = False
        pane = self.docked_chat
        if pane is None and self.shell.chat_docked:
            pane = self.ensure_docked_chat()
        if pane is not None:
            pane.display = self.shell.chat_docked
            if pane.display and pane.is_mounted:
                pane.sync()
        self.refresh_data()

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        if self.is_mounted:
            self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the screen shows from the store (profile switched, other instance wrote)."""

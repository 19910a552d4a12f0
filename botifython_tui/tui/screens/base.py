"""What every app screen shares: access to the store and the profile, and a refresh hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from botifython_tui.core.store import Profile, Store

if TYPE_CHECKING:
    from botifython_tui.tui.app import BotifythonApp


class AppScreen(Screen):
    """A screen registered as an app. It redraws its data on `refresh_data()`."""

    app_name = ""

    @property
    def shell(self) -> BotifythonApp:
        return self.app  # type: ignore[return-value]

    @property
    def store(self) -> Store:
        return self.shell.store

    @property
    def profile(self) -> Profile:
        return self.shell.profile

    def on_mount(self) -> None:
        self.title = f"Botifython · {self.app_name}" if self.app_name else "Botifython"

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the screen shows from the store (profile switched, other instance wrote)."""

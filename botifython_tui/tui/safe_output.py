"""The app's outlets to the terminal: every notification and every clipboard copy is neutralised.

Notifications carry Botify's and Ollama's own words (job failures, mid-stream errors, usernames);
the clipboard receives replies. Both reach the user's terminal (a toast is drawn as text, a copy
is an OSC 52 sequence), so both pass through the one neutraliser here, whoever calls them.
"""

from __future__ import annotations

from typing import Any

from botifython_tui.core.text import neutralize_controls, single_line


class SafeOutput:
    """Mixed into the app before `textual.app.App`: `notify` and `copy_to_clipboard` made safe."""

    def notify(self, message: str, *, title: str = "", markup: bool = False, **kwargs: Any) -> None:
        """A notification whose text is shown literally: no markup, no escape sequence."""
        # Widgets and screens forward their notify() here, so this is the one place to guard.
        super().notify(  # type: ignore[misc]
            neutralize_controls(message), title=single_line(title), markup=False, **kwargs
        )

    def copy_to_clipboard(self, text: str) -> None:
        """Copy plain, neutralised text: the OSC 52 payload never carries control characters."""
        super().copy_to_clipboard(neutralize_controls(text))  # type: ignore[misc]

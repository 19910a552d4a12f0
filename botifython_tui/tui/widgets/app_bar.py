"""One line under the header: every app with its key, the current one highlighted.

The footer keeps the current screen's own keys; the app keys live here so both fit in 80 columns.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class AppBar(Static):
    """`F2 Todos F3 Profiles … · ^T chat ^Q quit`."""

    DEFAULT_CSS = """
    AppBar {
        height: 1;
        padding: 0;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, current: str) -> None:
        super().__init__(markup=False)
        self.current = current

    def on_mount(self) -> None:
        self.update(self.line())

    def line(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for spec in self.app.apps:  # type: ignore[attr-defined]
            key = spec.key.upper() if spec.key.startswith("f") else spec.key
            if spec.id == self.current:
                text.append(f"{key} {spec.name}", style="reverse bold")
            else:
                text.append(key, style="bold")
                text.append(f" {spec.name}")
            text.append(" ")
        text.append("^T", style="bold")
        text.append(" chat ")
        text.append("^Q", style="bold")
        text.append(" quit")
        return text

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
        self.update(self.line(self.size.width or self.app.size.width))

    def on_resize(self) -> None:
        self.update(self.line(self.size.width))

    def line(self, width: int) -> Text:
        """Full names if they fit; else short names; else without the ^T/^Q hints."""
        for short, hints in ((False, True), (True, True), (True, False)):
            text = self._line(short=short, hints=hints)
            if text.cell_len <= width:
                return text
        return text

    def _line(self, *, short: bool, hints: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for spec in self.app.apps:  # type: ignore[attr-defined]
            key = spec.key.upper() if spec.key.startswith("f") else spec.key
            name = spec.bar_name if short else spec.name
            if spec.id == self.current:
                text.append(f"{key} {name}", style="reverse bold")
            else:
                text.append(key, style="bold")
                text.append(f" {name}")
            text.append(" ")
        if hints:
            text.append("^T", style="bold")
            text.append(" chat ")
            text.append("^Q", style="bold")
            text.append(" quit")
        return text.rstrip() or text

"""The footer of every app screen: the screen's keys, and at the right edge F1 and Ctrl+P."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class HelpFooter(Footer):
    """Textual's footer with "f1 keys" beside "^p palette", so a key the footer has no room
    for (or that it hides) is always one key away."""

    DEFAULT_CSS = """
    HelpFooter HorizontalGroup.-shell-keys {
        dock: right;
        width: auto;
        border-left: vkey $foreground 20%;
        padding-right: 1;
    }
    HelpFooter HorizontalGroup.-shell-keys FooterKey.-command-palette {
        dock: none;
        border-left: none;
        padding-right: 0;
    }
    """

    def compose(self) -> ComposeResult:
        palette = None
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.has_class("-command-palette"):
                palette = widget
                continue
            yield widget
        if not self._bindings_ready:
            return
        with HorizontalGroup(classes="-shell-keys"):
            yield FooterKey(
                "f1", "f1", "keys", "app.help", tooltip="Every key of this screen (F1 or ?)"
            ).data_bind(compact=Footer.compact)
            if palette is not None:
                yield palette

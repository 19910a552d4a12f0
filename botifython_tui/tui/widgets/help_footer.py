"""The footer of every app screen: "f1 keys" first, then the screen's keys, the palette at the right."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class HelpFooter(Footer):
    """Textual's footer led by "f1 keys", so a key the footer has no room for (or hides) is
    always one key away, whatever the width."""

    DEFAULT_CSS = """
    HelpFooter FooterKey.-help-key {
        border-right: vkey $foreground 20%;
    }
    """

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            yield FooterKey(
                "f1",
                "f1",
                "keys",
                "app.help",
                tooltip="Every key of this screen (F1 or ?)",
                classes="-help-key",
            ).data_bind(compact=Footer.compact)
        yield from super().compose()

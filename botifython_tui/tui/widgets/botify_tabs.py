"""The Botify screen's four tabs. Showing a tab focuses what it is for; Esc leaves a text field.

Each tab holds one panel, and each panel says what arriving there should focus (`focus_target`),
so the tabs never reach into a panel's fields.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input, TabbedContent

from botifython_tui.tui.widgets.export_panel import ExportPanel
from botifython_tui.tui.widgets.project_picker import ProjectPicker
from botifython_tui.tui.widgets.summary_panel import SummaryPanel
from botifython_tui.tui.widgets.token_panel import TokenPanel

PANELS = {
    "tab-connect": TokenPanel,
    "tab-project": ProjectPicker,
    "tab-export": ExportPanel,
    "tab-summary": SummaryPanel,
}


class BotifyTabs(TabbedContent):
    """Connect, Project, Export and Summary."""

    def show(self, tab: str) -> None:
        """Show `tab` and focus what it is for."""
        if self.active != tab:
            # Let go of the focus first: the focused widget of the tab being hidden would hand it
            # to a neighbour in that same tab, which shows that tab again (and a field there
            # would take the next key typed).
            self.screen.set_focus(None)
        self.active = tab
        self.focus_main(tab)

    def focus_main(self, tab: str, *, typing: bool = True) -> None:
        """Focus what the tab is for; `typing=False` never picks a text field (after Esc)."""
        target = self.query_one(PANELS[tab]).focus_target(typing=typing)

        def focus_if_still_shown() -> None:
            # Focusing a widget shows its tab: if the user moved on meanwhile, leave them there.
            if self.active == tab:
                target.focus()

        self.call_after_refresh(focus_if_still_shown)

    def edit(self, tab: str, field: str) -> None:
        """Show `tab` with the text field `field` (a selector) focused: t, u and b."""
        self.active = tab
        self.query_one(field).focus()

    def on_key(self, event: events.Key) -> None:
        # Esc leaves a text field (then letters and digits are keys again), like in Todos.
        if event.key == "escape" and isinstance(self.screen.focused, Input):
            event.stop()
            event.prevent_default()
            self.focus_main(self.active, typing=False)

"""The frame of an app screen: its body, and the chat pane docked beside it (Ctrl+T)."""

from __future__ import annotations

from textual.containers import Horizontal

from botifython_tui.tui.widgets.chat_pane import ChatPane


class AppFrame(Horizontal):
    """Holds a screen's body and, once asked for, the docked chat pane."""

    def __init__(self, *, dockable: bool = True, id: str | None = "app-frame") -> None:
        super().__init__(id=id)
        self.dockable = dockable  # False where the chat is the screen itself

    @property
    def docked_chat(self) -> ChatPane | None:
        panes = self.query("#docked-chat")
        return panes.first(ChatPane) if panes else None

    def ensure_docked_chat(self) -> ChatPane | None:
        """The pane beside the app, mounted the first time it is shown (not at start-up); None
        where the chat cannot be docked."""
        if not self.dockable:
            return None
        pane = self.docked_chat
        if pane is None:
            pane = ChatPane(docked=True, id="docked-chat")
            self.mount(pane)
        return pane

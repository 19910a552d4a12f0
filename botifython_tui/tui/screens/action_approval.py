"""The approval of an action the assistant asks for: y, n, or a to approve all of its reply's."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button

from botifython_tui.tui.screens.dialogs import Confirm


class ApproveAction(Confirm):
    """Confirm one proposed action; with several waiting, `a` approves them all at once.

    Dismisses with True (approve), False (reject) or `ALL`.
    """

    ALL = "all"
    BINDINGS = [Binding("a", "approve_all", "Approve all", id="dialog.approve_all")]

    def __init__(self, question: str, *, approve_all: int = 1) -> None:
        super().__init__(question, confirm_label="Approve")
        self.approve_all = approve_all  # how many actions "all" covers (1: no such choice)

    def more_buttons(self) -> ComposeResult:
        if self.approve_all > 1:
            yield Button(f"Approve all {self.approve_all} (a)", id="all")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "all":
            self.dismiss(self.ALL)
        else:
            self.dismiss(event.button.id == "yes")

    def action_approve_all(self) -> None:
        if self.approve_all > 1:
            self.dismiss(self.ALL)

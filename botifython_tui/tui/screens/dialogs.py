"""Small modal dialogs: ask for a line of text, or confirm a destructive action."""

from __future__ import annotations

from time import monotonic
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from botifython_tui.core.text import neutralize_controls
from botifython_tui.logs import get_logger

log = get_logger("tui")


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; Enter accepts, Esc cancels (returns None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="dialog")
        self.prompt_title = title
        self.initial_value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.prompt_title, id="dialog-title", markup=False)
            yield Input(value=self.initial_value, placeholder=self.placeholder, id="dialog-input")
            yield Label("Enter to accept · Esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """Ask a yes/no question; a deliberate y or Enter on "Yes" confirms, n, Esc or Enter declines.

    No is focused, so Enter alone declines. Keys that arrived before the question was on screen
    (a `y` typed in the same burst as the `d` that asked) are ignored, and so is any key that
    follows another within `answer_delay` seconds: a word typed at normal speed never answers.
    """

    # Seconds of keyboard quiet (since the question appeared, and since the last key) before an
    # answer counts. Pilot tests set it to 0; e2e tests run with the real value.
    answer_delay: ClassVar[float] = 0.5

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    def __init__(self, question: str, *, confirm_label: str = "Yes") -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.confirm_label = confirm_label
        self.shown_at: float | None = None  # when the question was put on screen
        self.last_key_at = 0.0
        self.ignored_keys = 0

    def compose(self) -> ComposeResult:
        # Nothing of it can be on screen before this; on_mount may run after the first paint.
        self.shown_at = monotonic()
        with Vertical(id="dialog"):
            yield Label(neutralize_controls(self.question), id="dialog-title", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="yes")
                yield from self.more_buttons()
                yield Button("No (n)", id="no")
            yield Label(CONFIRM_HINT, id="confirm-hint", classes="dialog-hint")

    def more_buttons(self) -> ComposeResult:
        """Answers between Yes and No (a subclass's); none here."""
        yield from ()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#no", Button))  # the safe answer is the default

    def on_screen_suspend(self) -> None:
        self.hidden = True  # another app (F2…F8) or the palette went in front

    def on_screen_resume(self) -> None:
        # Shown again: keys typed on arrival did not see it. (Not on the first showing: that
        # is on_mount, and this event may come a while after the first paint.)
        if getattr(self, "hidden", False):
            self.hidden = False
            self.shown_at = monotonic()

    def on_key(self, event: events.Key) -> None:
        # Runs before the bindings (and the buttons' Enter), which the app checks once the key
        # has bubbled up to it: a key stopped here answers nothing.
        arrived = event.time
        quiet_since = max(self.last_key_at, self.shown_at or arrived)
        self.last_key_at = max(self.last_key_at, arrived)
        if self.shown_at is None or arrived < quiet_since + self.answer_delay:
            log.info(
                "The question ignored the key %r: it came %.2f s after it was shown or after the "
                "key before it",
                event.key,
                arrived - quiet_since,
            )
            event.stop()
            event.prevent_default()
            self.ignored_keys += 1
            self.query_one("#confirm-hint", Label).update(CONFIRM_IGNORED_HINT)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


CONFIRM_HINT = "y: yes · n or Esc: no · Enter: the highlighted button"
CONFIRM_IGNORED_HINT = (
    "Keys typed before this question appeared were ignored. y: yes · n or Esc: no"
)

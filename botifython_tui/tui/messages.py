"""The app-wide Textual messages: how widgets, screens and the app tell each other what happened.

Messages that belong to one widget are nested in it (as Textual's own `Input.Submitted`); the ones
here are broadcast or handled by the app itself. The broadcast ones do not bubble: the app hands
them to the screen in view, and one bubbling back would come round again. Domain events (`core.app_events`) travel inside
`AppEventPosted`, so a screen can react to, say, `ExportFinished` with an ordinary `@on` handler.
"""

from __future__ import annotations

from textual.message import Message

from botifython_tui.core.app_events import AppEvent


class AppEventPosted(Message, bubble=False):
    """Something happened in the app (posted to the app by `BotifythonApp.publish`, then to the
    screen in view)."""

    def __init__(self, event: AppEvent) -> None:
        super().__init__()
        self.event = event


class StoreChanged(Message, bubble=False):
    """The data behind the screens changed (profile switched, another instance wrote): the screen
    in view redraws from the store; the others redraw when shown again."""


class ConversationsChanged(Message, bubble=False):
    """A chat message was saved or a conversation added, renamed or deleted: lists redraw."""


class WorkFailed(Message):
    """A worker ended with an error; the app turns it into one titled notification."""

    def __init__(self, error: BaseException, action: str, *, announced: bool = False) -> None:
        super().__init__()
        self.error = error
        self.action = action  # "list the projects": the title reads "Could not list the projects"
        # True when the job already published its own app event for it (ExportFailure): the
        # assistant is not told the same failure twice.
        self.announced = announced

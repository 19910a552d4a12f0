"""What happened in the app, as typed events: posted by the front end's jobs and screens, told to
the assistant (`core.conversation.describe_event`) and shown by whoever listens.

Each event is a small frozen dataclass. Narration dispatches on the type: an event the narrator
does not know is a `TypeError`, never a silent drop. `milestone` events are the ones the assistant
speaks up about by default (an export finished or failed, an error, a profile switch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class AppEvent:
    """Base of every app event; never posted itself."""

    milestone: ClassVar[bool] = False


@dataclass(frozen=True)
class ProfileSwitched(AppEvent):
    profile: str
    milestone: ClassVar[bool] = True


@dataclass(frozen=True)
class TodoAdded(AppEvent):
    title: str


@dataclass(frozen=True)
class TodoDone(AppEvent):
    title: str


@dataclass(frozen=True)
class TodoReopened(AppEvent):
    title: str


@dataclass(frozen=True)
class TodoDeleted(AppEvent):
    title: str


@dataclass(frozen=True)
class BotifyConnected(AppEvent):
    username: str


@dataclass(frozen=True)
class BotifyDisconnected(AppEvent):
    pass


@dataclass(frozen=True)
class ProjectSelected(AppEvent):
    org: str
    project: str
    analysis: str | None = None


@dataclass(frozen=True)
class ExportEvent(AppEvent):
    """Base of the events of one link-graph export."""

    org: str
    project: str
    analysis: str

    @property
    def label(self) -> str:
        return f"{self.org}/{self.project} {self.analysis}"


@dataclass(frozen=True)
class ExportStarted(ExportEvent):
    max_edges: int = 0


@dataclass(frozen=True)
class ExportFinished(ExportEvent):
    depth: int = 0
    edges: int = 0
    urls: int = 0
    links_file: str = ""
    milestone: ClassVar[bool] = True


@dataclass(frozen=True)
class ExportFailure(ExportEvent):
    reason: str = ""
    milestone: ClassVar[bool] = True


@dataclass(frozen=True)
class ExportCancelled(ExportEvent):
    pass


@dataclass(frozen=True)
class GraphVisualised(AppEvent):
    export: str


@dataclass(frozen=True)
class ErrorShown(AppEvent):
    """An error the user was shown (its title and message)."""

    title: str
    message: str
    milestone: ClassVar[bool] = True


EXPORT_EVENTS = (ExportStarted, ExportFinished, ExportFailure, ExportCancelled)

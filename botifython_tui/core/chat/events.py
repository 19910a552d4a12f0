"""Typed events of a chat turn: what a front end renders, in the order it happens.

A turn yields `TurnStarted`, then any of the others, then `TurnEnded`. Within it, each model
response is one bubble: `ReplyStarted`, `TokenReceived`…, then `ReplySaved` (or `ReplyFailed`).
The scheduler adds `QuestionQueued` for a question that waits behind another reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

ANSWER = "answer"  # a reply to the user's own question
NARRATION = "narration"  # a comment on app events: requested without tools, never acts


class Approval(Enum):
    """The user's answer to a proposed action."""

    NO = "no"
    YES = "yes"
    ALL = "all"  # yes to this one and to every other action proposed in the same reply


@dataclass(frozen=True)
class Job:
    """One reply to run: a question (with the conversation it was asked in) or narration."""

    kind: str
    number: int
    text: str = ""  # the question
    profile_id: int | None = None
    conversation_id: int | None = None
    note: str | None = None  # narration: the app events, told as one message (None: owed)


@dataclass(frozen=True)
class QuestionQueued:
    job: Job
    position: int  # 1 = next


@dataclass(frozen=True)
class TurnStarted:
    job: Job
    profile_id: int
    conversation_id: int


@dataclass(frozen=True)
class MessageSaved:
    """A message that is not a reply: the question, an app-event note, an action note."""

    role: str
    content: str
    message_id: int | None


@dataclass(frozen=True)
class StatusChanged:
    text: str


@dataclass(frozen=True)
class ModelChosen:
    name: str


@dataclass(frozen=True)
class SourcesFound:
    """Passages of the memory put into the prompt (only relevant ones); `sources` are
    `core.memory.grounding.Source`."""

    sources: list[Any]


@dataclass(frozen=True)
class ReplyStarted:
    """A new reply bubble begins (the model's first token arrived)."""


@dataclass(frozen=True)
class TokenReceived:
    text: str


@dataclass(frozen=True)
class SourcesCited:
    """The numbered sources the reply used, appended to it; `footer` is that text."""

    sources: list[Any]
    footer: str


@dataclass(frozen=True)
class ActionProposed:
    """An action the reply asks for, shown before any of the reply's actions runs."""

    index: int  # 1-based, within this reply
    total: int
    name: str
    description: str
    args: dict[str, Any] = field(default_factory=dict)
    needs_approval: bool = False
    problem: str | None = None  # refused before anyone is asked (invalid, impossible)
    not_requested: bool = False  # a change the user's words did not ask for (always asks)


@dataclass(frozen=True)
class ApprovalRequest:
    """What the injected approver is asked: one proposal, and how many more in this reply ask."""

    proposal: ActionProposed
    others_waiting: int
    spends_credits: bool = False


@dataclass(frozen=True)
class ActionDone:
    """What became of one proposal: done, failed, refused, rejected or limit."""

    name: str
    status: str
    description: str
    note: str  # the line saved in the conversation
    message_id: int | None
    result: str  # the result message (for the model and the audit)
    profile_id: int | None = None  # a profile switch: the profile now in use


CLAIMED = "claimed"  # the reply says something was done, and nothing was
REPEATED = "repeated"  # the same call again after its result: not run, the turn ends
IGNORED = "ignored"  # actions asked for although the user said not to


@dataclass(frozen=True)
class AppNotice:
    """A line from the app about the assistant's reply (one of CLAIMED, REPEATED, IGNORED),
    shown as the app's words, never as the assistant's; saved as a note in the conversation."""

    kind: str
    text: str
    message_id: int | None = None


@dataclass(frozen=True)
class ReplySaved:
    """One reply ended and was saved (message_id None: nothing to save, or not saving)."""

    text: str
    message_id: int | None
    outcome: str  # "ok" or "stopped"
    stats: str = ""


@dataclass(frozen=True)
class ReplyFailed:
    """The reply could not be completed; what arrived (if anything) was saved, marked."""

    error: str
    unreachable: bool
    text: str
    message_id: int | None


@dataclass(frozen=True)
class TurnEnded:
    job: Job
    outcome: str  # ok, stopped, error, unreachable


ChatEvent = (
    QuestionQueued
    | TurnStarted
    | MessageSaved
    | StatusChanged
    | ModelChosen
    | SourcesFound
    | ReplyStarted
    | TokenReceived
    | SourcesCited
    | ActionProposed
    | ActionDone
    | AppNotice
    | ReplySaved
    | ReplyFailed
    | TurnEnded
)

"""One reply at a time: the user's questions first, narration of app events coalesced between them.

A question asked while a reply streams waits (`QuestionQueued`) and runs next; a narration reply
in progress gives way to it at once (it is stopped, what arrived is kept, marked). App events are
collected; once the app has been quiet for `quiet` seconds they are told to the model as one note
and, depending on the narration level, it is asked to comment. Whatever it is told waits for the
reply in progress to end, so no two replies ever share a bubble or a saved message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from enum import Enum
from typing import Any

from botifython_tui.core import settings
from botifython_tui.core.app_events import AppEvent
from botifython_tui.core.chat.events import (
    ANSWER,
    NARRATION,
    ChatEvent,
    Job,
    QuestionQueued,
    ReplyFailed,
    TokenReceived,
    TurnEnded,
)
from botifython_tui.core.conversation import describe_event, describe_events
from botifython_tui.logs import get_logger

log = get_logger("chat")

# The key is declared in core.settings; this name stays while tui/chat_session.py imports it.
MAX_PENDING_EVENTS = 30  # older untold events are dropped beyond this (only their mention is lost)


class NarrationLevel(Enum):
    """When the assistant speaks up about app events (it is told about every one of them)."""

    OFF = "off"
    MILESTONES = "milestones"  # an export finished or failed, an error, a profile switch
    EVERYTHING = "everything"


DEFAULT_NARRATION = NarrationLevel.MILESTONES


def narration_level(kv: Any, env: Any = None) -> NarrationLevel:
    """The setting `chat.narration` (BOTIFYTHON_NARRATION, else stored, else milestones); the old
    stored on/off values read as milestones/off."""
    try:
        resolved = settings.resolve(settings.NARRATION, kv=kv, env=env)
    except settings.SettingError:  # an unusable BOTIFYTHON_NARRATION: `config list` names it
        resolved = None
    if resolved is not None and resolved.source is settings.Source.ENV:
        return NarrationLevel(resolved.value)
    value = kv.get(settings.NARRATION)
    if value is True:
        return DEFAULT_NARRATION
    if value is False:
        return NarrationLevel.OFF
    try:
        return NarrationLevel(str(value).strip().lower())
    except ValueError:
        return DEFAULT_NARRATION


StartTurn = Callable[[Job], AsyncIterator[ChatEvent]]
_END = object()


class ReplyScheduler:
    """Runs the replies of one chat strictly one after another; iterate `events()` to drive it.

    `start_turn(job)` returns the turn's event stream (a `ChatTurn(...).run()`), resolved when
    the job starts, so a note or a question is saved only when its reply begins.
    """

    def __init__(
        self,
        start_turn: StartTurn,
        *,
        level: NarrationLevel = DEFAULT_NARRATION,
        quiet: float = 1.0,
        retry_after: float = 30.0,
    ) -> None:
        self._start_turn = start_turn
        self.level = level
        self.quiet = quiet
        self.retry_after = retry_after
        self.questions: deque[Job] = deque()
        self.pending: list[AppEvent] = []
        # The first `_silenced` pending events came while narration was off (or before it was
        # turned off): they are told with the next reply but never ask for a comment themselves,
        # so turning narration back on does not bring up what happened while it was off.
        self._silenced = 0
        self.owed = False  # a narration reply failed: ask again later, without repeating events
        self.current: Job | None = None
        self._task: asyncio.Task[None] | None = None
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._due: float | None = None  # loop time from which narration may start
        self._numbers = itertools.count(1)

    # --- what the front end calls ------------------------------------------------------------
    def ask(
        self, text: str, *, profile_id: int | None = None, conversation_id: int | None = None
    ) -> Job:
        """Queue the user's question; a narration reply in progress stops for it."""
        job = Job(ANSWER, next(self._numbers), text, profile_id, conversation_id)
        self.questions.append(job)
        if self.current is not None:
            if self.current.kind == NARRATION:
                self._cancel()  # the user's question wins
            self._out.put_nowait(QuestionQueued(job, len(self.questions)))
        self._wake.set()
        return job

    def app_event(self, event: AppEvent) -> None:
        """Something happened in the app: the model is told at the next quiet moment."""
        describe_event(event)  # an event without words is a TypeError here, at its source
        self.pending.append(event)
        if self.level is NarrationLevel.OFF:
            self._silenced = len(self.pending)
        dropped = max(0, len(self.pending) - MAX_PENDING_EVENTS)
        del self.pending[:dropped]
        self._silenced = max(0, self._silenced - dropped)
        self._due = self._now() + self.quiet
        self._wake.set()

    def set_level(self, level: NarrationLevel) -> None:
        self.level = level
        if level is NarrationLevel.OFF:
            self.owed = False
            self._silenced = len(self.pending)
        self._wake.set()

    def stop(self) -> bool:
        """Stop the reply in progress (Esc); what arrived is kept. Queued questions still run."""
        return self._cancel()

    def drop_questions(self) -> list[Job]:
        """Forget the questions still waiting; returned so the front end can give them back."""
        dropped = list(self.questions)
        self.questions.clear()
        return dropped

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def narrating(self) -> bool:
        return self.current is not None and self.current.kind == NARRATION

    def narration_wanted(self) -> bool:
        if self.level is NarrationLevel.OFF:
            return False
        if self.owed:
            return True
        unheard = self.pending[self._silenced :]
        if self.level is NarrationLevel.EVERYTHING:
            return bool(unheard)
        return any(event.milestone for event in unheard)

    # --- the loop --------------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[ChatEvent]:
        """Run the replies, one at a time, for as long as it is iterated."""
        while True:
            while not self._out.empty():
                event = self._out.get_nowait()
                if event is not _END:
                    yield event
            job = self._next_job()
            if job is None:
                self._wake.clear()
                timeout = None
                if self._due is not None and self.narration_wanted():
                    timeout = max(0.0, self._due - self._now())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            async for event in self._run(job):
                yield event

    def _next_job(self) -> Job | None:
        if self.questions:
            job = self.questions.popleft()
            if self.pending and not self.narration_wanted():
                # Events that need no comment are told with the question, in the order they came.
                job = replace(job, note=describe_events(self.pending))
                self._take_pending()
            return job
        if not self.narration_wanted():
            return None
        if self._due is not None and self._now() < self._due:
            return None
        note = describe_events(self.pending) if self.pending else None
        self._take_pending()
        self._due = None
        return Job(NARRATION, next(self._numbers), note=note)

    def _take_pending(self) -> None:
        self.pending = []
        self._silenced = 0

    async def _run(self, job: Job) -> AsyncIterator[ChatEvent]:
        self.current = job
        self._task = asyncio.create_task(self._pump(job))
        outcome = "stopped"
        held: Any = None
        try:
            while True:
                event = held if held is not None else await self._out.get()
                held = None
                if event is _END:
                    break
                if isinstance(event, TokenReceived) and not self._out.empty():
                    # Tokens that queued up while the front end drew go on as one piece.
                    parts = [event.text]
                    while not self._out.empty():
                        following = self._out.get_nowait()
                        if not isinstance(following, TokenReceived):
                            held = following
                            break
                        parts.append(following.text)
                    event = TokenReceived("".join(parts))
                if isinstance(event, TurnEnded) and event.job == job:
                    outcome = event.outcome
                    self.current = None  # before the front end sees the end
                yield event
        finally:
            self.current = None
            self._task = None
        if job.kind == NARRATION:
            if outcome in ("error", "unreachable"):
                self.owed = True  # the note is saved; the reply is still owed
                self._due = self._now() + self.retry_after
            elif outcome == "ok":
                self.owed = False

    async def _pump(self, job: Job) -> None:
        """Runs one turn in its own task (so it can be stopped) and passes its events on."""
        ended = False
        try:
            async for event in self._start_turn(job):
                if isinstance(event, TurnEnded):
                    ended = True
                self._out.put_nowait(event)
        except asyncio.CancelledError:
            pass  # stopped before the turn began
        except Exception as exc:  # a turn that cannot start (a conversation deleted meanwhile)
            log.exception("A chat reply could not start")
            self._out.put_nowait(ReplyFailed(f"The reply could not start: {exc}", False, "", None))
            self._out.put_nowait(TurnEnded(job, "error"))
            ended = True
        finally:
            if not ended:
                self._out.put_nowait(TurnEnded(job, "stopped"))
            self._out.put_nowait(_END)

    def _cancel(self) -> bool:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            return True
        return False

    def close(self) -> None:
        self._cancel()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

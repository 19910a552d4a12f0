"""The app's one chat: which conversation is shown, and the core chat turn's events drawn into
the chat panes.

The replies themselves run in core (`core.chat`): a `ReplyScheduler` runs `ChatTurn`s one at a
time and yields their typed events; this module only turns each event into drawing, and gives the
turn what only the app has (the approval dialog, the screen in view, the export starter).
It is a little over 500 lines on purpose: the conversation shown, the panes and the drawing of
the turn's events share one state (the reply in progress, where it is drawn, what waits), and
are read and changed together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from botifython_tui.core import settings
from botifython_tui.core.app_events import EXPORT_EVENTS, AppEvent
from botifython_tui.core.chat.events import (
    NARRATION,
    ActionDone,
    ActionProposed,
    AppNotice,
    Approval,
    ApprovalRequest,
    ChatEvent,
    Job,
    MessageSaved,
    ModelChosen,
    QuestionQueued,
    ReplyFailed,
    ReplySaved,
    ReplyStarted,
    SourcesCited,
    StatusChanged,
    TokenReceived,
    TurnEnded,
    TurnStarted,
)
from botifython_tui.core.chat.host import ChatHost, default_context
from botifython_tui.core.chat.reply_text import ReplyText
from botifython_tui.core.chat.scheduler import (
    DEFAULT_NARRATION,
    NarrationLevel,
    ReplyScheduler,
    narration_level,
)
from botifython_tui.core.chat.turn import MAX_MESSAGE_CHARS, ChatTurn
from botifython_tui.core.conversation import EVENT_ROLE, AppContext, describe_event
from botifython_tui.core.ollama import ollama_host
from botifython_tui.core.ollama_help import ollama_setup_help
from botifython_tui.core.store import Conversation, Message
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.messages import ConversationsChanged

log = get_logger("chat")

ExportStarter = Callable[[Any, int], Awaitable[str]]


class ChatView(Protocol):
    """What the session draws into: a chat pane (the docked one, or the Chat screen's)."""

    live_reply: Any
    live_chars: int  # how much of the reply in progress its bubble shows

    @property
    def visible_on_screen(self) -> bool: ...

    def sync(self) -> None: ...
    def update_title(self) -> None: ...
    def set_status(self, text: str) -> None: ...
    def show_error(self, message: str) -> None: ...
    def show_queued(self, texts: list[str]) -> None: ...
    async def add_message(self, role: str, content: str, message_id: int | None = None) -> None: ...
    async def begin_reply(self, initial: str = "") -> Any: ...
    async def end_reply(self, final_text: str | None = None) -> None: ...


class ChatSession:
    """Owns the conversation shown and the reply scheduler; panes only draw what it tells them."""

    def __init__(self, app: Any) -> None:
        self.app = app  # the Textual app: store, settings, profile, memory, notify, workers
        self.panes: list[ChatView] = []
        self.version = 0
        self._reply = ReplyText()  # the reply in progress
        self.status = ""
        self.model: str | None = None
        self.client_options: dict[str, float] = {}  # OllamaClient timeouts (tests shorten them)
        self.export_starter: ExportStarter | None = None  # the app's export runner, when it has one
        self._conversation_id: int | None = None
        self._conversation_profile: int | None = None
        self._in_turn = False
        self._kind = ""  # of the turn in progress
        self._turn_where: tuple[int, int] | None = None  # (profile, conversation) of the turn
        self._own_profile_switch = False
        self._consumer = None
        self._deferred: list[Callable[[], Any]] = []
        self.scheduler = ReplyScheduler(
            self._start_turn, level=narration_level(self.store.kv, env=self.app.settings.env)
        )

    @property
    def store(self):
        return self.app.store

    def setting(self, key: str):
        """A declared setting as in effect here (flag > env > stored > default)."""
        return self.app.settings.setting(key, self.store.kv)

    @property
    def host(self) -> str:
        return ollama_host(self.app.settings, self.store)

    @property
    def partial(self) -> str:
        """The reply in progress."""
        return self._reply.text

    @partial.setter
    def partial(self, value: str) -> None:
        self._reply = ReplyText(value)

    @property
    def streaming(self) -> bool:
        """A reply runs or a question waits for one."""
        return self._in_turn or self.scheduler.busy or bool(self.scheduler.questions)

    @property
    def narration(self) -> NarrationLevel:
        return self.scheduler.level

    # --- conversation -------------------------------------------------------------------------
    def conversations(self):
        return self.store.conversations(self.app.profile.id)

    @property
    def conversation_id(self) -> int:
        profile_id = self.app.profile.id
        if self._conversation_id is None or self._conversation_profile != profile_id:
            self._conversation_id = self.conversations().latest().id
            self._conversation_profile = profile_id
        return self._conversation_id

    def conversation(self) -> Conversation:
        return self.conversations().get(self.conversation_id)

    def messages(self) -> list[Message]:
        return self.conversations().messages(self.conversation_id)

    def title_line(self) -> str:
        try:
            configured = self.setting(settings.MODEL).value
        except Exception:  # an unusable BOTIFYTHON_MODEL: reported when the chat starts
            configured = ""
        model = self.model or configured or "model not chosen yet"
        return f"{single_line(self.conversation().title)} · {single_line(str(model))}"

    def open_conversation(self, conversation_id: int) -> None:
        self.conversations().get(conversation_id)  # raises NotFound for another profile's id
        self.stop()
        self._conversation_id = conversation_id
        self._conversation_profile = self.app.profile.id
        self.changed()

    def new_conversation(self) -> None:
        self.stop()
        current = self.conversation()
        if current.message_count == 0:
            self.app.notify("This conversation is already empty.", markup=False)
            return
        self._conversation_id = self.conversations().create().id
        self._conversation_profile = self.app.profile.id
        self.changed()

    def delete_conversation(self, conversation_id: int) -> None:
        if conversation_id == self._conversation_id:
            self.stop()
            self._conversation_id = None
        kept = [j for j in self.scheduler.drop_questions() if j.conversation_id != conversation_id]
        self.scheduler.questions.extend(kept)
        self.conversations().delete(conversation_id)
        self.changed()

    def profile_changed(self) -> None:
        if not self._own_profile_switch:  # an assistant's switch_profile goes on with its turn
            self.stop()
        self._conversation_id = None
        self.changed()

    # --- panes ------------------------------------------------------------------------------
    def register(self, pane: ChatView) -> None:
        if pane not in self.panes:
            self.panes.append(pane)

    def unregister(self, pane: ChatView) -> None:
        if pane in self.panes:
            self.panes.remove(pane)

    def active_pane(self) -> ChatView | None:
        for pane in self.panes:
            if pane.visible_on_screen:
                return pane
        return None

    def changed(self) -> None:
        self.version += 1
        pane = self.active_pane()
        if pane is not None:
            pane.sync()

    def _announce(self) -> None:
        """Messages were added: titles and conversation lists redraw (cheaply)."""
        for pane in self.panes:
            if pane.visible_on_screen:
                pane.update_title()
        if self.app.screen_stack:  # the chat list of the Chat screen redraws
            self.app.screen.post_message(ConversationsChanged())

    def _set_status(self, text: str) -> None:
        self.status = text
        pane = self.active_pane()
        if pane is not None:
            pane.set_status(text)

    def queued_texts(self) -> list[str]:
        """The questions waiting for their turn in the conversation shown."""
        shown = self.conversation_id
        return [j.text for j in self.scheduler.questions if j.conversation_id == shown]

    def _show_queued(self) -> None:
        pane = self.active_pane()
        if pane is not None:
            pane.show_queued(self.queued_texts())

    # --- what the turn is given -------------------------------------------------------------
    def context(self, profile_id: int) -> AppContext:
        """What the model is told about the app. The Botify token is never part of it."""
        base = default_context(self.store, profile_id)
        screen = self.app.screen
        run = self.app.exports.state
        return AppContext(
            profile=base.profile,
            screen=str(getattr(screen, "app_name", "") or screen.title or ""),
            project=base.project,
            analysis=base.analysis,
            running_export=None if run is None else run.describe(),
            open_todos=base.open_todos,
        )

    def chat_host(self) -> ChatHost:
        return ChatHost(
            store=self.store,
            settings=self.app.settings,
            approve=self._approve,
            context=self.context,
            memory=self._memory,
            start_export=self._start_export,
            export_status=self._export_status,
            background=self._background,
            client_options=self.client_options,
        )

    def _start_turn(self, job: Job) -> AsyncIterator[ChatEvent]:
        profile_id = job.profile_id if job.profile_id is not None else self.app.profile.id
        conversation_id = (
            job.conversation_id if job.conversation_id is not None else self.conversation_id
        )
        turn = ChatTurn(
            self.chat_host(), job, profile_id=profile_id, conversation_id=conversation_id
        )
        return turn.run()

    def _memory(self):
        return self.app.memory

    def _background(self, work: Callable[[], Any]) -> None:
        """Bookkeeping of the turn (remembering the exchange), started once the turn is drawn:
        loading the embedding model must not slow the end of the reply on screen."""
        self._deferred.append(work)

    def _start_deferred(self) -> None:
        works, self._deferred = self._deferred, []
        for work in works:
            self.app.run_worker(
                work, thread=True, group="memory", name="remember the exchange", exit_on_error=False
            )

    async def _approve(self, request: ApprovalRequest) -> Approval:
        """The approval dialog, answered y, n, or a (approve every action of this reply)."""
        from botifython_tui.tui.screens.action_approval import ApproveAction

        proposal = request.proposal
        verb = "spends Botify credits and " if request.spends_credits else ""
        question = f"The assistant asks to: {proposal.description}\n(This {verb}changes your data.)"
        if proposal.total > 1:
            question = f"Action {proposal.index} of {proposal.total}. " + question
        dialog = ApproveAction(question, approve_all=request.others_waiting + 1)
        answer: asyncio.Future = asyncio.get_running_loop().create_future()

        def answered(result: Any) -> None:
            if not answer.done():
                answer.set_result(result)

        self.app.push_screen(dialog, callback=answered)
        try:
            result = await answer
        except asyncio.CancelledError:
            if dialog.is_attached:  # the reply was stopped: the question is moot
                dialog.dismiss(False)
            raise
        if result == ApproveAction.ALL:
            return Approval.ALL
        return Approval.YES if result is True else Approval.NO

    async def _start_export(self, org: str, project: str, analysis: str, max_edges: int) -> str:
        from botifython_tui.core.actions import ActionRefused
        from botifython_tui.core.selection import Selection, save_selection

        if self.export_starter is None:
            raise ActionRefused("Exports cannot be started here.")
        selection = Selection(org, project, analysis)
        save_selection(self.store, self.app.profile.id, selection)
        return await self.export_starter(selection, max_edges)

    async def _export_status(self) -> str | None:
        run = self.app.exports.state
        return None if run is None else run.describe()

    def export_progressed(self, line: str) -> None:
        """The running export's status line (wherever it was started from)."""
        text = f"Export: {line} (F4 shows the details)"
        if text != self.status:
            self._set_status(text)

    # --- sending --------------------------------------------------------------------------------
    def send(self, text: str) -> bool:
        """Queue the user's message for its reply; False (input kept) if it cannot go."""
        text = text.strip()
        if not text:
            self.app.notify("Type a message first.", severity="warning", markup=False)
            return False
        if len(text) > MAX_MESSAGE_CHARS:
            self.app.notify(
                f"That message has {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}. "
                "Shorten it or add the text as a document.",
                severity="error",
                markup=False,
            )
            return False
        self._ensure_running()
        self.scheduler.ask(
            text, profile_id=self.app.profile.id, conversation_id=self.conversation_id
        )
        return True

    def stop(self) -> None:
        """Esc: close the stream (Ollama stops generating); the partial reply is kept."""
        self.scheduler.stop()

    async def wait_idle(self) -> None:
        while self.streaming:
            await asyncio.sleep(0.05)

    def set_model(self, name: str) -> str | None:
        """Use `name` from now on and store it; returns the flag or env var that will override
        the stored choice at the next start, if one does."""
        settings.store(self.store.kv, settings.MODEL, name)
        self.model = name
        self.changed()
        try:
            return self.setting(settings.MODEL).overridden_by
        except Exception:  # an unusable BOTIFYTHON_MODEL
            return None

    def copy_last_reply(self) -> None:
        replies = [m for m in self.messages() if m.role == "assistant"]
        if not replies:
            self.app.notify("There is no reply to copy yet.", markup=False)
            return
        self.app.copy_to_clipboard(replies[-1].content)
        self.app.notify("Copied the last reply to the clipboard (OSC 52).", markup=False)

    # --- narration ------------------------------------------------------------------------------
    def on_app_event(self, event: AppEvent) -> None:
        """Every app event informs the assistant; the narration level decides if it comments."""
        self._ensure_running()
        self.scheduler.app_event(event)
        if isinstance(event, EXPORT_EVENTS):  # an export the assistant started shows here too
            self.export_progressed(describe_event(event))

    def set_narration(self, level: NarrationLevel) -> None:
        self.scheduler.set_level(level)
        self.store.kv[settings.NARRATION] = level.value

    def toggle_narration(self) -> NarrationLevel:
        """Ctrl+N: off, or back to the level chosen before (milestones unless set)."""
        if self.scheduler.level is NarrationLevel.OFF:
            previous = self.store.kv.get(settings.NARRATION_BEFORE_OFF)
            level = (
                narration_level({settings.NARRATION: previous}) if previous else DEFAULT_NARRATION
            )
        else:
            self.store.kv[settings.NARRATION_BEFORE_OFF] = self.scheduler.level.value
            level = NarrationLevel.OFF
        self.set_narration(level)
        return level

    def shutdown(self) -> None:
        self.scheduler.close()

    # --- drawing the turn's events ------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._consumer is None or self._consumer.is_finished:
            self._consumer = self.app.run_worker(
                self._consume(), name="chat", group="chat", exit_on_error=False
            )

    async def _consume(self) -> None:
        async for event in self.scheduler.events():
            try:
                await self._draw(event)
            except Exception:  # a drawing bug must not stop the replies
                log.exception("Could not show the chat event %s", type(event).__name__)

    @property
    def drawing(self) -> bool:
        """A reply is in progress in the conversation shown (another's is not drawn)."""
        return self._in_turn and self._turn_where == (self.app.profile.id, self.conversation_id)

    async def _catch_up(self, pane: ChatView) -> None:
        """Draw what the pane's bubble lacks of the reply (all of it if it had none; the tokens
        that came while its screen was away otherwise)."""
        if pane.live_reply is None:
            await pane.begin_reply(self.partial)
        elif pane.live_chars < self._reply.chars:
            pane.live_reply.write(self._reply.tail(pane.live_chars))
            pane.live_chars = self._reply.chars

    def _pane(self) -> ChatView | None:
        return self.active_pane() if self.drawing else None

    async def _draw(self, event: ChatEvent) -> None:
        if isinstance(event, TokenReceived | SourcesCited):
            text = event.text if isinstance(event, TokenReceived) else event.footer
            self._reply.append(text)
            pane = self._pane()
            if pane is not None:
                await self._catch_up(pane)
        elif isinstance(event, ReplyStarted):
            self.partial = ""
            pane = self._pane()
            if pane is not None and pane.live_reply is None:
                await pane.begin_reply()
        elif isinstance(event, StatusChanged):
            self._set_status(event.text)
        elif isinstance(event, TurnStarted):
            self._in_turn = True
            self._kind = event.job.kind
            self.partial = ""
            self._turn_where = (event.profile_id, event.conversation_id)
            self._show_queued()
        elif isinstance(event, MessageSaved | ActionDone):
            role, content = (
                (event.role, event.content) if isinstance(event, MessageSaved) else
                (EVENT_ROLE, event.note)
            )  # fmt: skip
            self.version += 1
            pane = self._pane()
            if pane is not None:
                await pane.add_message(role, content, event.message_id)
            if isinstance(event, ActionDone):
                await self._action_done(event)
            self._announce()
        elif isinstance(event, ActionProposed):
            pane = self._pane()
            if pane is not None:
                await pane.add_message(EVENT_ROLE, _proposal_line(event))
        elif isinstance(event, AppNotice):  # "nothing was done", a repeated call stopped
            self.version += 1
            pane = self._pane()
            if pane is not None:
                await pane.add_message(EVENT_ROLE, event.text, event.message_id)
            self._announce()
        elif isinstance(event, ModelChosen):
            self.model = event.name
        elif isinstance(event, ReplySaved | ReplyFailed):
            await self._reply_ended(event)
        elif isinstance(event, QuestionQueued):
            self._show_queued()
            if event.job.conversation_id == self.conversation_id:
                self._set_status(
                    f"Queued ({event.position} waiting): your message goes when this reply ends."
                )
        elif isinstance(event, TurnEnded):
            self._in_turn = False
            self._turn_where = None
            self._announce()
            self.app.call_after_refresh(self._start_deferred)

    async def _reply_ended(self, event: ReplySaved | ReplyFailed) -> None:
        self.version += 1
        for pane in list(self.panes):
            if pane.live_reply is not None:
                await pane.end_reply(event.text)
        self.partial = ""
        if isinstance(event, ReplySaved):
            if event.outcome == "stopped":
                self._set_status("Stopped: the partial reply is kept.")
            elif event.stats:
                self._set_status(event.stats)
        elif self._kind == NARRATION:  # told again later, quietly
            self._set_status("The assistant will comment when Ollama answers.")
        else:
            self._set_status("The reply failed: see the message above.")
            pane = self._pane()
            if pane is not None:
                pane.show_error(ollama_setup_help(self.host) if event.unreachable else event.error)
            self.app.notify(event.error, title="Chat", severity="error", markup=False)
        self._announce()

    async def _action_done(self, event: ActionDone) -> None:
        if event.profile_id is not None and event.profile_id != self.app.profile.id:
            self._own_profile_switch = True
            try:
                self.app.switch_profile(event.profile_id)
            finally:
                self._own_profile_switch = False
        self.app.refresh_screen_data()


def _proposal_line(event: ActionProposed) -> str:
    """How a proposed action is listed before anything of the reply runs."""
    where = f" ({event.index}/{event.total})" if event.total > 1 else ""
    if event.problem:
        return f"The assistant proposes{where}: {event.description} (refused: {event.problem})"
    asks = " (asks for your approval)" if event.needs_approval else ""
    return f"The assistant proposes{where}: {event.description}{asks}"

"""The chat pane: the conversation log, the streaming reply, and the input box.

A pane is a view of the app's one `ChatSession`; every app screen has one (docked, toggled) and the
Chat app shows one full-screen. Only the pane on screen receives the stream; the others catch up
when their screen comes back. Questions sent while a reply streams are listed as queued under the
log until their turn comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from botifython_tui.core.conversation import EVENT_ROLE
from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.tui.widgets.chat_input import ChatInput
from botifython_tui.tui.widgets.reply_view import ReplyView

if TYPE_CHECKING:
    from botifython_tui.tui.chat_session import ChatSession

MAX_SHOWN_MESSAGES = 60
QUEUED_PREVIEW_CHARS = 120


class ChatMessage(Vertical):
    """One message in the log: a role label and its text (model text as Markdown)."""

    DEFAULT_CSS = "ChatMessage { height: auto; }"

    def __init__(self, role: str, content: str, *, message_id: int | None = None) -> None:
        super().__init__(classes=f"chat-message chat-{role}")
        self.role = role
        self.content = content
        self.message_id = message_id

    def compose(self) -> ComposeResult:
        if self.role == "assistant":
            yield ReplyView(self.content, classes="chat-reply")
        elif self.role == EVENT_ROLE:
            yield Static(Text("⟳ " + neutralize_controls(self.content)), classes="chat-event-text")
        else:
            yield Static(Text(neutralize_controls(self.content)), classes="chat-user-text")


class ChatPane(Vertical):
    """Log, live reply, stats line and input; actions go to the app's chat session."""

    BINDINGS = [
        Binding("escape", "stop", "Stop reply", id="chat.stop", show=False),
        Binding("ctrl+r", "copy_reply", "Copy reply", id="chat.copy"),
        Binding("ctrl+l", "new_conversation", "New chat", id="chat.new"),
    ]

    def __init__(self, *, docked: bool = False, **kwargs) -> None:
        classes = "chat-pane chat-docked" if docked else "chat-pane"
        super().__init__(classes=classes, **kwargs)
        self.docked = docked
        self.shown_version = -1
        self.live_reply: ReplyView | None = None
        self.live_chars = 0  # characters of the reply in progress given to `live_reply`

    @property
    def session(self) -> ChatSession:
        return self.app.chat  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Static(id="chat-title", markup=False, classes="chat-title")
        yield VerticalScroll(id="chat-log", classes="chat-log")
        yield Static(id="chat-queued", markup=False, classes="chat-queued")
        yield Static(id="chat-status", markup=False, classes="chat-status")
        yield ChatInput(id="chat-input")

    def on_mount(self) -> None:
        self.query_one("#chat-log", VerticalScroll).anchor()
        self.query_one("#chat-queued", Static).display = False
        self.session.register(self)
        self.sync()

    def on_unmount(self) -> None:
        self.session.unregister(self)

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#chat-log", VerticalScroll)

    @property
    def visible_on_screen(self) -> bool:
        return self.is_mounted and self.display and self.screen.is_current

    # --- drawing what the session holds ---------------------------------------------------
    def sync(self) -> None:
        """Redraw if the session changed since this pane last drew it."""
        if self.shown_version != self.session.version:
            self.call_later(self.rebuild)

    async def rebuild(self) -> None:
        session = self.session
        version = session.version
        self.update_title()
        log = self.log_view
        await log.remove_children()
        self.live_reply = None
        messages = session.messages()[-MAX_SHOWN_MESSAGES:]
        widgets = [ChatMessage(m.role, m.content, message_id=m.id) for m in messages]
        if widgets:
            await log.mount_all(widgets)
        if session.drawing:
            await self.begin_reply(session.partial)
        self.set_status(session.status)
        self.show_queued(session.queued_texts())
        self.shown_version = version
        log.scroll_end(animate=False)

    def update_title(self) -> None:
        self.query_one("#chat-title", Static).update(single_line(self.session.title_line()))

    async def add_message(self, role: str, content: str, message_id: int | None = None) -> None:
        await self.log_view.mount(ChatMessage(role, content, message_id=message_id))
        self.shown_version = self.session.version

    async def begin_reply(self, initial: str = "") -> ReplyView:
        message = ChatMessage("assistant", initial)
        self.live_chars = len(initial)
        await self.log_view.mount(message)
        self.live_reply = message.query_one(ReplyView)
        return self.live_reply

    async def end_reply(self, final_text: str | None = None) -> None:
        reply, self.live_reply = self.live_reply, None
        if reply is None or not reply.is_attached:  # removed meanwhile (the log was rebuilt)
            return
        if final_text is not None:
            reply.write(final_text[self.live_chars :])  # the end marks, what came unseen
        await reply.finish()
        self.shown_version = self.session.version

    def show_error(self, message: str) -> None:
        self.log_view.mount(Static(Text(neutralize_controls(message)), classes="chat-error"))

    def show_queued(self, texts: list[str]) -> None:
        """The questions waiting for the reply in progress to end, oldest first."""
        queued = self.query_one("#chat-queued", Static)
        lines = [f"⏳ queued: {single_line(text)[:QUEUED_PREVIEW_CHARS]}" for text in texts]
        queued.update("\n".join(lines))
        queued.display = bool(lines)

    def set_status(self, text: str) -> None:
        self.query_one("#chat-status", Static).update(single_line(text))  # model names in it

    def focus_input(self) -> None:
        self.query_one(ChatInput).focus()

    # --- user actions -----------------------------------------------------------------------
    def on_chat_input_submitted(self, event: ChatInput.Submitted) -> None:
        event.stop()
        if self.session.send(event.text):
            event.chat_input.clear()

    def action_stop(self) -> None:
        self.session.stop()

    def action_copy_reply(self) -> None:
        self.session.copy_last_reply()

    def action_new_conversation(self) -> None:
        self.session.new_conversation()

"""The Chat app: the conversation full-screen, with past conversations to browse, search and delete."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from botifython_tui.core.settings import AUTO_APPROVE_ADDITIVE, NARRATION
from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.messages import ConversationsChanged
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt
from botifython_tui.tui.screens.model_picker import ModelPicker
from botifython_tui.tui.widgets.chat_pane import ChatPane


class ChatScreen(AppScreen):
    """Full-screen chat; the left column lists this profile's conversations."""

    app_name = "Chat"
    has_docked_chat = False
    BINDINGS = [
        Binding("ctrl+f", "search", "Search chats", id="chat.search"),
        Binding("ctrl+o", "choose_model", "Model", id="chat.model"),
        Binding("ctrl+g", "set_host", "Ollama host", id="chat.host", show=False),
        Binding("ctrl+n", "toggle_narration", "Narration on/off", id="chat.narration"),
        Binding(
            "ctrl+e", "cycle_narration", "Narration level", id="chat.narration_level", show=False
        ),
        Binding(
            "ctrl+s", "toggle_auto_approve", "Auto-approve additions", id="chat.auto", show=False
        ),
        Binding("ctrl+l", "new_conversation", "New chat", id="chat.new_screen"),
        Binding("d,delete", "delete_conversation", "Delete chat", id="chat.delete", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="chat-layout"):
            with Vertical(id="chat-sidebar"):
                yield Input(placeholder="Search chats…", id="chat-search")
                yield OptionList(id="chat-list")
                yield Static(id="chat-narration", markup=False)
            yield ChatPane(id="chat-main")

    def on_mount(self) -> None:
        self.refresh_data()
        self.query_one(ChatPane).focus_input()

    @on(ConversationsChanged)
    def _conversations_changed(self, message: ConversationsChanged) -> None:
        self.refresh_sidebar()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        self.refresh_sidebar()
        self.query_one(ChatPane).sync()

    def refresh_sidebar(self) -> None:
        if not self.is_mounted:
            return
        chat = self.shell.chat
        query = self.query_one("#chat-search", Input).value.strip()
        listing = self.query_one("#chat-list", OptionList)
        listing.clear_options()
        if query:
            seen: set[int] = set()
            for conversation, message in chat.conversations().search(query):
                if conversation.id in seen:
                    continue
                seen.add(conversation.id)
                snippet = single_line(message.content)[:60]
                listing.add_option(
                    Option(
                        Text(f"{single_line(conversation.title)}\n  {snippet}"),
                        id=str(conversation.id),
                    )
                )
        else:
            for conversation in chat.conversations().list():
                mark = "▸ " if conversation.id == chat.conversation_id else "  "
                label = Text(f"{mark}{single_line(conversation.title)}")
                label.append(f"  ({conversation.message_count})", style="dim")
                listing.add_option(Option(label, id=str(conversation.id)))
        if listing.option_count:
            listing.highlighted = 0
        # The footer shows Ctrl+N; the column is too narrow for it here.
        self.query_one("#chat-narration", Static).update(f"Narration: {chat.narration.value}")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "chat-search":
            self.refresh_data()

    @reports_errors("open the conversation")
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.shell.chat.open_conversation(int(event.option.id))
            self.refresh_data()
            self.query_one(ChatPane).focus_input()

    def action_search(self) -> None:
        self.query_one("#chat-search", Input).focus()

    def action_new_conversation(self) -> None:
        self.shell.chat.new_conversation()
        self.refresh_data()

    def action_toggle_narration(self) -> None:
        self._narration_set(self.shell.chat.toggle_narration())

    def action_cycle_narration(self) -> None:
        """off → milestones → everything → off: how often the assistant comments on app events."""
        from botifython_tui.core.chat.scheduler import NarrationLevel

        levels = list(NarrationLevel)
        chat = self.shell.chat
        level = levels[(levels.index(chat.narration) + 1) % len(levels)]
        chat.set_narration(level)
        self._narration_set(level)

    def _narration_set(self, level) -> None:
        explained = {
            "off": "the assistant is told what you do but does not comment.",
            "milestones": "the assistant comments on finished or failed exports, errors and "
            "profile switches.",
            "everything": "the assistant comments on everything you do.",
        }
        try:
            overridden_by = self.shell.chat.setting(NARRATION).overridden_by
        except Exception:  # an unusable BOTIFYTHON_NARRATION
            overridden_by = None
        if overridden_by:
            self.notify(
                f"Narration {level.value} until the app ends; {overridden_by} overrides the "
                "stored setting at the next start.",
                severity="warning",
                markup=False,
            )
            return
        self.notify(f"Narration {level.value}: {explained[level.value]}", markup=False)
        self.refresh_data()

    def action_toggle_auto_approve(self) -> None:
        enabled = not bool(self.store.kv.get(AUTO_APPROVE_ADDITIVE, False))
        self.store.kv[AUTO_APPROVE_ADDITIVE] = enabled
        self.notify(
            "Additions (such as a new todo) now run without asking; deletions and exports "
            "always ask."
            if enabled
            else "Every action that changes data asks first again.",
            markup=False,
        )

    def action_choose_model(self) -> None:
        self.app.push_screen(ModelPicker(self.shell.chat.host), self._model_chosen)

    def action_set_host(self) -> None:
        from botifython_tui.core.settings import OLLAMA_HOST
        from botifython_tui.core.text import single_line

        resolved = self.shell.chat.setting(OLLAMA_HOST)
        in_use = single_line(str(resolved.value))
        title = "Ollama host: HOST:PORT or URL; empty for the default (localhost:11434)"
        if resolved.overridden_by or resolved.source.value in ("flag", "env"):
            title += (
                f"\nOverridden by {resolved.origin}: the host in use is {in_use}."
                + (
                    f" Stored: {single_line(str(resolved.stored))}."
                    if resolved.stored is not None
                    else ""
                )
                + f" What you store here is used once {resolved.origin} is unset."
            )
        self.app.push_screen(
            TextPrompt(title, value=in_use, placeholder="localhost:11434"),
            lambda value: self._host_set(value, shown=in_use),
        )

    @reports_errors("set the Ollama host")
    def _host_set(self, value: str | None, *, shown: str = "") -> None:
        from botifython_tui.core import settings as declared
        from botifython_tui.core.settings import OLLAMA_HOST

        if value is None:
            return
        resolved = self.shell.chat.setting(OLLAMA_HOST)
        if value.strip() == shown and resolved.source.value in ("flag", "env"):
            return  # accepted unchanged: nothing to store (the override stays in charge)
        if value.strip():
            try:
                declared.store(self.store.kv, OLLAMA_HOST, value)  # refuses nonsense clearly
            except declared.SettingError as exc:
                self.notify(str(exc), title="Ollama host", severity="error", markup=False)
                return
        else:
            declared.forget(self.store.kv, OLLAMA_HOST)
        resolved = self.shell.chat.setting(OLLAMA_HOST)
        if resolved.overridden_by:
            self.notify(
                f"Stored; {resolved.origin} overrides it, so the assistant still talks to "
                f"Ollama at {self.shell.chat.host}.",
                severity="warning",
                markup=False,
            )
        else:
            self.notify(f"The assistant talks to Ollama at {self.shell.chat.host}.", markup=False)
        self.shell.chat.changed()

    def _model_chosen(self, name: str | None) -> None:
        if name:
            from botifython_tui.core.text import single_line

            overridden_by = self.shell.chat.set_model(name)
            name = single_line(name)
            if overridden_by:
                self.notify(
                    f"The assistant now uses {name}. Stored, but overridden by {overridden_by} "
                    "the next time the app starts (unset it to keep this choice).",
                    severity="warning",
                    markup=False,
                )
            else:
                self.notify(f"The assistant now uses {name}.", markup=False)

    @reports_errors("delete the conversation")
    def action_delete_conversation(self) -> None:
        listing = self.query_one("#chat-list", OptionList)
        if listing.highlighted is None:
            return
        option = listing.get_option_at_index(listing.highlighted)
        conversation = self.shell.chat.conversations().get(int(option.id))
        self.app.push_screen(
            Confirm(
                f"Delete the conversation {single_line(conversation.title)!r} "
                f"({conversation.message_count} messages)?",
                confirm_label="Delete",
            ),
            lambda yes: self._deleted(conversation.id) if yes else None,
        )

    @reports_errors("delete the conversation")
    def _deleted(self, conversation_id: int) -> None:
        self.shell.chat.delete_conversation(conversation_id)
        self.refresh_data()

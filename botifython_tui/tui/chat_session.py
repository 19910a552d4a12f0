"""The app's one chat: conversation state, the streaming worker, narration, and the panes that show it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.worker import Worker

from botifython_tui.core.action_parser import ORIGIN_USER, from_tool_calls, parse_actions
from botifython_tui.core.actions import (
    ActionChain,
    ActionContext,
    ActionRefused,
    auto_approve_additive,
    available_actions,
    dispatch,
    prompt_description,
    tools_schema,
)
from botifython_tui.core.conversation import (
    DEFAULT_CONTEXT_TOKENS,
    EVENT_ROLE,
    AppContext,
    Narrator,
    fit_history,
    system_prompt,
)
from botifython_tui.core.ollama import (
    MODEL_KEY,
    OllamaClient,
    OllamaError,
    OllamaReplyError,
    OllamaUnreachable,
    ReplyDone,
    TokenReceived,
    ToolCallsReceived,
    choose_model,
    ollama_host,
)
from botifython_tui.core.ollama_help import chat_error_text
from botifython_tui.core.store import Conversation, Message
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    from botifython_tui.tui.app import AppEvent, BotifythonApp
    from botifython_tui.tui.widgets.chat_pane import ChatPane

log = get_logger("chat")


NARRATION_KEY = "chat.narration"
CONTEXT_KEY = "chat.context_tokens"
TOOLS_KEY = "chat.tools"  # per model: False once Ollama says it does not support tools
MAX_MESSAGE_CHARS = 100_000
YIELD_EVERY = 0.005
GROUNDING_TOKENS = 1200  # of the context budget, for document passages
# seconds of token handling between turns given to the event loop


STOPPED_MARK = "\n\n*(stopped)*"
INTERRUPTED_MARK = "\n\n*(interrupted)*"


class ChatSession:
    """Owns the conversation and the reply stream; panes only draw what it tells them."""

    def __init__(self, app: BotifythonApp) -> None:
        self.app = app
        self.panes: list[ChatPane] = []
        self.version = 0
        self.streaming = False
        self.reply_kind = ""
        self.partial = ""
        self.status = ""
        self.model: str | None = None
        self._conversation_id: int | None = None
        self._conversation_profile: int | None = None
        self._worker: Worker | None = None
        self._finishing = False
        self._grounding = ""
        self.listeners: list = []  # called after each message or reply (the chat list redraws)
        self.client_options: dict[str, float] = {}  # OllamaClient timeouts (tests shorten them)
        self.narrator = Narrator(self._narrate)
        self.narrator.enabled = bool(self.store.kv.get(NARRATION_KEY, True))

    @property
    def store(self):
        return self.app.store

    @property
    def host(self) -> str:
        return ollama_host(self.app.settings, self.store)

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
        model = self.model or self.store.kv.get(MODEL_KEY) or "model not chosen yet"
        return f"{self.conversation().title} · {model}"

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
        self.conversations().delete(conversation_id)
        self.changed()

    def profile_changed(self) -> None:
        self.stop()
        self._conversation_id = None
        self.changed()

    # --- panes ------------------------------------------------------------------------------
    def register(self, pane: ChatPane) -> None:
        if pane not in self.panes:
            self.panes.append(pane)

    def unregister(self, pane: ChatPane) -> None:
        if pane in self.panes:
            self.panes.remove(pane)

    def active_pane(self) -> ChatPane | None:
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
        for listener in list(self.listeners):
            listener()

    def _set_status(self, text: str) -> None:
        self.status = text
        pane = self.active_pane()
        if pane is not None:
            pane.set_status(text)

    # --- context ------------------------------------------------------------------------------
    def context(self) -> AppContext:
        """What the model is told about the app. The Botify token is never part of it."""
        from botifython_tui.core.selection import load_selection

        app = self.app
        selection = load_selection(self.store, app.profile.id)
        screen = app.screen
        open_todos, _ = self.store.todos(app.profile.id).counts()
        return AppContext(
            profile=app.profile.name,
            screen=str(getattr(screen, "app_name", "") or screen.title or ""),
            project=selection.project_label if selection else None,
            analysis=selection.analysis if selection else None,
            running_export=getattr(app, "running_export", None),
            open_todos=open_todos,
        )

    # --- sending --------------------------------------------------------------------------------
    def send(self, text: str) -> bool:
        """Add the user's message and start the reply; False (input kept) if it cannot go now."""
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
        if self.streaming:
            if self.reply_kind == "answer":
                self.app.notify(
                    "A reply is still streaming: wait for it, or press Esc to stop it.",
                    severity="warning",
                    markup=False,
                )
                return False
            self.stop()  # a comment on app events gives way to the user's question
        message = self.conversations().add_message(self.conversation_id, "user", text)
        self.version += 1
        pane = self.active_pane()
        if pane is not None:
            self.app.call_later(pane.add_message, "user", text, message.id)
        self._start_reply("answer")
        self._announce()
        return True

    def _start_reply(self, kind: str) -> Worker:
        self.streaming = True
        self.reply_kind = kind
        self.partial = ""
        self._worker = self.app.run_worker(
            self._reply(kind, self.conversation_id),
            name=f"chat-{kind}",
            group="chat",
            exit_on_error=False,
        )
        return self._worker

    def stop(self) -> None:
        """Esc: close the stream (Ollama stops generating); the partial reply is kept."""
        if self._worker is not None and self.streaming and not self._finishing:
            self._worker.cancel()

    async def wait_idle(self) -> None:
        while self.streaming:
            await asyncio.sleep(0.05)

    async def _emit(self, text: str) -> None:
        pane = self.active_pane()
        if pane is None:
            return
        if pane.live_reply is None:
            await pane.begin_reply(self.partial[: len(self.partial) - len(text)])
        assert pane.live_reply is not None
        pane.live_reply.write(text)

    async def resolve_model(self, client: OllamaClient) -> str:
        return await choose_model(client, self.store.kv)

    def set_model(self, name: str) -> None:
        self.store.kv[MODEL_KEY] = name
        self.model = name
        self.changed()

    async def _reply(self, kind: str, conversation_id: int) -> str:
        """Stream the reply, run the actions it asks for (approved), and let the model go on.

        Returns how it ended: ok, stopped, error or unreachable.
        """
        conversations = self.conversations()
        done: ReplyDone | None = None
        outcome = "ok"
        error: OllamaError | None = None
        self._set_status("Thinking…")
        self._finishing = False
        chain = ActionChain(origin=ORIGIN_USER if kind == "answer" else "narration")
        turn: list[dict] = []  # this turn's tool calls and results, sent back to the model
        self._grounding, sources = "", []
        try:
            question = self._last_question(conversation_id) if kind == "answer" else ""
            if question and await self._answer_inventory(question):
                return await self._finish(kind, conversations, conversation_id, "ok", None, None)
            if question:
                self._grounding, sources = await self._ground(question)
                if sources:
                    chain.taint("document")  # document text in the prompt: every action asks
            async with OllamaClient(self.host, **self.client_options) as client:
                self.model = await self.resolve_model(client)
                # Each round: a streamed answer, then the actions it asks for. Over the chain's
                # limit, requests are refused (the model is told), so this always ends.
                for _round in range(chain.limit + 2):
                    pane = self.active_pane()
                    if pane is not None and pane.live_reply is None:
                        await pane.begin_reply()
                    calls, done = await self._stream_once(client, conversation_id, turn)
                    parsed = (
                        from_tool_calls(calls, origin=chain.origin)
                        if calls
                        else parse_actions(self.partial, origin=chain.origin)
                    )
                    if not parsed.actions:
                        break
                    await self._run_actions(
                        conversations, conversation_id, parsed.actions, calls, chain, turn
                    )
        except asyncio.CancelledError:
            outcome = "stopped"
        except OllamaError as exc:
            error = exc
            outcome = "unreachable" if isinstance(exc, OllamaUnreachable) else "error"
        except Exception as exc:  # a bug: keep the app and the conversation intact
            log.exception("Chat reply failed")
            error = OllamaError(f"{type(exc).__name__}: {exc}")
            outcome = "error"
        if outcome == "ok" and sources and self.partial:
            from botifython_tui.core.memory.grounding import cited_sources, format_sources

            footer = "\n\n*" + format_sources(cited_sources(self.partial, sources)) + "*"
            self.partial += footer
            await self._emit(footer)
        return await self._finish(kind, conversations, conversation_id, outcome, done, error)

    async def _finish(self, kind, conversations, conversation_id, outcome, done, error) -> str:
        self._finishing = True  # Esc from here on has nothing left to stop
        try:
            result = await self._finish_reply(
                kind, conversations, conversation_id, outcome, done, error
            )
        finally:
            self.streaming = False  # last: whoever waits on it sees the finished pane and status
            self._finishing = False
        if result == "ok" and kind == "answer":
            self._remember_exchange(conversation_id)
        return result

    # --- memory: grounding and feeding -----------------------------------------------------
    def _last_question(self, conversation_id: int) -> str:
        messages = self.conversations().messages(conversation_id, limit=5)
        return next((m.content for m in reversed(messages) if m.role == "user"), "")

    def _memory(self):
        try:
            return self.app.memory
        except ImportError:  # the memory stack is not installed: chat without it
            return None

    async def _answer_inventory(self, question: str) -> bool:
        """'Which documents do you know about?' is answered from the store, not by the model."""
        from botifython_tui.core.memory.grounding import inventory_answer, is_inventory_question

        memory = self._memory()
        if memory is None or not is_inventory_question(question):
            return False
        documents = await asyncio.to_thread(memory.documents, self.app.profile.id)
        self.partial = inventory_answer(documents)
        pane = self.active_pane()
        if pane is not None and pane.live_reply is None:
            await pane.begin_reply()
        await self._emit(self.partial)
        return True

    async def _ground(self, question: str) -> tuple[str, list]:
        """The most relevant chunks of this profile's memory, numbered, within a budget."""
        from botifython_tui.core.memory.grounding import build_context

        memory = self._memory()
        profile_id = self.app.profile.id
        if memory is None or not await asyncio.to_thread(memory.has_chunks, profile_id):
            return "", []
        self._set_status(
            "Searching your documents…"
            if memory.model_loaded
            else "Loading the embedding model (first search only)…"
        )
        try:
            hits = await memory.asearch(question, profile_id, k=6)
        except Exception as exc:  # a broken memory must not stop the chat
            log.warning("Document search failed: %s", exc)
            return "", []
        return build_context(hits, GROUNDING_TOKENS)

    def _remember_exchange(self, conversation_id: int) -> None:
        """Each exchange joins the memory (in a thread; the setting `memory.remember_chats`)."""
        from botifython_tui.core.memory.feeds import remembers_chats

        memory = self._memory()
        if memory is None or not remembers_chats(self.store.kv):
            return
        profile_id = self.app.profile.id
        messages = self.conversations().messages(conversation_id, limit=4)
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        answer = next((m.content for m in reversed(messages) if m.role == "assistant"), "")
        if not (question and answer):
            return
        title = self.conversations().get(conversation_id).title

        def remember() -> None:
            memory.remember_exchange(profile_id, conversation_id, title, question, answer)

        self.app.run_worker(
            remember, thread=True, group="memory", name="remember the exchange", exit_on_error=False
        )

    async def _stream_once(
        self, client: OllamaClient, conversation_id: int, turn: list[dict]
    ) -> tuple[list[dict], ReplyDone | None]:
        """One streamed answer into the active pane; returns its tool calls and final stats."""
        history = [(m.role, m.content) for m in self.conversations().messages(conversation_id)]
        budget = int(self.store.kv.get(CONTEXT_KEY, DEFAULT_CONTEXT_TOKENS))
        tools = self._tools_supported()
        prompt = system_prompt(self.context())
        if self._grounding:
            prompt += "\n\n" + self._grounding + "\n\nCite the sources you use as [1], [2] …"
        if not tools:
            prompt += "\n\n" + prompt_description(available_actions(self.action_context()))
        messages = fit_history(prompt, history, budget) + turn
        self._set_status(f"{self.model} is answering… (Esc stops)")
        self.partial = ""
        calls: list[dict] = []
        done: ReplyDone | None = None
        last_yield = time.perf_counter()
        schema = tools_schema(available_actions(self.action_context())) if tools else None
        try:
            async for event in client.chat(self.model, messages, tools=schema):
                if isinstance(event, TokenReceived):
                    self.partial += event.text
                    await self._emit(event.text)
                elif isinstance(event, ToolCallsReceived):
                    calls.extend(event.calls)
                elif isinstance(event, ReplyDone):
                    done = event
                # A fast stream never makes the socket wait, so give the event loop a turn
                # now and then: keys and redraws must not queue behind the tokens.
                now = time.perf_counter()
                if now - last_yield > YIELD_EVERY:
                    await asyncio.sleep(0)
                    last_yield = time.perf_counter()
        except OllamaReplyError as exc:
            if tools and "does not support tools" in str(exc) and not self.partial:
                self.store.kv[f"{TOOLS_KEY}.{self.model}"] = False  # JSON form from now on
                return await self._stream_once(client, conversation_id, turn)
            raise
        return calls, done

    def _tools_supported(self) -> bool:
        return bool(self.store.kv.get(f"{TOOLS_KEY}.{self.model}", True))

    def action_context(self) -> ActionContext:
        return ActionContext(
            store=self.store,
            profile_id=self.app.profile.id,
            settings=self.app.settings,
            botify_client_factory=self._botify_client,
            start_export=self._start_export,
            export_status=self._export_status,
            search_documents=self._search_documents if self._memory() is not None else None,
        )

    def _botify_client(self):
        from botifython_tui.core.botify import BotifyClient
        from botifython_tui.core.secrets import TokenStore

        token = TokenStore(self.app.settings.data_dir).load()
        if not token:
            raise ActionRefused("Not connected to Botify: the user must paste a token first.")
        return BotifyClient(token, self.app.settings.botify_api_url)

    async def _start_export(self, org: str, project: str, analysis: str, max_edges: int) -> str:
        from botifython_tui.core.selection import Selection, save_selection

        selection = Selection(org, project, analysis)
        save_selection(self.store, self.app.profile.id, selection)
        await self.app.switch_mode("botify")
        screen = self.app.screen
        try:
            return screen.start_export_for(selection, max_edges)  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError) as exc:
            raise ActionRefused(str(exc)) from exc

    async def _search_documents(self, query: str, limit: int) -> list[dict]:
        """The same search the grounding uses, as passages with their sources."""
        from botifython_tui.core.memory.grounding import source_label

        memory = self._memory()
        if memory is None:
            raise ActionRefused("The document memory is not installed here.")
        hits = await memory.asearch(query, self.app.profile.id, k=limit)
        return [
            {
                "source": source_label(hit.kind, hit.source, hit.title),
                "score": round(hit.score, 3),
                "text": hit.text[:1200],
            }
            for hit in hits
        ]

    async def _export_status(self) -> str | None:
        return getattr(self.app, "running_export", None)

    async def _approve(self, action, args, description: str) -> bool:
        from botifython_tui.tui.screens.dialogs import Confirm

        verb = "spends Botify credits and " if action.spends_credits else ""
        return bool(
            await self.app.push_screen_wait(
                Confirm(
                    f"The assistant asks to: {description}\n(This {verb}changes your data.)",
                    confirm_label="Approve",
                )
            )
        )

    async def _run_actions(self, conversations, conversation_id, requests, calls, chain, turn):
        """Dispatch each request; outcomes go to the model now and to the history for later."""
        if self.partial:
            conversations.add_message(conversation_id, "assistant", self.partial)
        for shown in list(self.panes):
            if shown.live_reply is not None:
                await shown.end_reply(self.partial)
        if calls:
            turn.append(
                {
                    "role": "assistant",
                    "content": self.partial,
                    "tool_calls": [
                        {"function": {"name": c["name"], "arguments": c["arguments"]}}
                        for c in calls
                    ],
                }
            )
        elif self.partial:
            turn.append({"role": "assistant", "content": self.partial})
        self.partial = ""
        ctx = self.action_context()
        for request in requests:
            self._set_status(f"Action requested: {request.name}")
            result = await dispatch(
                request,
                ctx,
                chain,
                approve=self._approve,
                auto_approve_additive=auto_approve_additive(self.store),
            )
            turn.append(result.message_for_model(tools=bool(calls)))
            note = f"Assistant action {result.status}: {result.description or result.name}"
            if not result.ran or not result.result.ok:
                note += f" ({result.result.message})"
            message = conversations.add_message(conversation_id, EVENT_ROLE, note)
            self.version += 1
            pane = self.active_pane()
            if pane is not None:
                await pane.add_message(EVENT_ROLE, note, message.id)
            if result.result.profile_id is not None and result.result.profile_id != ctx.profile_id:
                self.app.switch_profile(result.result.profile_id)
            self.app.refresh_screen_data()
        self._announce()

    async def _finish_reply(
        self,
        kind: str,
        conversations,
        conversation_id: int,
        outcome: str,
        done: ReplyDone | None,
        error: OllamaError | None,
    ) -> str:
        """Save what arrived (marked if stopped or broken) to the conversation it belongs to."""
        text = self.partial
        if outcome == "stopped" and text:
            text += STOPPED_MARK
        elif outcome in ("error", "unreachable") and text:
            text += INTERRUPTED_MARK
        if text:
            conversations.add_message(conversation_id, "assistant", text)
        self._announce()
        self.version += 1
        for shown in list(self.panes):
            if shown.live_reply is not None:
                await shown.end_reply(text)
        if outcome == "ok":
            self._set_status(_stats_line(self.model, done, len(text)))
        elif outcome == "stopped":
            self._set_status("Stopped: the partial reply is kept.")
        elif kind == "narration":
            self._set_status("The assistant will comment when Ollama answers.")
        else:
            assert error is not None
            self._set_status("The reply failed: see the message above.")
            pane = self.active_pane()
            if pane is not None:
                pane.show_error(chat_error_text(error, self.host))
            self.app.notify(str(error), title="Chat", severity="error", markup=False)
        return outcome

    def copy_last_reply(self) -> None:
        replies = [m for m in self.messages() if m.role == "assistant"]
        if not replies:
            self.app.notify("There is no reply to copy yet.", markup=False)
            return
        self.app.copy_to_clipboard(replies[-1].content)
        self.app.notify("Copied the last reply to the clipboard (OSC 52).", markup=False)

    # --- narration ------------------------------------------------------------------------------
    def on_app_event(self, event: AppEvent) -> None:
        self.narrator.add(event.kind, event.data)

    def set_narration(self, enabled: bool) -> None:
        self.narrator.enabled = enabled
        self.store.kv[NARRATION_KEY] = enabled
        if not enabled:
            self.narrator.pending.clear()

    async def _narrate(self, text: str | None) -> None:
        if text:
            message = self.conversations().add_message(self.conversation_id, EVENT_ROLE, text)
            self.version += 1
            pane = self.active_pane()
            if pane is not None:
                await pane.add_message(EVENT_ROLE, text, message.id)
        await self.wait_idle()
        worker = self._start_reply("narration")
        await worker.wait()
        if worker.result in ("unreachable", "error"):
            raise OllamaError("the narration reply did not come")

    def shutdown(self) -> None:
        self.narrator.stop()
        self.stop()


def _stats_line(model: str | None, done: ReplyDone | None, chars: int) -> str:
    parts = []
    if done is not None and done.eval_count:
        parts.append(f"{done.eval_count} tokens")
        if done.tokens_per_second:
            parts.append(f"{done.tokens_per_second:.1f} tok/s")
    elif chars:
        parts.append(f"{chars} characters")
    if model:
        parts.append(model)
    return " · ".join(parts)

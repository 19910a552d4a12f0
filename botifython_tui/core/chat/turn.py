"""One turn of the assistant: the question (or the app events) in, one or more replies out.

A turn saves what it is about (the question, or the note of app events), grounds a question in
the relevant passages of the memory, streams the model's reply, runs the actions the reply asks for
(validated, approved through the injected approver, at most `MAX_ACTIONS_PER_MESSAGE`, audited),
lets the model go on with their results, saves every reply as its own message and feeds the
exchange to the memory. It yields the typed events of `core.chat.events` and knows no widget:
the TUI, the CLI and the tests run the same turn.

A narration turn (a comment on app events) is requested without tools and without the action
prompt, and any action its reply asks for is ignored: narration only comments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from botifython_tui.core.action_parser import ORIGIN_USER, from_tool_calls, parse_actions
from botifython_tui.core.actions import (
    ActionChain,
    ActionContext,
    ActionRefused,
    Refusal,
    auto_approve_additive,
    available_actions,
    describe,
    dispatch,
    needs_approval,
    precheck,
    prompt_description,
    tools_schema,
    validate,
)
from botifython_tui.core.chat.events import (
    ANSWER,
    NARRATION,
    ActionDone,
    ActionProposed,
    Approval,
    ApprovalRequest,
    ChatEvent,
    Job,
    MessageSaved,
    ModelChosen,
    ReplyFailed,
    ReplySaved,
    ReplyStarted,
    SourcesCited,
    SourcesFound,
    StatusChanged,
    TokenReceived,
    TurnEnded,
    TurnStarted,
)
from botifython_tui.core.chat.host import ChatHost, default_context, stats_line
from botifython_tui.core.conversation import (
    DEFAULT_CONTEXT_TOKENS,
    EVENT_ROLE,
    AppContext,
    fit_history,
    system_prompt,
)
from botifython_tui.core.ollama import (
    OllamaClient,
    OllamaError,
    OllamaReplyError,
    OllamaUnreachable,
    ReplyDone,
    ToolCallsReceived,
    choose_model,
)
from botifython_tui.core.ollama import TokenReceived as OllamaToken
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

log = get_logger("chat")

CONTEXT_KEY = "chat.context_tokens"
TOOLS_KEY = "chat.tools"  # per model: False once Ollama says it does not support tools
MAX_MESSAGE_CHARS = 100_000
GROUNDING_TOKENS = 1200  # of the context budget, for document passages
YIELD_EVERY = 0.005  # seconds of token handling before the event loop gets a turn
# A passage is shown to the model (and listed as a source) only above these cosine scores:
# below them all-MiniLM-L6-v2 matches on shared words, not meaning. Old chats need more,
# so an unrelated past conversation is never cited.
MIN_DOCUMENT_SCORE = 0.3
MIN_CHAT_SCORE = 0.5
STOPPED_MARK = "\n\n*(stopped)*"
INTERRUPTED_MARK = "\n\n*(interrupted)*"
NARRATION_RULE = (
    "You are commenting on what the user just did in the app: comment in one or two short "
    "sentences, or say nothing useful is to add. Never request an action here."
)


def relevant_hits(hits: Sequence[Any], conversation_id: int | None = None) -> list[Any]:
    """The hits worth showing the model: relevant enough, and never the chat being held."""
    from botifython_tui.core.memory.feeds import chat_source
    from botifython_tui.core.memory.service import CHAT

    kept = []
    for hit in hits:
        if hit.kind == CHAT:
            if hit.score < MIN_CHAT_SCORE:
                continue
            if conversation_id is not None and hit.source == chat_source(conversation_id):
                continue  # already in the history
        elif hit.score < MIN_DOCUMENT_SCORE:
            continue
        kept.append(hit)
    return kept


class ChatTurn:
    """Runs one `Job` in one conversation; iterate `run()` for its events."""

    def __init__(self, host: ChatHost, job: Job, *, profile_id: int, conversation_id: int) -> None:
        self.host = host
        self.job = job
        self.profile_id = profile_id
        self.conversation_id = conversation_id
        self.conversations = host.store.conversations(profile_id)
        self._parts: list[str] = []  # the reply so far (joined on demand: tokens come by the 1000)
        self.model: str | None = None
        self.outcome = "ok"
        self._unsaved: list[tuple[str, str]] = []  # this turn's messages when not saving
        self._grounding = ""
        self._sources: list[Any] = []
        self._done: ReplyDone | None = None

    @property
    def partial(self) -> str:
        """The reply in progress."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @partial.setter
    def partial(self, value: str) -> None:
        self._parts = [value] if value else []

    @property
    def narration(self) -> bool:
        return self.job.kind == NARRATION

    # --- saving -------------------------------------------------------------------------------
    def _save(self, role: str, content: str) -> int | None:
        if not self.host.save:
            self._unsaved.append((role, content))
            return None
        return self.conversations.add_message(self.conversation_id, role, content).id

    def _history(self) -> list[tuple[str, str]]:
        stored = [(m.role, m.content) for m in self.conversations.messages(self.conversation_id)]
        return stored + self._unsaved

    # --- the turn -----------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[ChatEvent]:
        job = self.job
        yield TurnStarted(job, self.profile_id, self.conversation_id)
        if job.note:  # app events told first: they happened before the question
            yield MessageSaved(EVENT_ROLE, job.note, self._save(EVENT_ROLE, job.note))
        if job.kind == ANSWER:
            yield MessageSaved("user", job.text, self._save("user", job.text))
        chain = ActionChain(origin=ORIGIN_USER if job.kind == ANSWER else NARRATION)
        sources: list[Any] = []
        done: ReplyDone | None = None
        error: OllamaError | None = None
        self.partial = ""
        try:
            yield StatusChanged("Thinking…")
            inventory = await self._inventory() if job.kind == ANSWER else None
            if inventory is not None:
                self.partial = inventory
                yield ReplyStarted()
                yield TokenReceived(inventory)
            else:
                if job.kind == ANSWER:
                    async for event in self._ground():
                        yield event
                    sources = self._sources
                    if sources:
                        chain.taint("document")  # document text in the prompt: every action asks
                async for event in self._converse(chain):
                    yield event
                done = self._done
        except asyncio.CancelledError:
            self.outcome = "stopped"
        except OllamaError as exc:
            error = exc
            self.outcome = "unreachable" if isinstance(exc, OllamaUnreachable) else "error"
        except Exception as exc:  # a bug: keep the app and the conversation intact
            log.exception("Chat reply failed")
            error = OllamaError(f"{type(exc).__name__}: {exc}")
            self.outcome = "error"
        text = self.partial
        if self.outcome == "ok" and sources and text:
            from botifython_tui.core.memory.grounding import cited_sources, format_sources

            cited = cited_sources(text, sources)
            footer = "\n\n*" + format_sources(cited) + "*"
            text += footer
            yield SourcesCited(cited, footer)
        if self.outcome == "stopped" and text:
            text += STOPPED_MARK
        elif error is not None and text:
            text += INTERRUPTED_MARK
        message_id = self._save("assistant", text) if text else None
        if error is None:
            stats = stats_line(self.model, done, len(text)) if self.outcome == "ok" else ""
            yield ReplySaved(text, message_id, self.outcome, stats)
        else:
            yield ReplyFailed(str(error), isinstance(error, OllamaUnreachable), text, message_id)
        if self.outcome == "ok" and job.kind == ANSWER and text:
            await self._remember(job.text, text)
        yield TurnEnded(job, self.outcome)

    async def _converse(self, chain: ActionChain) -> AsyncIterator[ChatEvent]:
        """Rounds of a streamed reply and the actions it asks for, until it asks for none.

        Over the chain's limit requests are refused (the model is told), so this always ends.
        """
        self._done = None
        turn: list[dict] = []  # this turn's tool calls and results, sent back to the model
        ctx = self.action_context()
        async with OllamaClient(self.host.host, **self.host.client_options) as client:
            self.model = self.host.model or await choose_model(client, self.host.store.kv)
            yield ModelChosen(self.model)
            for _round in range(chain.limit + 2):
                calls: list[dict] = []
                self.partial = ""
                async for event in self._stream(client, turn, ctx):
                    if isinstance(event, ToolCallsReceived):
                        calls.extend(event.calls)
                    else:
                        yield event
                if self.narration:
                    if calls or parse_actions(self.partial, origin=NARRATION).actions:
                        log.info("Actions in a narration reply were ignored")
                    return
                parsed = (
                    from_tool_calls(calls, origin=chain.origin)
                    if calls
                    else parse_actions(self.partial, origin=chain.origin)
                )
                if not parsed.actions:
                    return
                # This reply ends here: it is saved as one message before its actions run.
                text, self.partial = self.partial, ""
                message_id = self._save("assistant", text) if text else None
                yield ReplySaved(text, message_id, "ok")
                if calls:
                    turn.append(
                        {
                            "role": "assistant",
                            "content": text,
                            "tool_calls": [
                                {"function": {"name": c["name"], "arguments": c["arguments"]}}
                                for c in calls
                            ],
                        }
                    )
                elif text:
                    turn.append({"role": "assistant", "content": text})
                async for event in self._run_actions(parsed.actions, bool(calls), chain, turn, ctx):
                    yield event

    async def _stream(
        self, client: OllamaClient, turn: list[dict], ctx: ActionContext
    ) -> AsyncIterator[Any]:
        """One streamed reply: `ReplyStarted` and tokens; tool calls passed on as they come."""
        tools = not self.narration and self._tools_supported()
        while True:
            messages = self._messages(tools, ctx) + turn
            schema = tools_schema(available_actions(ctx)) if tools else None
            yield StatusChanged(f"{self.model} is answering… (Esc stops)")
            started = False
            last_yield = time.perf_counter()
            try:
                async for event in client.chat(str(self.model), messages, tools=schema):
                    if isinstance(event, OllamaToken):
                        if not started:
                            started = True
                            yield ReplyStarted()
                        self._parts.append(event.text)
                        yield TokenReceived(event.text)
                    elif isinstance(event, ToolCallsReceived):
                        yield event
                    elif isinstance(event, ReplyDone):
                        self._done = event
                    # A fast stream never makes the socket wait, so give the event loop a turn
                    # now and then: keys and redraws must not queue behind the tokens.
                    now = time.perf_counter()
                    if now - last_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        last_yield = time.perf_counter()
                return
            except OllamaReplyError as exc:
                if tools and "does not support tools" in str(exc) and not self._parts:
                    self.host.store.kv[f"{TOOLS_KEY}.{self.model}"] = False  # JSON form from now on
                    tools = False
                    continue
                raise

    def _messages(self, tools: bool, ctx: ActionContext) -> list[dict]:
        budget = self._context_budget()
        prompt = system_prompt(self.context())
        if self._grounding:
            prompt += "\n\n" + self._grounding + "\n\nCite the sources you use as [1], [2] …"
        if self.narration:
            prompt += "\n\n" + NARRATION_RULE
        elif not tools:
            prompt += "\n\n" + prompt_description(available_actions(ctx))
        return fit_history(prompt, self._history(), budget)

    def _context_budget(self) -> int:
        """`chat.context_tokens`: BOTIFYTHON_CONTEXT_TOKENS, else stored, else the default."""
        try:
            return int(self.host.settings.setting(CONTEXT_KEY, self.host.store.kv).value)
        except Exception:  # an unusable BOTIFYTHON_CONTEXT_TOKENS: `config list` names it
            return DEFAULT_CONTEXT_TOKENS

    def _tools_supported(self) -> bool:
        return bool(self.host.store.kv.get(f"{TOOLS_KEY}.{self.model}", True))

    def context(self) -> AppContext:
        if self.host.context is not None:
            return self.host.context(self.profile_id)
        return default_context(self.host.store, self.profile_id, "command line")

    # --- actions ------------------------------------------------------------------------------
    def action_context(self) -> ActionContext:
        return ActionContext(
            store=self.host.store,
            profile_id=self.profile_id,
            settings=self.host.settings,
            botify_client_factory=self._botify_client,
            start_export=self.host.start_export,
            export_status=self.host.export_status,
            search_documents=self._search_documents if self._memory() is not None else None,
        )

    def _botify_client(self):
        from botifython_tui.core.botify import BotifyClient
        from botifython_tui.core.secrets import TokenStore

        token = TokenStore(self.host.settings.data_dir).load()
        if not token:
            raise ActionRefused("Not connected to Botify: the user must paste a token first.")
        return BotifyClient(token, self.host.settings.botify_api_url)

    async def _search_documents(self, query: str, limit: int) -> list[dict]:
        """The same search the grounding uses, as passages with their sources."""
        from botifython_tui.core.memory.grounding import source_label

        memory = self._memory()
        if memory is None:
            raise ActionRefused("The document memory is not installed here.")
        hits = await memory.asearch(query, self.profile_id, k=limit)
        return [
            {
                "source": source_label(hit.kind, hit.source, hit.title),
                "score": round(hit.score, 3),
                "text": hit.text[:1200],
            }
            for hit in hits
        ]

    def _preview(
        self, request: Any, ctx: ActionContext, chain: ActionChain, index: int, total: int
    ) -> ActionProposed:
        """What a request would do, in plain words, before anything of the reply runs."""
        checked = validate(request.name, request.args)
        if isinstance(checked, Refusal):
            name = single_line(str(request.name))[:64]
            return ActionProposed(index, total, name, name, {}, False, checked.message)
        action, args = checked
        problem = precheck(action, args, ctx)
        return ActionProposed(
            index,
            total,
            action.name,
            describe(action, args, ctx),
            args,
            problem is None
            and needs_approval(
                action,
                args,
                auto_approve_additive=auto_approve_additive(ctx.store),
                origin=chain.origin_for(request.origin),
            ),
            problem.message if problem else None,
        )

    async def _run_actions(
        self, requests: list, tools: bool, chain: ActionChain, turn: list[dict], ctx: ActionContext
    ) -> AsyncIterator[ChatEvent]:
        """Show every request, then dispatch each; results go to the model and the history."""
        proposals = [
            self._preview(r, ctx, chain, i + 1, len(requests)) for i, r in enumerate(requests)
        ]
        for proposal in proposals:
            yield proposal
        approve_all = False
        current = 0

        async def approver(action: Any, args: dict, description: str) -> bool:
            nonlocal approve_all
            if approve_all:
                return True
            assert self.host.approve is not None
            proposal = proposals[current]
            if proposal.description != description:  # the state changed since it was shown
                proposal = ActionProposed(
                    proposal.index, proposal.total, action.name, description, args, True
                )
            waiting = sum(1 for p in proposals[current + 1 :] if p.needs_approval)
            answer = await self.host.approve(
                ApprovalRequest(proposal, waiting, bool(action.spends_credits))
            )
            if answer is Approval.ALL:
                approve_all = True
            return answer in (Approval.YES, Approval.ALL)

        for current, request in enumerate(requests):  # `approver` reads `current`
            yield StatusChanged(f"Action requested: {proposals[current].name}")
            outcome = await dispatch(
                request,
                ctx,
                chain,
                approve=approver if self.host.approve is not None else None,
                auto_approve_additive=auto_approve_additive(ctx.store),
            )
            turn.append(outcome.message_for_model(tools=tools))
            note = f"Assistant action {outcome.status}: {outcome.description or outcome.name}"
            if not outcome.ran or not outcome.result.ok:
                note += f" ({outcome.result.message})"
            yield ActionDone(
                outcome.name,
                outcome.status,
                outcome.description or outcome.name,
                note,
                self._save(EVENT_ROLE, note),
                outcome.result.message,
                outcome.result.profile_id,
            )

    # --- memory: grounding and feeding ------------------------------------------------------
    def _memory(self) -> Any:
        if self.host.memory is None:
            return None
        try:
            return self.host.memory()
        except ImportError:  # the memory stack is not installed: chat without it
            return None

    async def _inventory(self) -> str | None:
        """'Which documents do you know about?' is answered from the store, not by the model."""
        memory = self._memory()
        if memory is None:
            return None
        from botifython_tui.core.memory.grounding import inventory_answer, is_inventory_question

        if not is_inventory_question(self.job.text):
            return None
        documents = await asyncio.to_thread(memory.documents, self.profile_id)
        return inventory_answer(documents)

    async def _ground(self) -> AsyncIterator[ChatEvent]:
        """The relevant chunks of this profile's memory, numbered, within a budget."""
        self._grounding, self._sources = "", []
        memory = self._memory()
        if memory is None or not await asyncio.to_thread(memory.has_chunks, self.profile_id):
            return
        from botifython_tui.core.memory.grounding import build_context

        yield StatusChanged(
            "Searching your documents…"
            if memory.model_loaded
            else "Loading the embedding model (first search only)…"
        )
        try:
            hits = await memory.asearch(self.job.text, self.profile_id, k=6)
        except Exception as exc:  # a broken memory must not stop the chat
            log.warning("Document search failed: %s", exc)
            return
        self._grounding, self._sources = build_context(
            relevant_hits(hits, self.conversation_id), GROUNDING_TOKENS
        )
        if self._sources:
            yield SourcesFound(list(self._sources))

    async def _remember(self, question: str, answer: str) -> None:
        """Each exchange joins the memory (the setting `memory.remember_chats`)."""
        from botifython_tui.core.memory.feeds import remembers_chats

        memory = self._memory()
        if memory is None or not self.host.save or not remembers_chats(self.host.store.kv):
            return
        profile_id, conversation_id = self.profile_id, self.conversation_id
        title = self.conversations.get(conversation_id).title

        def remember() -> None:
            memory.remember_exchange(profile_id, conversation_id, title, question, answer)

        if self.host.background is not None:
            self.host.background(remember)
            return
        try:
            await asyncio.to_thread(remember)
        except Exception as exc:  # remembering is a bonus; the reply is saved
            log.warning("Could not remember the exchange: %s", exc)

"""One turn of the assistant: the question (or the app events) in, one or more replies out.

A turn saves what it is about (the question, or the note of app events), grounds a question in
the relevant passages of the memory, streams the model's reply, runs the actions the reply asks for
(validated, approved through the injected approver, at most `MAX_ACTIONS_PER_MESSAGE`, audited),
lets the model go on with their results, saves every reply as its own message and feeds the
exchange to the memory. It yields the typed events of `core.chat.events` and knows no widget:
the TUI, the CLI and the tests run the same turn.

A narration turn (a comment on app events) is requested without tools and without the action
prompt, and any action its reply asks for is ignored: narration only comments.

The user's words are the reference for what should happen (`core.chat.intent`): a plain command
the reply misses, gets wrong or only claims is proposed by the app (through the same approval);
the user's values win over the model's; other changes are marked "not requested"; an export keeps
`export.max_edges` unless the user named a number; the same call again after its result ends the
turn; a reply claiming an action no call performed is marked "nothing was done" (`AppNotice`).

The memory's part is `core.chat.turn_memory`, the reading of the user's words `core.chat.intent`.
What stays here (~590 lines) is one piece: the rounds of a reply, the shaping of its requests, the
previews, approval and dispatch all read and update the same turn state (the reply so far, the
calls performed, the user's pending requests, the notices after the reply), in one order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from botifython_tui.core.actions import (
    MAX_ACTIONS_PER_MESSAGE,
    REGISTRY,
    ActionChain,
    ActionContext,
    ActionRefused,
    Refusal,
    auto_approve_additive,
    available_actions,
    check_request,
    describe,
    dispatch,
    needs_approval,
    precheck,
    prompt_description,
    resolve_name,
    tools_schema,
)
from botifython_tui.core.actions.parser import (
    ORIGIN_USER,
    ParsedAction,
    from_tool_calls,
    parse_actions,
)
from botifython_tui.core.chat.events import (
    ANSWER,
    CLAIMED,
    IGNORED,
    NARRATION,
    REPEATED,
    ActionDone,
    ActionProposed,
    AppNotice,
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
    StatusChanged,
    TokenReceived,
    TurnEnded,
    TurnStarted,
)
from botifython_tui.core.chat.host import ChatHost, default_context, stats_line
from botifython_tui.core.chat.intent import (
    NEW_TODO,
    UserRequests,
    claims_action,
    edge_budget_named,
    forbids_actions,
)
from botifython_tui.core.chat.reply_text import ReplyText
from botifython_tui.core.chat.turn_memory import TurnMemory
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
from botifython_tui.core.settings import CONTEXT_TOKENS, MODEL_TOOLS
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

log = get_logger("chat")

MAX_MESSAGE_CHARS = 100_000
YIELD_EVERY = 0.005  # seconds of token handling before the event loop gets a turn
NOT_REQUESTED = "not requested"  # origin of a change the user's words did not ask for
NOT_REQUESTED_PREFIX = "Not requested: "
STOPPED_MARK = "\n\n*(stopped)*"
INTERRUPTED_MARK = "\n\n*(interrupted)*"
NARRATION_RULE = (
    "You are commenting on what the user just did in the app: comment in one or two short "
    "sentences, or say nothing useful is to add. Never request an action here."
)


class ChatTurn:
    """Runs one `Job` in one conversation; iterate `run()` for its events."""

    def __init__(self, host: ChatHost, job: Job, *, profile_id: int, conversation_id: int) -> None:
        self.host = host
        self.job = job
        self.profile_id = profile_id
        self.conversation_id = conversation_id
        self.conversations = host.store.conversations(profile_id)
        self._reply = ReplyText()  # the reply so far (tokens come by the 1000)
        self.model: str | None = None
        self.outcome = "ok"
        self._unsaved: list[tuple[str, str]] = []  # this turn's messages when not saving
        self.memory = TurnMemory(host, profile_id, conversation_id)
        self._done: ReplyDone | None = None
        answer = job.kind == ANSWER
        self._user_text: str | None = job.text if answer else None
        self._requests = UserRequests(job.text if answer else None)
        self._forbidden = answer and forbids_actions(job.text)
        self._performed: list[str] = []  # the calls dispatched in this turn
        self._last_todo_id: int | None = None
        self._after_reply: list[tuple[str, str]] = []  # notices shown after the reply
        self._system_sent = ""

    @property
    def partial(self) -> str:
        """The reply in progress."""
        return self._reply.text

    @partial.setter
    def partial(self, value: str) -> None:
        self._reply = ReplyText(value)

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
            inventory = await self.memory.inventory(job.text) if job.kind == ANSWER else None
            if inventory is not None:
                self.partial = inventory
                yield ReplyStarted()
                yield TokenReceived(inventory)
            else:
                if job.kind == ANSWER:
                    async for event in self.memory.ground(job.text):
                        yield event
                    sources = self.memory.sources
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
        if self.outcome == "ok":
            for kind, note in self._after_reply:
                yield self._notice(kind, note)
        if self.outcome == "ok" and job.kind == ANSWER and text:
            await self.memory.remember(job.text, text)
        yield TurnEnded(job, self.outcome)

    async def _converse(self, chain: ActionChain) -> AsyncIterator[ChatEvent]:
        """Rounds of a streamed reply and the actions it asks for, until it asks for none.

        Over the chain's limit requests are refused (the model is told), so this always ends.
        The same call again after its result ends the turn; what the user's words asked for and
        the reply did not is proposed by the app; a reply claiming an action that no call
        performed is marked "nothing was done".
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
                actions = self._shape(parsed.actions, bool(calls), turn)
                if actions and self._forbidden:
                    log.info("Actions asked for although the user said not to were ignored")
                    self._after_reply.append(
                        (
                            IGNORED,
                            "Nothing was done: the assistant asked for actions although "
                            "you said not to.",
                        )
                    )
                    actions = []
                repeated = [a for a in actions if self._key(a) in self._performed]
                if repeated:
                    text, self.partial = self.partial, ""
                    message_id = self._save("assistant", text) if text else None
                    yield ReplySaved(text, message_id, "ok")
                    yield self._notice(REPEATED, self._summary(repeated[0].name))
                    async for event in self._propose_requested(chain, turn, ctx):
                        yield event  # what the user asked for and the repeats left out
                    return
                if not actions:
                    if self._requests.pending:
                        async for event in self._propose_requested(chain, turn, ctx):
                            yield event
                    elif not self._performed and claims_action(self.partial):
                        self._after_reply.append(
                            (
                                CLAIMED,
                                "Nothing was done: the reply says an action happened, "
                                "but no action ran.",
                            )
                        )
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
                async for event in self._run_actions(actions, bool(calls), chain, turn, ctx):
                    yield event

    # --- the user's words as the reference ------------------------------------------------------
    def _notice(self, kind: str, text: str) -> AppNotice:
        return AppNotice(kind, text, self._save(EVENT_ROLE, text))

    def _summary(self, name: str) -> str:
        done = len(self._performed)
        return (
            f"Stopped: the assistant asked again for {single_line(name)[:64]}, which already ran "
            f"in this turn; it was not run twice ({done} action(s) handled in this turn)."
        )

    @staticmethod
    def _key(request: ParsedAction) -> str:
        checked = check_request(request.name, request.args)
        if isinstance(checked, Refusal):
            return f"{request.name} {request.args!r}"
        shown = json.dumps(checked.args, sort_keys=True, default=str, ensure_ascii=False)
        return f"{checked.action.name} {shown.casefold()}"

    def _app_words(self, turn: list[dict]) -> str:
        """What the app wrote in this request: the prompt, the tool results and hints, notes."""
        parts = [self._system_sent]
        parts += [str(m.get("content", "")) for m in turn if m.get("role") in ("tool", "user")]
        parts += [content for role, content in self._history() if role == EVENT_ROLE]
        return "\n".join(parts)

    def _shape(self, found: list[ParsedAction], from_calls: bool, turn: list[dict]) -> list:
        """The reply's requests as the app will propose them: echoes of the app's own words
        dropped, the user's values preferred, the edge budget kept, other changes marked."""
        if self.narration or self.job.kind != ANSWER:
            return list(found)
        app_words = self._app_words(turn) if not from_calls else ""
        shaped: list[ParsedAction] = []
        for request in found[: MAX_ACTIONS_PER_MESSAGE * 4]:
            if not from_calls and request.raw.strip() and request.raw.strip() in app_words:
                log.info("A request copied from the app's own words was ignored")
                continue
            name = resolve_name(request.name)
            args = request.args
            if isinstance(args, dict):
                args = dict(args)
                if name == "start_linkgraph_export":
                    for key in ("max_edges", "edges", "limit", "max", "edge_limit"):
                        args.pop(key, None)
                    named = edge_budget_named(self.job.text)
                    if named is not None:
                        args["max_edges"] = named
                match = self._requests.take(name, args)
                if match is not None:
                    args = {**args, **match}
            origin = request.origin
            action = REGISTRY.get(name) if isinstance(name, str) else None
            if (
                self._requests.requested
                and action is not None
                and not action.read_only
                and not self._requests.matched(name)
            ):
                origin = NOT_REQUESTED
            shaped.append(ParsedAction(name, args, request.raw, origin, request.call_id))
        return shaped

    async def _propose_requested(
        self, chain: ActionChain, turn: list[dict], ctx: ActionContext
    ) -> AsyncIterator[ChatEvent]:
        """What the user's words asked for and the reply did not: the app proposes it, in order."""
        text, self.partial = self.partial, ""
        if text:
            message_id = self._save("assistant", text)
            yield ReplySaved(text, message_id, "ok")
            if not self._performed and claims_action(text):
                yield self._notice(
                    CLAIMED,
                    "Nothing was done: the reply says an action happened, but no "
                    "action ran. The app proposes what you asked for instead.",
                )
        while self._requests.pending:
            name, args = self._requests.pending.pop(0)
            if args.get("todo_id") == NEW_TODO:
                if self._last_todo_id is None:
                    continue  # the todo was not added: nothing to mark
                args = {**args, "todo_id": self._last_todo_id}
            request = ParsedAction(name, args, "", ORIGIN_USER)
            if self._key(request) in self._performed:
                continue
            async for event in self._run_actions([request], True, chain, turn, ctx):
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
                        self._reply.append(event.text)
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
                if tools and "does not support tools" in str(exc) and not self._reply:
                    self.host.store.kv[f"{MODEL_TOOLS}.{self.model}"] = (
                        False  # JSON form from now on
                    )
                    tools = False
                    continue
                raise

    def _messages(self, tools: bool, ctx: ActionContext) -> list[dict]:
        budget = self._context_budget()
        prompt = system_prompt(self.context())
        self._system_sent = prompt
        if self.memory.grounding:
            prompt += "\n\n" + self.memory.grounding + "\n\nCite the sources you use as [1], [2] …"
        if self.narration:
            prompt += "\n\n" + NARRATION_RULE
        elif not tools:
            prompt += "\n\n" + prompt_description(available_actions(ctx))
        self._system_sent = prompt
        return fit_history(prompt, self._history(), budget)

    def _context_budget(self) -> int:
        """`chat.context_tokens`: BOTIFYTHON_CONTEXT_TOKENS, else stored, else the default."""
        try:
            return int(self.host.settings.setting(CONTEXT_TOKENS, self.host.store.kv).value)
        except Exception:  # an unusable BOTIFYTHON_CONTEXT_TOKENS: `config list` names it
            return DEFAULT_CONTEXT_TOKENS

    def _tools_supported(self) -> bool:
        return bool(self.host.store.kv.get(f"{MODEL_TOOLS}.{self.model}", True))

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
            search_documents=(self.memory.search_documents if self.memory.available() else None),
        )

    def _botify_client(self):
        from botifython_tui.core.botify import BotifyClient
        from botifython_tui.core.secrets import TokenStore

        token = TokenStore(self.host.settings.data_dir).load()
        if not token:
            raise ActionRefused("Not connected to Botify: the user must paste a token first.")
        return BotifyClient(token, self.host.settings.botify_api_url)

    def _preview(
        self, request: Any, ctx: ActionContext, chain: ActionChain, index: int, total: int
    ) -> ActionProposed:
        """What a request would do, in plain words, before anything of the reply runs."""
        checked = check_request(request.name, request.args, user_text=self._user_text)
        if not isinstance(checked, Refusal):
            checked = (checked.action, checked.args)
        if isinstance(checked, Refusal):
            name = single_line(str(request.name))[:64]
            return ActionProposed(index, total, name, name, {}, False, checked.message)
        action, args = checked
        problem = precheck(action, args, ctx)
        return ActionProposed(
            index,
            total,
            action.name,
            self._description(action, args, ctx, request),
            args,
            problem is None
            and needs_approval(
                action,
                args,
                auto_approve_additive=auto_approve_additive(ctx.store),
                origin=chain.origin_for(request.origin),
            ),
            problem.message if problem else None,
            request.origin == NOT_REQUESTED,
        )

    def _description(self, action: Any, args: dict, ctx: ActionContext, request: Any) -> str:
        text = describe(action, args, ctx)
        checked = check_request(request.name, request.args, user_text=self._user_text)
        if not isinstance(checked, Refusal) and checked.note():
            text += " " + checked.note()
        if request.origin == NOT_REQUESTED:
            text = NOT_REQUESTED_PREFIX + text
        return text

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
            shown = NOT_REQUESTED_PREFIX + description if proposal.not_requested else description
            if proposal.description != shown:  # the state changed since it was shown
                proposal = dataclasses.replace(
                    proposal, name=action.name, description=shown, args=args, needs_approval=True
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
                user_text=self._user_text,
            )
            self._performed.append(self._key(request))
            if outcome.name == "add_todo" and outcome.ran and isinstance(outcome.result.data, dict):
                self._last_todo_id = outcome.result.data.get("id")
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

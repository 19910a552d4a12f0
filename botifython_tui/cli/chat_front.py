"""`botifython chat` as a front end of the core chat turn: the answer on stdout, sources after it,
approvals asked on the terminal (changes refused without one).

Imported only when the command runs: the turn, the actions and the Ollama client stay out of every
other command's start-up (and the terminal UI's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from botifython_tui.cli.output import CommandError, fail
from botifython_tui.config import Settings
from botifython_tui.core.chat.events import (
    ANSWER,
    ActionDone,
    ActionProposed,
    AppNotice,
    Approval,
    ApprovalRequest,
    Job,
    ReplyFailed,
    ReplySaved,
    SourcesCited,
    TokenReceived,
    TurnEnded,
)
from botifython_tui.core.chat.host import ChatHost
from botifython_tui.core.chat.turn import MAX_MESSAGE_CHARS, ChatTurn
from botifython_tui.core.ollama import OllamaError, ollama_host
from botifython_tui.core.store import Store
from botifython_tui.core.text import neutralize_controls, single_line

BAD_INPUT_EXIT = 2
NEEDS_APPROVAL_EXIT = 3


def run_chat(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    question = args.question.strip()
    if not question:
        raise CommandError("The question is empty.")
    if len(question) > MAX_MESSAGE_CHARS:
        raise CommandError(
            f"The question has {len(question):,} characters; the limit is {MAX_MESSAGE_CHARS:,}. "
            "Add long text as a document (botifython docs add) instead."
        )
    try:
        ollama_host(settings, store)  # a host that cannot be right is bad input, checked first
    except OllamaError as exc:
        return fail(str(exc), code=BAD_INPUT_EXIT)
    profile = store.profiles.find(args.profile) if args.profile else store.profiles.current()
    front = CliChat(args, settings, store, interactive=sys.stdin.isatty())
    return asyncio.run(front.ask(profile.id, question))


class CliChat:
    """Renders the turn's events as plain text: the answer on stdout, the rest on stderr."""

    def __init__(
        self,
        args: argparse.Namespace,
        settings: Settings,
        store: Store,
        *,
        interactive: bool,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.args = args
        self.settings = settings
        self.store = store
        self.interactive = interactive
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.refused: list[str] = []  # changes that needed an approval nobody could give
        self._line_open = False  # the answer's last line has no newline yet

    def host(self) -> ChatHost:
        if self.args.yes:
            approve: Any = self._approve_all
        elif self.interactive:
            approve = self._prompt
        else:
            approve = None  # nobody to ask: changes are refused, reads run
        return ChatHost(
            store=self.store,
            settings=self.settings,
            approve=approve,
            memory=self._memory,
            model=self.args.model,
            save=not self.args.no_save,
        )

    def _memory(self) -> Any:
        from botifython_tui.core.memory import Memory

        return Memory(self.store, self.settings.data_dir)

    async def ask(self, profile_id: int, question: str) -> int:
        conversation = self.store.conversations(profile_id).latest()
        job = Job(ANSWER, 1, question, profile_id, conversation.id)
        turn = ChatTurn(self.host(), job, profile_id=profile_id, conversation_id=conversation.id)
        failure: ReplyFailed | None = None
        saved: ReplySaved | None = None
        async for event in turn.run():
            if isinstance(event, TokenReceived):
                self._write(event.text)
            elif isinstance(event, SourcesCited):
                self._end_line()
                self._say("\nSources:")
                for source in event.sources:
                    self._say(f"  [{source.number}] {single_line(source.label)}")
            elif isinstance(event, ActionProposed):
                self._end_line()
                self._note(_proposal(event))
            elif isinstance(event, ActionDone):
                self._action_done(event)
            elif isinstance(event, AppNotice):  # "nothing was done", a repeated call stopped
                self._end_line()
                self._note(event.text)
            elif isinstance(event, ReplySaved):
                self._end_line()
                saved = event
            elif isinstance(event, ReplyFailed):
                self._end_line()
                failure = event
            elif isinstance(event, TurnEnded) and event.outcome == "stopped":
                raise KeyboardInterrupt  # Ctrl+C stopped the turn: what arrived is saved, marked
        if failure is not None:
            raise CommandError(failure.error)
        if saved is not None and saved.stats and self.err.isatty():
            self._note(f"({saved.stats})")
        if self.refused:
            return fail(
                "Not run: "
                + "; ".join(self.refused)
                + ". Changes need your approval: run the same command in a terminal to answer "
                "y/N, or add --yes to approve them.",
                code=NEEDS_APPROVAL_EXIT,
            )
        return 0

    # --- approval -------------------------------------------------------------------------------
    async def _approve_all(self, request: ApprovalRequest) -> Approval:
        self._note(f"Approved (--yes): {request.proposal.description}")
        return Approval.YES

    async def _prompt(self, request: ApprovalRequest) -> Approval:
        """Ask on the terminal: y approves, a approves this and the others waiting, else no."""
        proposal = request.proposal
        verb = "spends Botify credits and " if request.spends_credits else ""
        choices = "[y/N]"
        if request.others_waiting:
            choices = f"[y/N, a = approve all {request.others_waiting + 1}]"
        self._end_line()
        self.err.write(
            f"The assistant asks to: {proposal.description} (this {verb}changes your data). "
            f"Approve? {choices} "
        )
        self.err.flush()
        line = await _read_line(sys.stdin)
        answer = line.strip().lower()
        if answer in ("a", "all") and request.others_waiting:
            return Approval.ALL
        return Approval.YES if answer in ("y", "yes") else Approval.NO

    # --- output ---------------------------------------------------------------------------------
    def _action_done(self, event: ActionDone) -> None:
        self._end_line()
        if event.status == "rejected" and not self.interactive and not self.args.yes:
            self.refused.append(event.description)
            self._note(f"Not run (needs your approval): {event.description}")
        elif event.status == "done":
            self._note(f"Done: {event.description}")
        else:
            self._note(f"{event.status.capitalize()}: {event.description} ({event.result})")

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(neutralize_controls(text))
        self.out.flush()
        self._line_open = not text.endswith("\n")

    def _end_line(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _note(self, text: str) -> None:
        self.err.write(single_line(text) + "\n")
        self.err.flush()


async def _read_line(stream: TextIO) -> str:
    """One line from the terminal, read when it is there (Ctrl+C is not stuck behind a thread)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def ready() -> None:
        if not line.done():
            line.set_result(stream.readline())

    try:
        loop.add_reader(stream.fileno(), ready)
    except (NotImplementedError, ValueError, OSError):  # no selector for it: read in a thread
        return await asyncio.to_thread(stream.readline)
    try:
        return await line
    finally:
        loop.remove_reader(stream.fileno())


def _proposal(event: ActionProposed) -> str:
    where = f" ({event.index}/{event.total})" if event.total > 1 else ""
    if event.problem:
        return f"The assistant proposes{where}: {event.description} — refused: {event.problem}"
    return f"The assistant proposes{where}: {event.description}"

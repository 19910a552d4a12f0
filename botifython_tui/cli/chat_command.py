"""`botifython chat "question"`: one question to the local model, the answer streamed to stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys

from botifython_tui.cli.output import CommandError
from botifython_tui.config import ConfigError, Settings
from botifython_tui.core.conversation import (
    AppContext,
    fit_history,
    system_prompt,
)
from botifython_tui.core.ollama import (
    OllamaClient,
    OllamaError,
    ReplyDone,
    TokenReceived,
    choose_model,
    ollama_host,
)
from botifython_tui.core.selection import load_selection
from botifython_tui.core.settings import CONTEXT_TOKENS
from botifython_tui.core.store import Store
from botifython_tui.core.text import neutralize_controls

CONTEXT_KEY = CONTEXT_TOKENS


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="ask the local model (Ollama) one question; the answer streams to stdout",
    )
    chat.add_argument("question", help='the question, e.g. "what is a link graph?"')
    chat.add_argument("--model", help="Ollama model to use (default: the one chosen in the app)")
    chat.add_argument(
        "--no-save", action="store_true", help="do not add the exchange to the chat history"
    )
    chat.add_argument("--profile", metavar="NAME", help="profile whose history to use")
    chat.set_defaults(handler=run_chat)


def run_chat(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    question = args.question.strip()
    if not question:
        raise CommandError("The question is empty.")
    profile = store.profiles.find(args.profile) if args.profile else store.profiles.current()
    try:
        host = ollama_host(settings, store)  # a host saved in the app is checked here
        budget = int(settings.setting(CONTEXT_KEY, store.kv).value)
    except ConfigError as exc:
        raise CommandError(str(exc), exit_code=exc.exit_code) from None
    except OllamaError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    try:
        return asyncio.run(_chat(args, store, profile, host, question, budget))
    except OllamaError as exc:
        raise CommandError(str(exc)) from exc


async def _chat(args, store: Store, profile, host: str, question: str, budget: int) -> int:
    conversations = store.conversations(profile.id)
    conversation = conversations.latest()
    history = [(m.role, m.content) for m in conversations.messages(conversation.id)]
    history.append(("user", question))
    selection = load_selection(store, profile.id)
    context = AppContext(
        profile=profile.name,
        screen="command line",
        project=selection.project_label if selection else None,
        analysis=selection.analysis if selection else None,
    )
    messages = fit_history(system_prompt(context), history, budget)
    out = sys.stdout
    answer: list[str] = []
    done: ReplyDone | None = None
    async with OllamaClient(host) as client:
        model = args.model or await choose_model(client, store.kv)
        try:
            async for event in client.chat(str(model), messages):
                if isinstance(event, TokenReceived):
                    answer.append(event.text)
                    out.write(neutralize_controls(event.text))
                    out.flush()
                elif isinstance(event, ReplyDone):
                    done = event
        finally:
            if answer and not "".join(answer).endswith("\n"):
                out.write("\n")
                out.flush()
        if not args.no_save and answer:
            conversations.add_message(conversation.id, "user", question)
            conversations.add_message(conversation.id, "assistant", "".join(answer))
    if done is not None and sys.stderr.isatty() and done.eval_count:
        rate = f", {done.tokens_per_second:.1f} tok/s" if done.tokens_per_second else ""
        print(f"({done.eval_count} tokens{rate}, {model})", file=sys.stderr)
    return 0

"""`botifython chat "question"`: the assistant's turn in the terminal, the answer streamed to stdout.

The same core turn as the Chat screen: grounded in the profile's documents (numbered sources
after the answer), and able to run actions. On a terminal, an action that changes data asks
`y/N`; without one (a pipe, cron), read-only actions run and changes are refused with a note
saying how to run them (exit code 3), unless --yes approves them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botifython_tui.config import Settings
    from botifython_tui.core.store import Store


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="ask the local assistant (Ollama); the answer streams to stdout, with its sources",
        description="Ask the local assistant one question. It answers from your documents "
        "(numbered sources follow the answer) and may run actions: on a terminal, changes ask "
        "y/N; otherwise they are refused unless --yes is given.",
    )
    chat.add_argument("question", help='the question, e.g. "what is a link graph?"')
    chat.add_argument("--model", help="Ollama model to use (default: the one chosen in the app)")
    chat.add_argument(
        "--no-save", action="store_true", help="do not add the exchange to the chat history"
    )
    chat.add_argument("--profile", metavar="NAME", help="profile whose history to use")
    chat.add_argument(
        "--yes",
        action="store_true",
        help="approve every action the assistant asks for (default: ask on a terminal, "
        "refuse otherwise)",
    )
    chat.set_defaults(handler=run_chat)


def run_chat(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.cli.chat_front import run_chat as run

    return run(args, settings, store)

"""The command-line parser and its argument types: every value is checked once, before any command
runs, so a bad one is a usage error (exit 2) naming the argument, never a traceback later on."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import NoReturn

from botifython_tui.cli.output import printable, shorten
from botifython_tui.core.text import single_line

MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id cannot name a row
_SHOWN = 60
_WHOLE = re.compile(r"^[+-]?[0-9]{1,40}$")


def shown(value: str) -> str:
    """A value as the user typed it, safe to print: undecodable bytes as \\xNN, cut if long."""
    readable = printable(value)
    return "'" + (readable if len(readable) <= _SHOWN else readable[: _SHOWN - 1] + "…") + "'"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be used as text (stored, sent, compared), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return (
            f"{shown(value)} is not valid UTF-8 (it has an undecodable byte); check the "
            "terminal's encoding (locale), or rename the file"
        )
    return None


def text(value: str) -> str:
    """An argument type for any text: valid UTF-8, no NUL."""
    problem = text_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def whole_number(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argument type for a whole number in [low, high] (`1_000` and `1,000` are accepted)."""

    def parse(value: str) -> int:
        text(value)
        digits = value.strip().replace("_", "").replace(",", "")
        number = int(digits) if _WHOLE.match(digits) else None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(
                f"{shown(value)} is not {what}: expected a whole number from {low:,} to {high:,}"
            )
        return number

    parse.__name__ = what
    return parse


def record_id(what: str) -> Callable[[str], int]:
    """An argument type for the id of a stored record (a todo, a profile): 1 to 2**63 - 1."""
    return whole_number(1, MAX_ID, f"a {what} id")


class Parser(argparse.ArgumentParser):
    """argparse, with errors in the app's one format: `botifython: error: …`, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(
            2,
            f"botifython: error: {shorten(single_line(printable(message)))} (see {self.prog} --help)\n",
        )


def _chosen(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[argparse.ArgumentParser]:
    """The parser of the command that was given, and the parsers above it."""
    chain = [parser]
    while True:
        subparsers = [a for a in chain[-1]._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subparsers[0].dest, None) if subparsers else None
        if not isinstance(name, str) or name not in subparsers[0].choices:
            return chain
        chain.append(subparsers[0].choices[name])


def _label(chain: list[argparse.ArgumentParser], dest: str) -> str:
    """How an argument is named on the command line (`--data-dir`, `title`), for messages."""
    for parser in reversed(chain):
        for action in parser._actions:
            if action.dest != dest:
                continue
            if action.option_strings:
                return max(action.option_strings, key=len)
            return action.metavar if isinstance(action.metavar, str) else dest
    return dest


def check_text(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every text value of every command, checked in one place (exit 2 naming the argument)."""
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            problem = text_problem(item)
            if problem:
                chain = _chosen(parser, args)
                chain[-1].error(f"argument {_label(chain, dest)}: {problem}")

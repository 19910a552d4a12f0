"""Plain output for headless commands: safe text, JSON for scripts, clear errors, exit codes.

Standard output carries the result (text, or one JSON document with --json); progress, notes and
errors go to standard error, so `botifython … --json | jq` always parses.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botifython_tui.core.text import neutralize_controls, single_line

MAX_MESSAGE = 1500  # characters of one error line; a huge value quoted in it is cut in the middle

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NEEDS_CONFIRMATION = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    failure (the message on standard error says what failed and the fix)
  2    bad usage or input
  3    needs confirmation: nothing was done; run the command again with --yes
  130  interrupted (Ctrl+C); no partial file is left

scripting: list and summary commands take --json and print one JSON document on standard output;
progress and messages go to standard error."""


class CommandError(Exception):
    """A headless command failed; the message is for the user, `code` is the exit code
    (1 failure, 2 bad input, 3 needs confirmation)."""

    code = EXIT_FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.code = exit_code

    @property
    def exit_code(self) -> int:
        return self.code


class BadInput(CommandError):
    """The command's input is unusable (exit 2)."""

    code = EXIT_USAGE


class NeedsConfirmation(CommandError):
    """The command would cost money or delete data: nothing was done; re-run with --yes (exit 3)."""

    code = EXIT_NEEDS_CONFIRMATION


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]} … {text[-(limit - head - 3) :]}"


def printable(text: str) -> str:
    """Undecodable bytes (from file names) as \\xNN, so printing never fails on them."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def say(text: str) -> None:
    """Print a line for the user; outside text in it can never drive the terminal."""
    print(neutralize_controls(printable(text)), flush=True)


def note(text: str) -> None:
    """A message for the person, not the script: standard error, neutralised like `say`."""
    print(neutralize_controls(printable(text)), file=sys.stderr, flush=True)


def emit_json(data: Any) -> None:
    """One JSON document on standard output. ASCII-only, so no control character or escape
    sequence from outside text can reach the terminal unescaped."""
    sys.stdout.write(json.dumps(data, ensure_ascii=True, indent=2, default=str) + "\n")
    sys.stdout.flush()


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on standard output (messages go to standard error)",
    )


def fail(message: str, *, code: int = EXIT_FAILURE) -> int:
    line = shorten(single_line(printable(message)))
    print(f"botifython: error: {line}", file=sys.stderr, flush=True)
    return code

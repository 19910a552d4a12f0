"""Plain output for headless commands: safe text, clear errors, exit codes."""

from __future__ import annotations

import sys

from botifython_tui.core.text import neutralize_controls, single_line

MAX_MESSAGE = 1500  # characters of one error line; a huge value quoted in it is cut in the middle


class CommandError(Exception):
    """A headless command failed; the message is for the user, `exit_code` for the shell
    (1 failure, 2 bad input, 3 needs confirmation)."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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


def warn(text: str) -> None:
    """Print to stderr, neutralised like `say`."""
    print(neutralize_controls(printable(text)), file=sys.stderr, flush=True)


def fail(message: str, *, code: int = 1) -> int:
    line = shorten(single_line(printable(message)))
    print(f"botifython: error: {line}", file=sys.stderr, flush=True)
    return code

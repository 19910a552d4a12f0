"""Plain output for headless commands: safe text, clear errors, exit codes."""

from __future__ import annotations

import sys

from botifython_tui.core.text import neutralize_controls, single_line


class CommandError(Exception):
    """A headless command failed; the message is for the user."""


def say(text: str) -> None:
    """Print a line for the user; outside text in it can never drive the terminal."""
    print(neutralize_controls(text), flush=True)


def warn(text: str) -> None:
    """Print to stderr, neutralised like `say`."""
    print(neutralize_controls(text), file=sys.stderr, flush=True)


def fail(message: str, *, code: int = 1) -> int:
    print(f"botifython: error: {single_line(message)}", file=sys.stderr, flush=True)
    return code

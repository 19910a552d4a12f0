"""Make user, document and model text safe to show in a terminal."""

from __future__ import annotations

import re

# C0 controls (except tab and newline), DEL and C1 controls would let text move the cursor, change
# colours or retitle the terminal. They are shown as visible symbols instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ESC becomes ␛
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


def neutralize_controls(text: str) -> str:
    """Replace terminal control characters with visible stand-ins; printable text is unchanged."""
    return _CONTROL.sub(_picture, text)


def single_line(text: str) -> str:
    """Collapse line breaks and tabs to spaces, and neutralise control characters."""
    return neutralize_controls(re.sub(r"[\r\n\t]+", " ", text))

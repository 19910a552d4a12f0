"""Make text from outside the keyboard safe to show in a terminal, a log file or the clipboard.

Model names, replies, Botify messages, document text and file names may carry escape sequences
(OSC 52 writes the clipboard, OSC 0 retitles the terminal, CSI moves the cursor), raw C0/C1
controls, or Unicode bidi controls that reorder what the reader sees. `neutralize_controls` removes
whole escape sequences (their payload and terminator included), shows the remaining controls as
visible symbols and drops bidi overrides, isolates and marks. The result never contains ESC, a C1
control or a bidi control, and neutralising it again changes nothing.
"""

from __future__ import annotations

import re

# String sequences: OSC (ESC ] / 0x9d), DCS (ESC P / 0x90), SOS (ESC X / 0x98), PM (ESC ^ / 0x9e)
# and APC (ESC _ / 0x9f). Their payload runs to the string terminator (ESC \ or 0x9c) or BEL. An
# unterminated one ends where a terminal would give up on it (CAN, SUB, another ESC) or, so that a
# stray introducer cannot swallow a whole reply, at the end of the line.
_STRING_SEQUENCE = (
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"
    r"[^\x07\x1b\x9c\x18\x1a\n]*"
    r"(?:\x07|\x1b\\|\x9c|[\x18\x1a])?"
)
# CSI (ESC [ / 0x9b): parameter bytes, intermediate bytes, one final byte.
_CSI_SEQUENCE = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# Every other escape sequence: ESC, intermediate bytes, one final byte (ESC c, ESC 7, ESC ( B...).
_ESC_SEQUENCE = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCES = re.compile(f"{_STRING_SEQUENCE}|{_CSI_SEQUENCE}|{_ESC_SEQUENCE}")

# C0 controls (except tab and newline), DEL and C1 controls are shown as visible symbols.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the marks
# (U+200E, U+200F, U+061C) could make a name read differently from what it is: removed.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Lone surrogates (from JSON such as "\ud800") cannot be encoded for the terminal or the log.
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\r\n\t\v\f\x85\u2028\u2029]+")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": BEL becomes ␇
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


def neutralize_controls(text: str) -> str:
    """Strip escape sequences and bidi controls, show other controls as symbols; keeps newlines and tabs."""
    if not isinstance(text, str):
        text = str(text)
    text = _SEQUENCES.sub("", text)
    text = _BIDI.sub("", text)
    text = _SURROGATE.sub("\ufffd", text)
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return _CONTROL.sub(_picture, text)


def single_line(text: str) -> str:
    """Collapse line breaks and tabs to spaces, and neutralise control characters."""
    if not isinstance(text, str):
        text = str(text)
    return neutralize_controls(_LINE_BREAKS.sub(" ", _SEQUENCES.sub("", text)))

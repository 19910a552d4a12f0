"""Lenient JSON for what small models write: single and smart quotes, comments, trailing commas,
Python literals, bare keys and words, unescaped backslashes. String-aware; never `eval`."""

from __future__ import annotations

import json
import re
from typing import Any

FAILED = object()  # what `load_lenient` returns when even the repaired text is not JSON

# Repair: the same strings, plus comments, so fixes apply only to the text between strings.
_REPAIR = re.compile(
    r'"(?:[^"\\]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|“[^”]*”"
    r"|‘[^’\n]*’"
    r"|//[^\n]*"
    r"|/\*.*?\*/"
    r"|#[^\n]*"
    r"|[^\"'“‘/#]+"
    r"|.",
    re.DOTALL,
)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)")
_BARE_VALUE = re.compile(r"(:\s*)([A-Za-z_][A-Za-z0-9_.-]*)(\s*[,}\]])")
_PY_LITERALS = re.compile(r"\b(True|False|None)\b")
_PY_TO_JSON = {"True": "true", "False": "false", "None": "null"}
_LITERAL_BACKSLASH = re.compile(r'\\(?!")')
_BAD_ESCAPE = re.compile(r'\\(?!["\\/bfnrt]|u[0-9a-fA-F]{4})')
_SINGLE_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


def load_lenient(candidate: str) -> tuple[Any, str | None]:
    """JSON, else JSON after a string-aware repair; never `eval`."""
    try:
        return json.loads(candidate, strict=False), None
    except (ValueError, RecursionError) as exc:
        problem = _json_problem(exc)
    attempts = [_repair(candidate)]
    if '\\"' in candidate:  # JSON escaped as if inside a string: {\"action\": …}
        attempts.append(_repair(candidate.replace('\\"', '"')))
    for attempt in attempts:
        if attempt is None:
            continue
        try:
            return json.loads(attempt, strict=False), None
        except (ValueError, RecursionError):
            continue
    return FAILED, problem


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos + 1}"
    return type(exc).__name__


def _repair(candidate: str) -> str | None:
    """Single and smart quotes to JSON strings; outside strings: no comments, trailing commas or
    Python literals, and bare keys and words quoted."""
    parts: list[tuple[bool, str]] = []  # (is_string, text)
    for match in _REPAIR.finditer(candidate):
        token = match.group()
        first = token[0]
        if first == '"' and len(token) >= 2:
            if _BAD_ESCAPE.search(token):
                # Backslashes the model never escaped (C:\temp\x): every one is literal.
                token = '"' + _LITERAL_BACKSLASH.sub(r"\\\\", token[1:-1]) + '"'
            parts.append((True, token))
        elif first == "'" and len(token) >= 2:
            parts.append((True, json.dumps(_unescape_single(token[1:-1]), ensure_ascii=False)))
        elif first in "“‘" and len(token) >= 2:
            parts.append((True, json.dumps(token[1:-1], ensure_ascii=False)))
        elif token.startswith(("//", "/*", "#")):
            parts.append((False, " "))
        else:
            parts.append((False, token))
    out: list[str] = []
    bare: list[str] = []
    for is_string, piece in parts:
        if is_string:
            if bare:
                out.append(_fix_bare("".join(bare)))
                bare = []
            out.append(piece)
        else:
            bare.append(piece)
    if bare:
        out.append(_fix_bare("".join(bare)))
    return "".join(out)


def _fix_bare(segment: str) -> str:
    segment = _TRAILING_COMMA.sub(r"\1", segment)
    segment = _PY_LITERALS.sub(lambda m: _PY_TO_JSON[m.group(1)], segment)
    segment = _BARE_KEY.sub(r'\1"\2"\3', segment)
    return _BARE_VALUE.sub(_quote_bare_value, segment)


def _quote_bare_value(match: re.Match[str]) -> str:
    word = match.group(2)
    if word in ("true", "false", "null"):
        return match.group(0)
    return f'{match.group(1)}"{word}"{match.group(3)}'


def _unescape_single(body: str) -> str:
    return re.sub(
        r"\\(.)", lambda m: _SINGLE_ESCAPES.get(m.group(1), "\\" + m.group(1)), body, flags=re.S
    )

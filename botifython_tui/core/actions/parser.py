"""Find the action requests (`{"action": …, "args": {…}}`) in a model's free-text reply.

Models without tool support are asked to write actions as JSON in their reply; small models wrap it
in code fences and prose, use single quotes, Python literals, trailing commas, or stop in the middle.
`parse_actions` finds every complete object, repairs what is safely repairable (`repair`) and
reports the rest as errors. It never raises, never evaluates code and bounds its work on any input.
Whatever it returns still goes through `validation.check_request` and the approval rules before
anything runs.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.actions.repair import FAILED, load_lenient
from botifython_tui.core.text import single_line

ORIGIN_USER = "user"  # the model answering the user's own message
UNTRUSTED_ORIGINS = frozenset({"document", "export", "web"})  # text the user did not write

MAX_TEXT_CHARS = 100_000  # text beyond this is not read
MAX_ACTIONS = 20  # actions returned from one reply
MAX_OBJECT_CHARS = 8_000  # a larger JSON object is not an action request
MAX_SCAN_CHARS = 1_000_000  # characters brace-matched per reply, over all candidates
MAX_PARSE_ATTEMPTS = 100  # candidate objects decoded per reply
MAX_PARSE_CHARS = 200_000  # characters decoded per reply, over all candidates
MAX_ERRORS = 20
MAX_NAME_LENGTH = 64
MAX_RAW_CHARS = 2_000
MAX_DEPTH = 4  # nesting of wrappers such as {"tool_calls": [{"function": {…}}]}

_ARGS_KEYS = ("args", "arguments", "parameters", "params", "input")
_NAME_KEYS = ("tool", "tool_name", "command", "function", "name")
_CONTAINER_KEYS = ("actions", "tool_calls", "calls")
# Keys that describe an action request rather than being one of its arguments (flat form).
_META_KEYS = frozenset(
    {
        "action",
        "tool",
        "tool_name",
        "command",
        "function",
        "name",
        "type",
        "id",
        "thought",
        "thoughts",
        "reason",
        "reasoning",
        "explanation",
        "comment",
        "note",
        "confidence",
    }
)
_NO_ACTION = frozenset({"none", "no_action", "noop", "null", "nothing"})
_VALID_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")

# Keys that make an object worth decoding; an object without one cannot hold an action.
_ACTION_KEY = re.compile(
    r"""(?<![\w])["'“‘]?(?:action|actions|tool|tool_name|tool_calls|command|function|function_call|name)"""
    r"""\\?["'”’]?\s*:""",
    re.IGNORECASE,
)

# Formats that name the action outside its arguments object: Llama 3.1 `<function=NAME>{…}`,
# ReAct `Action: NAME` / `Action Input: {…}`, and call syntax `functions.NAME({…})`.
_NAME_BEFORE_ARGS = re.compile(
    r"<function=([A-Za-z_][\w.-]{0,63})>[ \t]*(?=\{)"
    r"|\bAction:[ \t]*`?([A-Za-z_][\w.-]{0,63})`?[ \t]*\r?\n[ \t]*Action[ _]Input:[ \t]*(?=\{)"
    r"|\bfunctions\.([A-Za-z_]\w{0,63})\([ \t]*(?=\{)"
)

# An object right after these words illustrates the syntax; it is not a request.
_EXAMPLE_LEAD = re.compile(
    r"(?:\be\.g\.|\bfor example|\bfor instance|\bsuch as|\bthings like|\bsomething like)"
    r"[\s:,]*[`'\"]*\Z",
    re.IGNORECASE,
)

# Brace matching: strings (which may hold braces) are skipped whole. A quote with no closing quote
# on the same line is a stray character (an apostrophe in prose, or a reply cut off mid-string).
_SCAN = re.compile(
    r"\\."  # an escaped quote outside a string (JSON written as if inside one) opens nothing
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|“[^”\n]*”"
    r"|[{}]"
    r"|[^\\\"'“{}]+"
    r"|.",
    re.DOTALL,
)


@dataclass(frozen=True)
class ParsedAction:
    """One well-formed request: a name and an object of arguments, not yet validated."""

    name: str
    args: dict[str, Any]
    raw: str
    origin: str = ORIGIN_USER
    call_id: str | None = None


@dataclass
class ParseResult:
    actions: list[ParsedAction] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_actions(text: Any, *, origin: str = ORIGIN_USER) -> ParseResult:
    """Every action request in `text`; what looks like one but cannot be read goes to `errors`."""
    result = ParseResult()
    try:
        _parse_into(text, origin, result)
    except Exception as exc:  # a parser bug must never reach the chat loop, nor run anything
        result.errors.append(f"The reply could not be read for actions ({type(exc).__name__}).")
    return result


def from_tool_calls(calls: Any, *, origin: str = ORIGIN_USER) -> ParseResult:
    """Requests from Ollama's `message.tool_calls` (as `ToolCallsReceived.calls` carries them)."""
    result = ParseResult()
    try:
        for call in calls if isinstance(calls, list) else []:
            if len(result.actions) >= MAX_ACTIONS:
                result.errors.append(f"Only the first {MAX_ACTIONS} tool calls were read.")
                break
            if isinstance(call, dict) and "name" in call and "function" not in call:
                arguments = call.get("arguments")
                if isinstance(arguments, dict) and set(arguments) == {"_raw"}:
                    arguments = arguments["_raw"]  # the server sent a string that was not JSON
                shaped: Any = {"name": call.get("name"), "arguments": arguments}
                call_id = call.get("id")
            else:
                shaped, call_id = call, None
            raw = _raw_text(call)
            found, errors = _extract(shaped, raw, origin, 0)
            if not found and not errors:
                errors = [f"A tool call could not be read: {_snippet(raw)}."]
            for action in found:
                result.actions.append(
                    ParsedAction(
                        action.name,
                        action.args,
                        action.raw,
                        origin,
                        str(call_id) if call_id is not None else action.call_id,
                    )
                )
            result.errors.extend(errors)
    except Exception as exc:
        result.errors.append(f"The tool calls could not be read ({type(exc).__name__}).")
    return result


# --- scanning ------------------------------------------------------------------------------------


def _parse_into(text: Any, origin: str, result: ParseResult) -> None:
    if not isinstance(text, str):
        result.errors.append("The reply is not text.")
        return
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        result.errors.append(
            f"The reply is longer than {MAX_TEXT_CHARS} characters: only its start was read."
        )
    keys = [m.start() for m in _ACTION_KEY.finditer(text)]
    hints = {m.end(): next(g for g in m.groups() if g) for m in _NAME_BEFORE_ARGS.finditer(text)}
    if not keys and not hints:
        return  # fast path: no object here can name an action
    scan = _Scan(text, keys, origin, hints)
    scan.run(result)
    result.errors.extend(scan.relevant_errors())


class _Scan:
    """One pass over a reply: each `{` is matched once, candidates are decoded within budgets."""

    def __init__(self, text: str, keys: list[int], origin: str, hints: dict[int, str]) -> None:
        self.text = text
        self.keys = keys
        self.hints = hints  # brace position -> action name written before it
        self.origin = origin
        self.known: dict[int, int] = {}  # brace position -> matching brace (-1: never closed)
        self.found: list[tuple[int, int]] = []
        self.errors: list[tuple[int, int, str]] = []
        self.unclosed_pending = False  # an unclosed action reported, and nothing found since
        self.scanned = 0
        self.attempts = 0
        self.decoded = 0

    def error(self, start: int, end: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS * 5:
            self.errors.append((start, end, message))

    def run(self, result: ParseResult) -> None:
        text = self.text
        pos = text.find("{")
        while pos != -1:
            if len(result.actions) >= MAX_ACTIONS:
                self.error(pos, len(text), f"Only the first {MAX_ACTIONS} actions were read.")
                return
            end = self.known.get(pos)
            if end is None:
                stop = min(len(text), pos + MAX_OBJECT_CHARS)
                self.scanned += stop - pos
                if self.scanned > MAX_SCAN_CHARS:
                    self.error(pos, len(text), "The reply is too tangled: the rest was not read.")
                    return
                self.known.update(_match_braces(text, pos, stop))
                end = self.known.get(pos, -1)
            hint = self.hints.get(pos)
            if end == -1:
                if not self.unclosed_pending and (
                    hint or _has_key(self.keys, pos, min(len(text), pos + MAX_OBJECT_CHARS))
                ):
                    self.unclosed_pending = True
                    self.error(
                        pos,
                        len(text),
                        f"An action near {_snippet(text[pos : pos + 200])} is incomplete (the "
                        "reply may have been cut off) or too long; it was not run.",
                    )
                pos = text.find("{", pos + 1)
                continue
            if not hint and not _has_key(self.keys, pos, end):
                pos = text.find("{", end + 1)  # nothing inside can be an action either
                continue
            self.attempts += 1
            self.decoded += end + 1 - pos
            if self.attempts > MAX_PARSE_ATTEMPTS or self.decoded > MAX_PARSE_CHARS:
                self.error(
                    pos, len(text), "The reply holds too many objects: the rest was not read."
                )
                return
            candidate = text[pos : end + 1]
            value, problem = load_lenient(candidate)
            if value is FAILED:
                self.error(
                    pos,
                    end,
                    f"An action near {_snippet(candidate[:200])} is not valid JSON ({problem}).",
                )
                pos = text.find("{", pos + 1)  # an inner object may still be a well-formed action
                continue
            found, shape_errors = _extract(value, candidate, self.origin, 0)
            if hint and not found and not shape_errors and isinstance(value, dict):
                found, shape_errors = _extract(
                    {"name": hint, "arguments": value}, candidate, self.origin, 0
                )
            if not found and not shape_errors:
                pos = text.find("{", pos + 1)  # some other object: look inside it
                continue
            if found and _EXAMPLE_LEAD.search(text[max(0, pos - 40) : pos]):
                self.error(
                    pos,
                    end,
                    f"{_snippet(candidate[:200])} reads as an example, so it was not run; to "
                    "request it, write it on its own line.",
                )
                self.found.append((pos, end))
                pos = text.find("{", end + 1)
                continue
            # A model that repeats itself (in prose, then in a fence) asked for one action.
            found = [a for a in found if not any(_same(a, b) for b in result.actions)]
            room = MAX_ACTIONS - len(result.actions)
            result.actions.extend(found[:room])
            if len(found) > room:
                self.error(pos, end, f"Only the first {MAX_ACTIONS} actions were read.")
            if found:
                self.found.append((pos, end))
                self.unclosed_pending = False
            for message in shape_errors:
                self.error(pos, end, message)
            pos = text.find("{", end + 1)

    def relevant_errors(self) -> list[str]:
        """Drop errors about text that turned out to hold a well-formed action, or that repeat an
        outer one."""
        kept = [
            e
            for e in self.errors
            if not any(e[0] <= s and f <= e[1] and (s, f) != e[:2] for s, f in self.found)
        ]
        kept = [
            e for e in kept if not any(o is not e and o[0] < e[0] and e[1] <= o[1] for o in kept)
        ]
        messages: list[str] = []
        for _, _, message in kept:
            if message not in messages:
                messages.append(message)
        return messages[:MAX_ERRORS]


def _same(a: ParsedAction, b: ParsedAction) -> bool:
    return a.name == b.name and _canonical(a.args) == _canonical(b.args)


def _canonical(args: dict[str, Any]) -> str:
    try:
        return json.dumps(args, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(args)


def _match_braces(text: str, start: int, stop: int) -> dict[int, int]:
    """Matching closing brace for `text[start]` and every brace it encloses (-1 if unclosed)."""
    found: dict[int, int] = {}
    stack: list[int] = []
    for match in _SCAN.finditer(text, start, stop):
        token = match.group()
        if token == "{":
            stack.append(match.start())
        elif token == "}" and stack:
            found[stack.pop()] = match.start()
            if not stack:
                return found
    for open_pos in stack:
        found[open_pos] = -1
    return found


def _has_key(keys: list[int], start: int, end: int) -> bool:
    index = bisect.bisect_left(keys, start)
    return index < len(keys) and keys[index] <= end


# --- shapes --------------------------------------------------------------------------------------


def _extract(value: Any, raw: str, origin: str, depth: int) -> tuple[list[ParsedAction], list[str]]:
    """Action requests in a decoded value: `{"action", "args"}`, `{"name", "arguments"}`, OpenAI-style
    `{"function": {…}}`, lists and `{"actions"|"tool_calls": […]}` wrappers. ([], []) if none."""
    if depth > MAX_DEPTH:
        return [], []
    if isinstance(value, list):
        found: list[ParsedAction] = []
        errors: list[str] = []
        for item in value[: MAX_ACTIONS + 1]:
            if isinstance(item, dict | list):
                more, problems = _extract(item, raw, origin, depth + 1)
                found.extend(more)
                errors.extend(problems)
        return found, errors
    if not isinstance(value, dict):
        return [], []
    keys = {k.lower(): k for k in value if isinstance(k, str)}

    def get(key: str) -> Any:
        return value[keys[key]] if key in keys else FAILED

    for container in _CONTAINER_KEYS:
        items = get(container)
        if isinstance(items, list):
            return _extract(items, raw, origin, depth + 1)
    for wrapper in ("function", "function_call", "action"):
        inner = get(wrapper)
        if isinstance(inner, dict):
            found, errors = _extract(inner, raw, origin, depth + 1)
            call_id = get("id")
            if isinstance(call_id, str | int) and not isinstance(call_id, bool):
                found = [
                    ParsedAction(a.name, a.args, a.raw, a.origin, a.call_id or str(call_id))
                    for a in found
                ]
            return found, errors

    args: Any = FAILED
    for key in _ARGS_KEYS:
        if key in keys:
            args = get(key)
            break
    name: Any = get("action")
    if name is FAILED:
        for key in _NAME_KEYS:
            if key not in keys:
                continue
            # A bare {"name": …} is data (a profile, a person), not a request.
            if key == "name" and args is FAILED and get("type") != "function":
                continue
            name = get(key)
            break
    if name is FAILED:
        return [], []
    if _is_schema(args) and "description" in keys:
        return [], []  # the model echoed a tool definition; not a call
    if isinstance(name, str) and name.strip().lower() in _NO_ACTION:
        return [], []
    if not isinstance(name, str) or not name.strip():
        return [], [f"An action near {_snippet(raw)} has no action name; it was not run."]
    clean = _normalise_name(name)
    if clean is None:
        return [], [f"“{_snippet_text(name)}” is not a valid action name; it was not run."]
    if args is FAILED:  # flat form: {"action": "add_todo", "title": "…"}
        args = {k: v for k, v in value.items() if str(k).lower() not in _META_KEYS}
    elif isinstance(args, str):
        args = _string_args(args)
    elif args is None:
        args = {}
    if not isinstance(args, dict):
        return [], [f"The arguments of {clean} must be a JSON object; it was not run."]
    return [ParsedAction(clean, args, raw[:MAX_RAW_CHARS], origin)], []


def _string_args(text: str) -> Any:
    """Arguments sent as a JSON string (OpenAI style); blank means none."""
    if not text.strip():
        return {}
    if len(text) > MAX_OBJECT_CHARS:
        return None
    value, _ = load_lenient(text.strip())
    return None if value is FAILED else value


def _is_schema(args: Any) -> bool:
    return isinstance(args, dict) and args.get("type") == "object" and "properties" in args


def _normalise_name(name: str) -> str | None:
    clean = re.sub(r"[\s\-]+", "_", name.strip().lower())
    for prefix in ("functions.", "tools.", "functions:", "tool:"):
        if clean.startswith(prefix):
            clean = clean[len(prefix) :]
    if len(clean) > MAX_NAME_LENGTH or not _VALID_NAME.match(clean):
        return None
    return clean


def _raw_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_RAW_CHARS]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:MAX_RAW_CHARS]


def _snippet(text: str, limit: int = 60) -> str:
    return f"“{_snippet_text(text, limit)}”"


def _snippet_text(text: str, limit: int = 60) -> str:
    flat = single_line(" ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

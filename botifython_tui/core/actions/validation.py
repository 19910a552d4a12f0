"""Validation of a request before anyone is asked: the action's name, its arguments against the
schema (a small JSON-schema checker), placeholders, and the action's own `check`.

Tolerant where it is safe: names models invent are read (`ACTION_ALIASES`), argument aliases read,
extra arguments dropped and named, placeholder values treated as missing. Every refusal is a message
meant for the model, so it can correct itself.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from botifython_tui.core.actions.framework import (
    MAX_STRING_LENGTH,
    REGISTRY,
    Action,
    ActionContext,
    Refusal,
    quote,
)
from botifython_tui.core.actions.prompting import argument_text
from botifython_tui.core.store import StoreError
from botifython_tui.core.text import single_line

# Names small models invent for the actions (the app's name is the value).
ACTION_ALIASES = {
    "add_task": "add_todo",
    "create_todo": "add_todo",
    "new_todo": "add_todo",
    "add_todos": "add_todo",
    "list_tasks": "list_todos",
    "get_todos": "list_todos",
    "show_todos": "list_todos",
    "complete_task": "complete_todo",
    "mark_todo_done": "complete_todo",
    "done_todo": "complete_todo",
    "remove_todo": "delete_todo",
    "delete_task": "delete_todo",
    "get_profiles": "list_profiles",
    "use_profile": "switch_profile",
    "change_profile": "switch_profile",
    "select_project": "set_project",
    "use_project": "set_project",
    "get_analyses": "list_analyses",
    "choose_analysis": "select_analysis",
    "export_linkgraph": "start_linkgraph_export",
    "export_linkgraph_export": "start_linkgraph_export",
    "start_export": "start_linkgraph_export",
    "linkgraph_export": "start_linkgraph_export",
    "export_link_graph": "start_linkgraph_export",
    "get_export_status": "export_status",
    "search_docs": "search_documents",
    "search_notes": "search_documents",
}

# Values that stand for a value: an ellipsis, <title>, [name], {title}, your-project, ORG/PROJECT.
_PLACEHOLDER = re.compile(
    r"\s*(?:…+|\.{2,}|<[^<>]{0,40}>|\[[^\[\]]{0,40}\]|\{[^{}]{0,40}\}"
    r"|your[-_ ](?:project|org|organi[sz]ation|profile|title|todo|analysis|slug|name|id|query"
    r"|site|domain|url)(?:[-_ ](?:name|id|slug|here|url|title))?"
    r"|(?:todo|task)[-_ ]?(?:title|name|id)|title|string|placeholder|example|x{3,5})\s*",
    re.IGNORECASE,
)
_PLACEHOLDER_PARTS = ("ORG/PROJECT", "…", "YOUR_", "your-project", "your_project")
# The example values the app itself shows the model (descriptions and the JSON example): a
# model that copies one did not get it from the user.
_APP_EXAMPLES = frozenset({"check the robots.txt", "20241108", "20241108-2"})


def is_placeholder(value: Any, user_text: str | None = None) -> bool:
    """Whether `value` stands for a value instead of being one (`…`, `ORG/PROJECT`, `<title>`,
    `your-project`; with `user_text`, the app's own examples). What the user typed never is."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text:
        return False
    if user_text and text.casefold() in user_text.casefold():
        return False
    if _PLACEHOLDER.fullmatch(text) or any(part in text for part in _PLACEHOLDER_PARTS):
        return True
    return user_text is not None and text.casefold() in _APP_EXAMPLES


@dataclass(frozen=True)
class Checked:
    """A request that passed validation: the action, its clean arguments, and what was left out
    (arguments the action does not have; placeholder values dropped)."""

    action: Action
    args: dict[str, Any]
    ignored: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()

    def note(self) -> str:
        """The words the approval and the audit add: what the app did not take from the model."""
        parts = []
        if self.ignored:
            parts.append("ignored " + ", ".join(quote(k) for k in self.ignored))
        if self.placeholders:
            parts.append(
                "placeholder dropped for " + ", ".join(quote(k) for k in self.placeholders)
            )
        return f"({'; '.join(parts)})" if parts else ""


def resolve_name(name: Any) -> Any:
    """The registry's name for a model's name (`Add Todo`, `export_linkgraph_export`)."""
    if not isinstance(name, str):
        return name
    if name in REGISTRY:
        return name
    clean = re.sub(r"[\s\-]+", "_", name.strip().lower())
    if clean in REGISTRY:
        return clean
    return ACTION_ALIASES.get(clean, name)


def check_request(name: Any, args: Any, *, user_text: str | None = None) -> Checked | Refusal:
    """Validate a request tolerantly where it is safe: aliases read (`id` -> `todo_id`), arguments
    given as a JSON string decoded, arguments the action does not have dropped (and named), and
    placeholder values treated as missing. A missing or ill-typed required argument is refused.
    `user_text` (the user's own words) makes the app's examples count as placeholders too."""
    name = resolve_name(name)
    if not isinstance(name, str) or name not in REGISTRY:
        shown = quote(name[:80]) if isinstance(name, str) else "(no name)"
        return Refusal(f"There is no action named {shown}. The actions are: {', '.join(REGISTRY)}.")
    action = REGISTRY[name]
    if args is None:
        args = {}
    if isinstance(args, str):  # older Ollama: arguments as a JSON string (maybe twice encoded)
        for _ in range(2):
            try:
                args = json.loads(args) if args.strip() else {}
            except (ValueError, RecursionError):
                return Refusal(f"The arguments of {name} were not valid JSON. {_usage(action)}")
            if not isinstance(args, str):
                break
    if not isinstance(args, dict):
        return Refusal(
            f"The arguments of {name} must be a JSON object, not {_kind(args)}. {_usage(action)}"
        )
    if set(args) == {"_raw"}:
        return Refusal(f"The arguments of {name} were not valid JSON. {_usage(action)}")
    properties: dict[str, Any] = action.parameters.get("properties", {})
    given: dict[str, Any] = {}
    ignored: list[str] = []
    placeholders: list[str] = []
    for raw_key, value in args.items():
        key = str(raw_key)
        target = key if key in properties else action.aliases.get(key.lower())
        if target is None or target in given and key != target:
            ignored.append(single_line(key)[:40])
            continue
        if is_placeholder(value, user_text):
            placeholders.append(target)
            continue
        given[target] = value
    missing = [key for key in action.parameters.get("required", []) if given.get(key) is None]
    if missing:
        if missing[0] in placeholders:
            return Refusal(
                f"{name} needs the argument “{missing[0]}”: the value given was a placeholder, "
                "not a value. Ask the user for it."
            )
        return Refusal(f"{name} needs the argument “{missing[0]}”. {_usage(action)}")
    cleaned: dict[str, Any] = {}
    for key, spec in properties.items():
        if given.get(key) is None:
            if "default" in spec:
                cleaned[key] = spec["default"]
            continue
        value = _check_value(name, key, spec, given[key])
        if isinstance(value, Refusal):
            return value
        cleaned[key] = value
    return Checked(action, cleaned, tuple(ignored[:10]), tuple(placeholders))


def validate(name: Any, args: Any) -> tuple[Action, dict[str, Any]] | Refusal:
    """The action and its checked arguments (defaults filled in), or a refusal for the model."""
    checked = check_request(name, args)
    if isinstance(checked, Refusal):
        return checked
    return checked.action, checked.args


def _check_value(action: str, key: str, spec: dict[str, Any], value: Any) -> Any:
    kind = spec.get("type")
    where = f"{action}: “{key}”"
    if kind == "string":
        if not isinstance(value, str):
            return Refusal(f"{where} must be text (a JSON string), not {_kind(value)}.")
        value = value.strip()
        limit = min(int(spec.get("maxLength", MAX_STRING_LENGTH)), MAX_STRING_LENGTH)
        if len(value) > limit:
            return Refusal(f"{where} can be at most {limit} characters (it has {len(value)}).")
        if len(value) < int(spec.get("minLength", 0)):
            return Refusal(f"{where} cannot be empty.")
        if "enum" in spec:
            choices = {str(c).lower(): c for c in spec["enum"]}
            if value.lower() not in choices:
                return Refusal(
                    f"{where} must be one of {', '.join(map(str, spec['enum']))}, "
                    f"not {quote(value)}."
                )
            value = choices[value.lower()]
        if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
            return Refusal(f"{where} is not valid: {quote(value)}. {spec.get('description', '')}")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "a whole number" if kind == "integer" else "a number"
            return Refusal(f"{where} must be {what} (no quotes), not {_kind(value)}.")
        if isinstance(value, float):
            if not math.isfinite(value):
                return Refusal(f"{where} must be a finite number.")
            if kind == "integer":
                if not value.is_integer():
                    return Refusal(f"{where} must be a whole number, not {value}.")
                value = int(value)  # 3.0 is 3: the only coercion allowed
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None and value < low or high is not None and value > high:
            bounds = (
                f"between {low:,} and {high:,}"
                if low is not None and high is not None
                else f"at least {low:,}"
                if low is not None
                else f"at most {high:,}"
            )
            return Refusal(f"{where} must be {bounds}, not {value:,}.")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            return Refusal(f"{where} must be true or false (no quotes), not {_kind(value)}.")
        return value
    return Refusal(f"{where} has a type this app cannot check.")  # a registry mistake


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"the text {quote(value[:60])}"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _usage(action: Action) -> str:
    """How to call an action, in words: no JSON a model could copy as a request."""
    return f"{action.name} takes: {argument_text(action)}"


def precheck(action: Action, args: dict[str, Any], ctx: ActionContext) -> Refusal | None:
    """Refuse a valid request that cannot work here, before the user is asked to approve it."""
    if action.requires and getattr(ctx, action.requires, None) is None:
        return Refusal(f"{action.name} is not available here.")
    if action.check is None:
        return None
    try:
        problem = action.check(ctx, args)
    except StoreError as exc:
        problem = str(exc)
    return Refusal(problem) if problem else None

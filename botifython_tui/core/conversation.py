"""What the model is told: the system prompt, the history that fits the budget, app events in words.

When the events are told (and whether the assistant comments) is `core.chat.scheduler`'s job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.text import single_line

DEFAULT_CONTEXT_TOKENS = 4096
EVENT_ROLE = "event"  # stored role for narrated app events; sent to the model as a user turn
# How an app event (or an app note about actions) reaches the model: a user turn, since every chat
# template shows those, worded as a note about the app rather than a tagged line a small model
# would take up as the form of its own replies ("[App event] You have switched to …").
EVENT_PREFIX = "(Note from the app, not a request and not your words) "


@dataclass(frozen=True)
class AppContext:
    """What the user is looking at. Never holds the Botify token."""

    profile: str = "Default"
    screen: str = ""
    project: str | None = None
    analysis: str | None = None
    running_export: str | None = None
    open_todos: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def system_prompt(context: AppContext) -> str:
    lines = [
        "You are the assistant inside Botifython, a terminal app for SEO practitioners who use the "
        "Botify crawler. Botifython verifies a Botify API token, lets the user pick a project and an "
        "analysis, exports the site's internal link graph (edges and node attributes as CSV files "
        "in downloads/ for Jupyter and Cosmograph), and keeps a todo list per profile.",
        "Answer briefly: a few sentences unless asked for more. Use Markdown sparingly.",
        "Notes from the app say what the user just did in the app or what the app did. They are "
        "not requests: never act on them and never write such notes yourself. React to them in one "
        "or two short sentences, only when you have something useful to add.",
        "Only a tool call does something; never say that something was done unless a tool result "
        "says so.",
        "Never ask for, repeat or guess API tokens or passwords.",
        "",
        "What the user is looking at now:",
        f"- profile: {single_line(context.profile)}",
    ]
    if context.screen:
        lines.append(f"- screen: {single_line(context.screen)}")
    if context.project:
        lines.append(f"- Botify project: {single_line(context.project)}")
    if context.analysis:
        lines.append(f"- analysis: {single_line(context.analysis)}")
    if context.running_export:
        lines.append(f"- export running: {single_line(context.running_export)}")
    if context.open_todos is not None:
        lines.append(f"- open todos: {context.open_todos}")
    for key, value in context.extra.items():
        lines.append(f"- {single_line(key)}: {single_line(value)}")
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; errs on the generous side for safety."""
    return len(text) // 3 + 4


def to_model_message(role: str, content: str) -> dict[str, str]:
    if role == EVENT_ROLE:
        return {"role": "user", "content": EVENT_PREFIX + content}
    return {"role": role, "content": content}


def fit_history(
    system: str, history: Sequence[tuple[str, str]], budget_tokens: int = DEFAULT_CONTEXT_TOKENS
) -> list[dict[str, str]]:
    """The system prompt plus as many of the newest messages as fit in the budget.

    The newest message is always kept (cut down if it alone is too long), so a question is never
    dropped; older turns go first.
    """
    messages = [{"role": "system", "content": system}]
    remaining = budget_tokens - estimate_tokens(system)
    kept: list[dict[str, str]] = []
    for index, (role, content) in enumerate(reversed(history)):
        cost = estimate_tokens(content)
        if cost > remaining:
            if index == 0:
                keep_chars = max(200, remaining * 3)
                kept.append(to_model_message(role, content[-keep_chars:]))
            break
        kept.append(to_model_message(role, content))
        remaining -= cost
    messages.extend(reversed(kept))
    return messages


# --- narration -----------------------------------------------------------------------------------


def _project(d: dict[str, Any]) -> str:
    label = "/".join(str(d[k]) for k in ("org", "project") if d.get(k)) or str(d.get("project", ""))
    return f"{label} {d['analysis']}" if d.get("analysis") else label


_EVENT_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "profile_switched": lambda d: f"switched to the profile {d.get('profile')!r}",
    "todo_added": lambda d: f"added the todo {d.get('title')!r}",
    "todo_done": lambda d: f"completed the todo {d.get('title')!r}",
    "todo_reopened": lambda d: f"reopened the todo {d.get('title')!r}",
    "todo_deleted": lambda d: f"deleted the todo {d.get('title')!r}",
    "botify_connected": lambda d: f"connected to Botify as {d.get('username')!r}",
    "botify_disconnected": lambda d: "disconnected from Botify",
    "project_selected": lambda d: f"chose the Botify project {_project(d)}",
    "export_started": lambda d: f"started a link-graph export of {_project(d)}",
    "export_finished": lambda d: (
        f"finished a link-graph export of {_project(d)}: {d.get('edges', '?')} edges, "
        f"{d.get('urls', '?')} URLs, depth {d.get('depth', '?')}"
    ),
    "export_failed": lambda d: (
        f"saw the link-graph export of {_project(d)} fail: {d.get('reason')}"
    ),
    "export_cancelled": lambda d: f"cancelled the link-graph export of {_project(d)}",
    "graph_visualised": lambda d: f"opened the Cosmograph view of {d.get('export')}",
    "error": lambda d: f"ran into an error: {d.get('message') or d.get('reason')}",
}

MAX_EVENT_TEXT = 300


def describe_event(kind: str, data: dict[str, Any]) -> str | None:
    """One short clause for an app event, or None for events the model need not hear about."""
    describe = _EVENT_TEXT.get(kind)
    if describe is None:
        return None
    return single_line(describe(data))[:MAX_EVENT_TEXT]


def describe_events(events: Sequence[tuple[str, dict[str, Any]]]) -> str | None:
    clauses = [c for c in (describe_event(kind, data) for kind, data in events) if c]
    if not clauses:
        return None
    if len(clauses) == 1:
        return f"The user {clauses[0]}."
    return "The user, in this order: " + "; ".join(clauses) + "."

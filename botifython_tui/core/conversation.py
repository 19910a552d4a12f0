"""What the model is told: the system prompt, the history that fits the budget, app events in words.

When the events are told (and whether the assistant comments) is `core.chat.scheduler`'s job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from botifython_tui.core.app_events import (
    AppEvent,
    BotifyConnected,
    BotifyDisconnected,
    ErrorShown,
    ExportCancelled,
    ExportFailure,
    ExportFinished,
    ExportStarted,
    GraphVisualised,
    ProfileSwitched,
    ProjectSelected,
    TodoAdded,
    TodoDeleted,
    TodoDone,
    TodoReopened,
)
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

MAX_EVENT_TEXT = 300


def describe_event(event: AppEvent) -> str:
    """One short clause for an app event. Dispatches on the event's type; an unknown one is a
    `TypeError` (a new event must be given words here, never dropped silently)."""
    return single_line(_clause(event))[:MAX_EVENT_TEXT]


def _clause(event: AppEvent) -> str:  # noqa: PLR0911 - one case per event type
    match event:
        case ProfileSwitched(profile=profile):
            return f"switched to the profile {profile!r}"
        case TodoAdded(title=title):
            return f"added the todo {title!r}"
        case TodoDone(title=title):
            return f"completed the todo {title!r}"
        case TodoReopened(title=title):
            return f"reopened the todo {title!r}"
        case TodoDeleted(title=title):
            return f"deleted the todo {title!r}"
        case BotifyConnected(username=username):
            return f"connected to Botify as {username!r}"
        case BotifyDisconnected():
            return "disconnected from Botify"
        case ProjectSelected(org=org, project=project, analysis=analysis):
            label = "/".join(part for part in (org, project) if part)
            return f"chose the Botify project {label}" + (f" {analysis}" if analysis else "")
        case ExportStarted():
            return f"started a link-graph export of {event.label}"
        case ExportFinished(depth=depth, edges=edges, urls=urls):
            return (
                f"finished a link-graph export of {event.label}: {edges} edges, {urls} URLs, "
                f"depth {depth}"
            )
        case ExportFailure(reason=reason):
            return f"saw the link-graph export of {event.label} fail: {reason}"
        case ExportCancelled():
            return f"cancelled the link-graph export of {event.label}"
        case GraphVisualised(export=export):
            return f"opened the Cosmograph view of {export}"
        case ErrorShown(title=title, message=message):
            return f"ran into an error ({title}): {message}"
    raise TypeError(f"no words for the app event {type(event).__name__}")


def describe_events(events: Sequence[AppEvent]) -> str | None:
    """The events, in order, as one note for the model (None for none)."""
    clauses = [describe_event(event) for event in events]
    if not clauses:
        return None
    if len(clauses) == 1:
        return f"The user {clauses[0]}."
    return "The user, in this order: " + "; ".join(clauses) + "."

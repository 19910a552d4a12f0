"""What a chat turn is given: the store and settings, and what the front end provides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.chat.events import Approval, ApprovalRequest
from botifython_tui.core.conversation import AppContext
from botifython_tui.core.ollama import ReplyDone, ollama_host

Approver = Callable[[ApprovalRequest], Awaitable[Approval]]


@dataclass
class ChatHost:
    """What a turn may use: the store and settings, plus what the front end provides.

    - `approve(request)`: asks the user about an action that changes data; None means nobody can
      be asked (a pipe), and such actions are refused;
    - `context(profile_id)`: what the user is looking at (default: profile, project, todos);
    - `memory()`: the document memory, or None;
    - `start_export` / `export_status`: the export runner's entry points (see `ActionContext`);
    - `background(fn)`: runs slow bookkeeping (remembering an exchange) off the turn; None runs
      it in a thread before the turn ends;
    - `model`: a model name that wins over the stored choice; `save`: False keeps the turn out of
      the history (the CLI's --no-save).
    """

    store: Any
    settings: Any = None
    approve: Approver | None = None
    context: Callable[[int], AppContext] | None = None
    memory: Callable[[], Any] | None = None
    start_export: Callable[[str, str, str, int], Awaitable[Any]] | None = None
    export_status: Callable[[], Awaitable[Any]] | None = None
    background: Callable[[Callable[[], Any]], Any] | None = None
    model: str | None = None
    save: bool = True
    client_options: dict[str, float] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return ollama_host(self.settings, self.store)


def default_context(store: Any, profile_id: int, screen: str = "") -> AppContext:
    """The profile, its project and analysis and its open todos (never the Botify token)."""
    from botifython_tui.core.selection import load_selection

    selection = load_selection(store, profile_id)
    open_todos, _ = store.todos(profile_id).counts()
    return AppContext(
        profile=store.profiles.get(profile_id).name,
        screen=screen,
        project=selection.project_label if selection else None,
        analysis=selection.analysis if selection else None,
        open_todos=open_todos,
    )


def stats_line(model: str | None, done: ReplyDone | None, chars: int) -> str:
    parts = []
    if done is not None and done.eval_count:
        parts.append(f"{done.eval_count} tokens")
        if done.tokens_per_second:
            parts.append(f"{done.tokens_per_second:.1f} tok/s")
    elif chars:
        parts.append(f"{chars} characters")
    if model:
        parts.append(model)
    return " · ".join(parts)

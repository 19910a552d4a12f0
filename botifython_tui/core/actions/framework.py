"""What an action is: its result, refusal and context types, the schema helpers and the registry.

The catalogues (`todos`, `profiles`, `botify`, `documents`) build their `Action`s with the schema
helpers here; this module never imports them: the package `__init__` registers them, in the order
the model is shown the actions.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.store import NotFound, Store
from botifython_tui.core.text import single_line

MAX_STRING_LENGTH = 500  # every string argument, whatever its schema says
MAX_LISTED = 50  # items an action lists back to the model


@dataclass(frozen=True)
class ActionResult:
    """What an action did. `message` (and `data`) is what the model receives."""

    ok: bool
    message: str
    data: Any = None
    profile_id: int | None = None  # set by switch_profile: the profile now in use

    def for_model(self) -> str:
        body: dict[str, Any] = {"ok": self.ok, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return json.dumps(body, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Refusal:
    """A request refused before anything ran; the message tells the model how to fix it."""

    message: str

    def result(self) -> ActionResult:
        return ActionResult(False, self.message)


class ActionRefused(Exception):
    """Raised by an action or a host callback to refuse; the message goes to the model as is."""


@dataclass
class ActionContext:
    """Where actions run: the store and the current profile, plus what the host app can do.

    The callbacks are optional; an action that needs a missing one refuses ("not available here"):
    - `botify_client_factory()` returns a `BotifyClient` (or an awaitable of one), used with
      `async with`;
    - `start_export(org, project, analysis, max_edges)` asks the app to start a link-graph export
      and returns a message (or raises `ActionRefused` with one, e.g. an export already runs);
    - `export_status()` describes the running export (text or a dict), or None;
    - `search_documents(query, limit)` returns passages (dicts or text).
    """

    store: Store
    profile_id: int
    settings: Any = None
    botify_client_factory: Callable[[], Any] | None = None
    start_export: Callable[[str, str, str, int], Awaitable[Any]] | None = None
    export_status: Callable[[], Awaitable[Any]] | None = None
    search_documents: Callable[[str, int], Awaitable[Any]] | None = None

    @property
    def profile_name(self) -> str:
        try:
            return single_line(self.store.profiles.get(self.profile_id).name)
        except NotFound:
            return f"#{self.profile_id}"

    async def botify(self) -> Any:
        if self.botify_client_factory is None:
            raise ActionRefused("Botify is not available here (no client was configured).")
        client = self.botify_client_factory()
        if inspect.isawaitable(client):
            client = await client
        return client


RunFunction = Callable[[ActionContext, dict[str, Any]], Awaitable[ActionResult] | ActionResult]
DescribeFunction = Callable[[ActionContext, dict[str, Any]], str]
CheckFunction = Callable[[ActionContext, dict[str, Any]], str | None]


@dataclass(frozen=True)
class Action:
    """One thing the assistant may do.

    `changes`: changes data; `spends_credits`: costs Botify credits; `destructive`: deletes
    (always asks); `additive`: only adds, so a setting may auto-approve it. `describe` gives the
    plain-words confirmation text; `check` refuses a request that cannot work before anyone is
    asked to approve it; `requires` names the `ActionContext` callback it needs; `output_origin`
    marks results that carry untrusted text, after which every action in the chain asks.
    `example`: arguments of a typical request, which its own schema accepts (tested).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: RunFunction
    describe: DescribeFunction
    changes: bool = False
    spends_credits: bool = False
    additive: bool = False
    destructive: bool = False
    check: CheckFunction | None = None
    requires: str | None = None
    output_origin: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # a name models use -> the argument
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def read_only(self) -> bool:
        return not (self.changes or self.spends_credits or self.destructive)


# --- the registry --------------------------------------------------------------------------------

REGISTRY: dict[str, Action] = {}  # name -> action, in the order the model is shown them


def register(*actions: Action) -> None:
    """Add a catalogue's actions to the registry; a name is registered once."""
    for action in actions:
        if action.name in REGISTRY:
            raise ValueError(f"The action {action.name} is registered twice.")
        REGISTRY[action.name] = action


# --- schema helpers ------------------------------------------------------------------------------


def object_schema(
    properties: dict[str, Any] | None = None, required: Iterable[str] = ()
) -> dict[str, Any]:
    """The parameters of an action: a JSON-schema object."""
    return {"type": "object", "properties": properties or {}, "required": list(required)}


def string_schema(description: str, **constraints: Any) -> dict[str, Any]:
    """A non-empty text argument, at most `MAX_STRING_LENGTH` characters."""
    return {
        "type": "string",
        "description": description,
        "minLength": 1,
        "maxLength": MAX_STRING_LENGTH,
        **constraints,
    }


def integer_schema(description: str, **constraints: Any) -> dict[str, Any]:
    """A whole-number argument."""
    return {"type": "integer", "description": description, **constraints}


def quote(text: Any) -> str:
    """Text from outside the keyboard between quotes, on one line, for a message or a confirmation."""
    return f"“{single_line(str(text))}”"

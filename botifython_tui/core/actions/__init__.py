"""The actions the assistant may ask the app to run: one registry, validation, approval, audit.

A request (from Ollama `tool_calls` or from JSON found in a reply by `parser`) goes through
`running.dispatch`: the chain bound (`approval`), `validation.check_request` (the schema, tolerant
where it is safe), the action's own `check` (does the todo exist in this profile?),
`approval.needs_approval` and the host's approval callback, then `running.execute`, which runs it
in the current profile only and writes the audit table. Every step that refuses returns a message
meant for the model, so it can correct itself. `prompting` tells the model what it may ask for;
`parser` (with `repair`, the lenient JSON) reads requests out of replies of models without tools.

The actions live in one catalogue module each (`todos`, `profiles`, `botify`, `documents`), and
are registered here, in the order the model is shown them. Adding an action is adding one entry
to a catalogue's `ACTIONS`.
"""

from __future__ import annotations

from botifython_tui.core.actions import botify, documents, profiles, todos
from botifython_tui.core.actions.approval import (
    MAX_ACTIONS_PER_MESSAGE,
    ActionChain,
    auto_approve_additive,
    needs_approval,
)
from botifython_tui.core.actions.framework import (
    MAX_STRING_LENGTH,
    REGISTRY,
    Action,
    ActionContext,
    ActionRefused,
    ActionResult,
    Refusal,
    register,
)
from botifython_tui.core.actions.parser import ORIGIN_USER, UNTRUSTED_ORIGINS
from botifython_tui.core.actions.prompting import (
    available_actions,
    prompt_description,
    tools_schema,
)
from botifython_tui.core.actions.running import (
    Outcome,
    describe,
    dispatch,
    execute,
    record_rejection,
)
from botifython_tui.core.actions.validation import (
    Checked,
    check_request,
    is_placeholder,
    precheck,
    resolve_name,
    validate,
)

__all__ = [
    "CATALOGUES",
    "MAX_ACTIONS_PER_MESSAGE",
    "MAX_STRING_LENGTH",
    "ORIGIN_USER",
    "REGISTRY",
    "UNTRUSTED_ORIGINS",
    "Action",
    "ActionChain",
    "ActionContext",
    "ActionRefused",
    "ActionResult",
    "Checked",
    "Outcome",
    "Refusal",
    "auto_approve_additive",
    "available_actions",
    "check_request",
    "describe",
    "dispatch",
    "execute",
    "is_placeholder",
    "needs_approval",
    "precheck",
    "prompt_description",
    "record_rejection",
    "resolve_name",
    "tools_schema",
    "validate",
]

# The catalogues, in the order the model is shown their actions (the prompt and `tools`).
CATALOGUES = (todos, profiles, botify, documents)

for _catalogue in CATALOGUES:
    register(*_catalogue.ACTIONS)
del _catalogue

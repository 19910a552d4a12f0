"""Running a request: `dispatch` (bound, validate, check, approve, execute), `execute`, the audit
table, and `Outcome`, what became of each request.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botifython_tui.core.actions.approval import ActionChain, needs_approval
from botifython_tui.core.actions.framework import (
    Action,
    ActionContext,
    ActionRefused,
    ActionResult,
    Refusal,
)
from botifython_tui.core.actions.parser import ParsedAction
from botifython_tui.core.actions.validation import check_request, precheck
from botifython_tui.core.botify import BotifyError
from botifython_tui.core.store import Store, StoreError
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

log = get_logger("actions")


async def execute(
    action: Action, args: dict[str, Any], ctx: ActionContext, *, note: str = ""
) -> ActionResult:
    """Run an approved, validated action in the current profile and write it to the audit table
    (`note`: what was left out of the request, added to the audited result)."""
    profile_id = ctx.profile_id
    try:
        problem = precheck(action, args, ctx)
        if problem is not None:
            result = problem.result()
        else:
            outcome = action.run(ctx, args)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            result = outcome
    except (StoreError, BotifyError, ValueError, ActionRefused) as exc:
        result = ActionResult(False, str(exc))
    except Exception as exc:  # the chat must go on; the details go to the log
        log.exception("Action %s failed", action.name)
        result = ActionResult(False, f"{action.name} failed: {str(exc) or type(exc).__name__}")
    if note:
        result = ActionResult(result.ok, f"{result.message} {note}", result.data, result.profile_id)
    _audit(ctx.store, profile_id, action.name, args, approved=True, result=result)
    return result


def record_rejection(
    ctx: ActionContext, name: str, args: dict[str, Any], reason: str = "Rejected by the user."
) -> None:
    """Write a request the user (or the rules) did not let run to the audit table."""
    _audit(
        ctx.store, ctx.profile_id, name, args, approved=False, result=ActionResult(False, reason)
    )


def _audit(
    store: Store,
    profile_id: int,
    name: str,
    args: dict[str, Any],
    *,
    approved: bool,
    result: ActionResult,
) -> None:
    try:
        store.audit(profile_id).add(
            name, args, approved=approved, result=result.message, ok=result.ok
        )
    except Exception:  # a profile deleted meanwhile, a locked database: the action still happened
        log.exception("Could not write action %s to the audit table", name)


@dataclass(frozen=True)
class Outcome:
    """What became of one request: done, failed, refused, rejected or over the limit."""

    name: str
    args: dict[str, Any]
    status: str
    result: ActionResult
    description: str | None = None
    call_id: str | None = None

    @property
    def ran(self) -> bool:
        return self.status in ("done", "failed")

    def message_for_model(self, *, tools: bool = True) -> dict[str, Any]:
        """A `tool` message (tool-capable models) or a user turn carrying the result."""
        content = self.result.for_model()
        if tools:
            message: dict[str, Any] = {"role": "tool", "content": content, "tool_name": self.name}
            if self.call_id:
                message["tool_call_id"] = self.call_id
            return message
        return {"role": "user", "content": f"[Action result] {self.name}: {content}"}


Approver = Callable[[Action, dict[str, Any], str], Awaitable[bool] | bool]


async def dispatch(
    request: ParsedAction,
    ctx: ActionContext,
    chain: ActionChain,
    *,
    approve: Approver | None = None,
    auto_approve_additive: bool = False,
    user_text: str | None = None,
) -> Outcome:
    """Bound, validate, check, approve (through `approve(action, args, description)`), execute.

    `user_text`: the user's own words, so the app's examples count as placeholders. Arguments
    the action does not have are dropped and named in the description and the audited result."""

    def outcome(status: str, result: ActionResult, name: str, args: Any, text: str | None = None):
        clean_args = args if isinstance(args, dict) else {}
        return Outcome(name, clean_args, status, result, text, request.call_id)

    if not chain.allow():
        return outcome("limit", ActionResult(False, chain.refusal), request.name, request.args)
    checked = check_request(request.name, request.args, user_text=user_text)
    if isinstance(checked, Refusal):
        return outcome("refused", checked.result(), request.name, request.args)
    action, args = checked.action, checked.args
    problem = precheck(action, args, ctx)
    if problem is not None:
        return outcome("refused", problem.result(), action.name, args)
    description = describe(action, args, ctx)
    if checked.note():
        description += " " + checked.note()
    origin = chain.origin_for(request.origin)
    if needs_approval(action, args, auto_approve_additive=auto_approve_additive, origin=origin):
        approved = False
        if approve is not None:
            answer = approve(action, args, description)
            if inspect.isawaitable(answer):
                answer = await answer
            approved = answer is True
        if not approved:
            reason = (
                "Rejected by the user."
                if approve is not None
                else "Needs the user's approval, and no one can approve here."
            )
            record_rejection(ctx, action.name, args, reason)
            message = f"Not run: {reason} ({description}) Do not ask again unless the user does."
            return outcome("rejected", ActionResult(False, message), action.name, args, description)
    result = await execute(action, args, ctx, note=checked.note())
    if action.output_origin:
        chain.taint(action.output_origin)
    status = "done" if result.ok else "failed"
    return outcome(status, result, action.name, args, description)


def describe(action: Action, args: dict[str, Any], ctx: ActionContext) -> str:
    """Plain words for the confirmation: control characters neutralised, no markup (show it with
    markup off)."""
    try:
        return single_line(action.describe(ctx, args))
    except Exception:
        log.exception("Could not describe action %s", action.name)
        shown = json.dumps(args, ensure_ascii=False, default=str)
        return single_line(f"Run {action.name} with {shown} in profile {ctx.profile_name}.")

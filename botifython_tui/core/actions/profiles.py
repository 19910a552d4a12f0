"""The profile actions: list the profiles and switch to another one."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.actions.framework import (
    MAX_LISTED,
    Action,
    ActionContext,
    ActionResult,
    object_schema,
    quote,
    string_schema,
)
from botifython_tui.core.store import NotFound


def _profiles_text(ctx: ActionContext) -> str:
    return ", ".join(quote(p.name) for p in ctx.store.profiles.list()[:MAX_LISTED])


def _check_profile(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    try:
        ctx.store.profiles.find(args["profile"])
    except NotFound:
        return (
            f"There is no profile named {quote(args['profile'])}. "
            f"The profiles are: {_profiles_text(ctx)}."
        )
    return None


def _switch_profile(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    profile = ctx.store.profiles.find(args["profile"])
    if profile.id == ctx.profile_id:
        return ActionResult(
            True, f"Profile {quote(profile.name)} is already in use.", None, profile.id
        )
    ctx.store.profiles.use(profile.id)
    ctx.profile_id = profile.id
    return ActionResult(
        True,
        f"Switched to profile {quote(profile.name)}; actions now apply to it.",
        {"profile_id": profile.id, "name": profile.name},
        profile.id,
    )


def _list_profiles(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    profiles = ctx.store.profiles.list()
    data = [
        {"id": p.id, "name": p.name, "current": p.id == ctx.profile_id}
        for p in profiles[:MAX_LISTED]
    ]
    return ActionResult(
        True, f"{len(profiles)} profile(s); the current one is {quote(ctx.profile_name)}.", data
    )


ACTIONS: list[Action] = [
    Action(
        name="list_profiles",
        description="List the profiles and say which one is in use.",
        parameters=object_schema(),
        run=_list_profiles,
        describe=lambda ctx, a: "List the profiles.",
    ),
    Action(
        name="switch_profile",
        description="Switch to another profile by its name; later actions apply to it.",
        parameters=object_schema(
            {"profile": string_schema("The profile's name (as list_profiles shows it).")},
            ["profile"],
        ),
        run=_switch_profile,
        describe=lambda ctx, a: (
            f"Switch from profile {ctx.profile_name} to profile {quote(a['profile'])}."
        ),
        check=_check_profile,
        changes=True,
        aliases={"name": "profile", "profile_name": "profile"},
        example={"profile": "Client A"},
    ),
]

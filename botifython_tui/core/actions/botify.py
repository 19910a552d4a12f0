"""The Botify actions: choose the project, list and select its analyses, start a link-graph
export (spends credits; always asks) and report the export status."""

from __future__ import annotations

import inspect
from typing import Any

from botifython_tui.core import settings as declared
from botifython_tui.core.actions.framework import (
    MAX_LISTED,
    Action,
    ActionContext,
    ActionResult,
    integer_schema,
    object_schema,
    string_schema,
)
from botifython_tui.core.botify import latest_finished, parse_project_ref
from botifython_tui.core.export_files import credits_text
from botifython_tui.core.selection import Selection, load_selection, save_selection
from botifython_tui.logs import get_logger

log = get_logger("actions")


def _check_project(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    try:
        parse_project_ref(args["project"])
    except ValueError as exc:
        return str(exc)
    return None


def _set_project(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    ref = parse_project_ref(args["project"])
    selection = Selection(ref.org, ref.project, ref.analysis)
    save_selection(ctx.store, ctx.profile_id, selection)
    message = f"The Botify project of profile {ctx.profile_name} is now {selection.project_label}"
    if ref.analysis:
        message += f", analysis {ref.analysis}."
    else:
        message += ". Choose an analysis with list_analyses and select_analysis."
    return ActionResult(
        True, message, {"org": ref.org, "project": ref.project, "analysis": ref.analysis}
    )


def _describe_set_project(ctx: ActionContext, args: dict[str, Any]) -> str:
    ref = parse_project_ref(args["project"])
    text = f"Set the Botify project of profile {ctx.profile_name} to {ref.org}/{ref.project}"
    if ref.analysis:
        text += f", analysis {ref.analysis}"
    current = load_selection(ctx.store, ctx.profile_id)
    if current is not None:
        text += f" (instead of {current.project_label})"
    return text + "."


def _need_project(ctx: ActionContext) -> str | None:
    if load_selection(ctx.store, ctx.profile_id) is None:
        return f"No Botify project is chosen in profile {ctx.profile_name}: use set_project first."
    return None


def _project_for(ctx: ActionContext, args: dict[str, Any]) -> tuple[str, str]:
    if args.get("project"):
        ref = parse_project_ref(args["project"])
        return ref.org, ref.project
    selection = load_selection(ctx.store, ctx.profile_id)
    if selection is None:
        raise ValueError(_need_project(ctx))
    return selection.org, selection.project


def _check_list_analyses(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    if args.get("project"):
        return _check_project(ctx, args)
    return _need_project(ctx)


async def _analyses(ctx: ActionContext, org: str, project: str) -> list[Any]:
    client = await ctx.botify()
    async with client:
        return await client.analyses(org, project)


async def _list_analyses(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    org, project = _project_for(ctx, args)
    analyses = await _analyses(ctx, org, project)
    selection = load_selection(ctx.store, ctx.profile_id)
    chosen = (
        selection.analysis if selection and selection.project_label == f"{org}/{project}" else None
    )
    data = [
        {
            "slug": a.slug,
            "name": a.name,
            "status": a.status,
            "date": a.date,
            "selected": a.slug == chosen,
        }
        for a in analyses[:MAX_LISTED]
    ]
    message = f"{len(analyses)} analyses of {org}/{project}, newest first."
    if len(analyses) > len(data):
        message += f" The first {len(data)} are listed."
    return ActionResult(True, message, data)


async def _select_analysis(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    selection = load_selection(ctx.store, ctx.profile_id)
    if selection is None:
        raise ValueError(_need_project(ctx))
    wanted = args["analysis"]
    analyses = await _analyses(ctx, selection.org, selection.project)
    if wanted == "latest":
        latest = latest_finished(analyses)
        if latest is None:
            return ActionResult(
                False, f"{selection.project_label} has no finished analysis to export yet."
            )
        analysis = latest
    else:
        match = [a for a in analyses if a.slug == wanted]
        if not match:
            finished = [a.slug for a in analyses if a.is_finished]
            recent = ", ".join(finished[:5]) or "none"
            return ActionResult(
                False,
                f"There is no analysis {wanted} in {selection.project_label}. "
                f"Recent finished ones: {recent}.",
            )
        analysis = match[0]
        if not analysis.is_finished:
            return ActionResult(
                False,
                f"The analysis {wanted} of {selection.project_label} is not finished "
                f"(status {analysis.status}); choose a finished one.",
            )
    save_selection(
        ctx.store, ctx.profile_id, Selection(selection.org, selection.project, analysis.slug)
    )
    return ActionResult(
        True,
        f"Selected the analysis {analysis.label} of {selection.project_label} "
        f"in profile {ctx.profile_name}.",
        {"analysis": analysis.slug},
    )


def _describe_select_analysis(ctx: ActionContext, args: dict[str, Any]) -> str:
    selection = load_selection(ctx.store, ctx.profile_id)
    project = selection.project_label if selection else "(no project)"
    which = (
        "the latest finished analysis"
        if args["analysis"] == "latest"
        else f"the analysis {args['analysis']}"
    )
    return f"Select {which} of {project} in profile {ctx.profile_name}."


def _check_export(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    selection = load_selection(ctx.store, ctx.profile_id)
    if selection is None or not selection.analysis:
        return (
            f"Profile {ctx.profile_name} has no project and analysis chosen: use set_project and "
            "select_analysis first."
        )
    return None


def _edge_budget(ctx: ActionContext, args: dict[str, Any]) -> int:
    """The edges asked for, else the setting `export.max_edges` (stored or from the environment)."""
    if args.get("max_edges") is not None:
        return int(args["max_edges"])
    settings = ctx.settings
    if settings is not None and hasattr(settings, "setting"):
        try:
            return int(settings.setting(declared.MAX_EDGES, ctx.store.kv).value)
        except Exception:  # an unusable value: `config list` names it; fall back to the default
            log.warning("Unusable %s setting; using the default edge budget", declared.MAX_EDGES)
    default = declared.get(declared.MAX_EDGES).default
    return int(getattr(settings, "max_edges", None) or default)


def _budget_source(ctx: ActionContext, args: dict[str, Any]) -> str:
    if args.get("max_edges") is not None:
        return "as asked"
    return f"the app's setting {declared.MAX_EDGES}"


async def _start_export(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    selection = load_selection(ctx.store, ctx.profile_id)
    if selection is None or not selection.analysis or ctx.start_export is None:
        raise ValueError(_check_export(ctx, args) or "Exports are not available here.")
    budget = _edge_budget(ctx, args)
    reply = await ctx.start_export(selection.org, selection.project, selection.analysis, budget)
    if isinstance(reply, ActionResult):
        return reply
    message = (
        f"Started the link-graph export of {selection.project_label}, analysis "
        f"{selection.analysis}, up to {budget:,} edges. Use export_status to follow it."
    )
    if isinstance(reply, str) and reply.strip():
        message = reply.strip()
    return ActionResult(
        True,
        message,
        {
            "org": selection.org,
            "project": selection.project,
            "analysis": selection.analysis,
            "max_edges": budget,
        },
    )


def _describe_export(ctx: ActionContext, args: dict[str, Any]) -> str:
    selection = load_selection(ctx.store, ctx.profile_id)
    if selection is None or not selection.analysis:
        return f"Start a link-graph export in profile {ctx.profile_name} (no analysis is chosen)."
    budget = _edge_budget(ctx, args)
    text = (
        f"Start a link-graph export of {selection.project_label}, analysis {selection.analysis}, "
        f"up to {budget:,} edges ({_budget_source(ctx, args)}), for profile {ctx.profile_name}. "
        f"This spends Botify credits, up to {credits_text(budget, 0)}."
    )
    if selection.key in ctx.store.exported_analyses():
        text += " This analysis was already exported before."
    return text


async def _export_status(ctx: ActionContext, args: dict[str, Any]) -> ActionResult:
    recent = [
        {
            "project": f"{e.org}/{e.project}",
            "analysis": e.analysis,
            "edges": e.edges,
            "urls": e.urls,
            "links_path": e.links_path,
            "finished_at": e.created_at,
        }
        for e in ctx.store.exports(ctx.profile_id).list()[:3]
    ]
    running: Any = None
    if ctx.export_status is None:
        message = "Live export status is not available here."
    else:
        running = ctx.export_status()
        if inspect.isawaitable(running):
            running = await running
        if isinstance(running, str):
            message = running.strip() or "No export is running."
        elif running:
            message = "An export is running."
        else:
            message = "No export is running."
    message += f" {len(recent)} finished export(s) listed, newest first." if recent else ""
    return ActionResult(True, message, {"running": running, "recent": recent})


ACTIONS: list[Action] = [
    Action(
        name="set_project",
        description="Choose the Botify project of the current profile.",
        parameters=object_schema(
            {
                "project": string_schema(
                    "ORG/PROJECT or a project URL such as https://app.botify.com/ORG/PROJECT/."
                )
            },
            ["project"],
        ),
        run=_set_project,
        describe=_describe_set_project,
        check=_check_project,
        changes=True,
        aliases={"url": "project", "project_url": "project", "name": "project", "slug": "project"},
        example={"project": "acme/example.com"},
    ),
    Action(
        name="list_analyses",
        description="List the analyses (crawls) of the chosen Botify project, newest first.",
        parameters=object_schema(
            {"project": string_schema("Another project (ORG/PROJECT) instead of the chosen one.")}
        ),
        run=_list_analyses,
        describe=lambda ctx, a: "List the analyses of the Botify project.",
        check=_check_list_analyses,
        requires="botify_client_factory",
        aliases={"url": "project", "project_url": "project"},
        example={"project": "acme/example.com"},
    ),
    Action(
        name="select_analysis",
        description="Choose the analysis of the chosen project to export; 'latest' for the newest.",
        parameters=object_schema(
            {
                "analysis": string_schema(
                    "An analysis slug from list_analyses (such as 20241108 or 20241108-2), "
                    "or latest.",
                    pattern=r"latest|\d{8}(-\d+)?",
                )
            },
            ["analysis"],
        ),
        run=_select_analysis,
        describe=_describe_select_analysis,
        check=lambda ctx, a: _need_project(ctx),
        changes=True,
        requires="botify_client_factory",
        aliases={
            "slug": "analysis",
            "analysis_id": "analysis",
            "analysis_slug": "analysis",
            "id": "analysis",
            "name": "analysis",
        },
        example={"analysis": "latest"},
    ),
    Action(
        name="start_linkgraph_export",
        description=(
            "Start exporting the link graph of the chosen analysis. Spends Botify credits; the "
            "user always confirms."
        ),
        parameters=object_schema(
            {
                "max_edges": integer_schema(
                    "Most edges to export; the app's setting when omitted.",
                    minimum=1,
                    maximum=declared.MAX_EDGE_BUDGET,
                )
            }
        ),
        run=_start_export,
        describe=_describe_export,
        check=_check_export,
        changes=True,
        spends_credits=True,
        requires="start_export",
        aliases={
            "edges": "max_edges",
            "limit": "max_edges",
            "max": "max_edges",
            "edge_limit": "max_edges",
        },
        example={"max_edges": 1_000_000},
    ),
    Action(
        name="export_status",
        description="Say whether a link-graph export is running and list the latest finished ones.",
        parameters=object_schema(),
        run=_export_status,
        describe=lambda ctx, a: "Report the link-graph export status.",
    ),
]

"""`botifython linkgraph`: the link-graph export from scripts and SSH, over the core export run.

The run (`core.export_run`) checks, asks, exports, records and cleans; this module picks the
analysis, renders the progress, asks the credits question at the terminal (or takes --yes, or
stops with exit code 3), owns the signals, and prints the summary. The Botify core is imported
inside the handler, so other commands stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botifython_tui.cli.botify_commands import (
    PROJECT_HELP,
    botify_client,
    chosen_profile,
    parse_project,
    stored_token,
    warn,
)
from botifython_tui.cli.output import (
    CommandError,
    NeedsConfirmation,
    emit_json,
    fail,
    note,
    say,
)
from botifython_tui.config import Settings
from botifython_tui.core.store import Profile, Store
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    from botifython_tui.core.botify import BotifyClient, ProjectRef
    from botifython_tui.core.linkgraph import ExportPlan, FileWritten

log = get_logger("cli.botify")

DEFAULT_POLL_INTERVAL = 0.5
_ANALYSIS_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- arguments -----------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """`1000000`, `1_000_000` or `1,000,000`; at least 1."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number of edges, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text!r}")
    return value


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "linkgraph",
        parents=[common],
        help="export an analysis's internal link graph to CSV",
        description="Export the internal links (source,target) of an analysis, down to the "
        "deepest crawl depth that fits the edge budget, plus node attributes to one level "
        "deeper; then summarise the graph. Exports cost Botify credits (0.1 per link, 1 per "
        "URL): the estimate is shown first and asked about at a terminal; without a terminal "
        "pass --yes (exit code 3 otherwise).",
    )
    sub.add_argument(
        "--project",
        required=True,
        metavar="URL",
        help=PROJECT_HELP + "; a URL naming an analysis selects it",
    )
    sub.add_argument(
        "--analysis", metavar="SLUG", help="analysis to export (default: the latest one)"
    )
    sub.add_argument(
        "--max-edges",
        type=positive_int,
        metavar="N",
        help="edge budget (default 1,000,000, env BOTIFYTHON_MAX_EDGES)",
    )
    sub.add_argument(
        "--no-meta", action="store_true", help="skip the node attributes file (one job less)"
    )
    sub.add_argument(
        "--yes",
        action="store_true",
        help="spend the credits without asking (and replace an export of the same depth)",
    )
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="show the chosen depth, the counts and the credits an export would spend; "
        "create no job",
    )
    sub.add_argument(
        "--profile", metavar="NAME", help="record the export in this profile, not the current one"
    )
    sub.add_argument(
        "--json",
        action="store_true",
        help="print the export summary as one JSON document (progress goes to standard error)",
    )
    sub.add_argument(
        "--poll-interval",
        type=seconds,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help=f"first pause between job status checks (default {DEFAULT_POLL_INTERVAL})",
    )
    sub.set_defaults(handler=linkgraph)


# --- the export ----------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one export has done so far, for the messages of a cancel or a failure."""

    analysis: str = ""
    latest: bool = False
    written: list[FileWritten] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    plan: ExportPlan | None = None
    ending: Any = None  # the run's typed ending: ExportRecorded, ExportDeclined, ExportRunFailed
    signal: int | None = None  # SIGTERM, SIGHUP or SIGINT, when one stopped the export


SIGNAL_NAMES = {
    signal.SIGINT: "interrupted",
    signal.SIGTERM: "terminated (SIGTERM)",
    signal.SIGHUP: "the terminal closed (SIGHUP)",
}


def _stopper(run: _Run) -> Any:
    """What a signal does once the partial files are gone: the export's task stops."""
    task = asyncio.current_task()
    assert task is not None

    def stop(signum: int) -> None:
        run.signal = run.signal or signum
        task.cancel()

    return stop


def _question(store: Store, plan: ExportPlan) -> str:
    from botifython_tui.core.export_files import credits_text
    from botifython_tui.core.export_run import replacement_note

    text = (
        f"Exporting {plan.org}/{plan.project} {plan.analysis} at depth {plan.depth} spends "
        f"{credits_text(plan.edges, plan.nodes)}."
    )
    note = replacement_note(store, plan)
    return f"{text} {note}" if note else text


def _confirmer(args: argparse.Namespace, store: Store, run: _Run) -> Any:
    """The export's question: never asked under --dry-run, answered by --yes, else by a yes
    typed at the terminal (without one, the command stops with exit code 3)."""

    async def confirm(plan: ExportPlan) -> bool:
        run.plan = plan
        if args.dry_run:
            return False
        question = _question(store, plan)
        if args.yes:
            # A message, not output: standard error (stdout may be --json).
            note(single_line(question))
            return True
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise NeedsConfirmation(
                f"{question} Nothing was exported and no job was created: re-run with --yes to "
                "confirm (or --dry-run to see this without being asked)."
            )
        # On standard error: the question must reach the person even when the output is piped.
        sys.stderr.write(f"{single_line(question)}\nExport? [y/N] ")
        sys.stderr.flush()
        answer = await _answer_line()
        return answer.strip().lower() in ("y", "yes")

    return confirm


async def _answer_line() -> str:
    """A line typed at the terminal, waited for without blocking the event loop: Ctrl+C, SIGTERM
    and SIGHUP at the question stop the command at once (exit 128 + the signal)."""
    loop = asyncio.get_running_loop()
    typed: asyncio.Future[None] = loop.create_future()
    fd = sys.stdin.fileno()
    loop.add_reader(fd, lambda: typed.done() or typed.set_result(None))
    try:
        await typed
    finally:
        loop.remove_reader(fd)
    return sys.stdin.readline()  # a whole line is there: the terminal hands them over on Enter


def _plan_lines(plan: ExportPlan, store: Store) -> list[str]:
    from botifython_tui.core.export_files import credits_text
    from botifython_tui.core.export_run import earlier_export

    lines = [
        f"Dry run for {single_line(plan.org)}/{single_line(plan.project)}, analysis "
        f"{single_line(plan.analysis)}: no job was created, no credits were spent.",
        f"  depth    {plan.depth}: {single_line(plan.reason)}",
        f"  links    {plan.edges:,} (sources at depth ≤ {plan.depth})",
    ]
    if plan.include_meta:
        lines.append(f"  URLs     {plan.nodes:,} (node attributes to depth {plan.depth + 1})")
    lines.append(f"  credits  {credits_text(plan.edges, plan.nodes)}")
    for path in plan.paths:
        lines.append(f"  file     {single_line(str(path))}")
    earlier = earlier_export(store, plan)
    if earlier is not None:
        lines.append(
            f"  note     already exported at depth {plan.depth}{earlier[0]}: an export "
            "replaces those files (and asks first)"
        )
    return lines


async def _pick_analysis(
    client: BotifyClient, org: str, project: str, wanted: str | None
) -> tuple[str, bool]:
    """The requested analysis, checked to exist and be finished, or the latest finished one."""
    from botifython_tui.core.botify import latest_finished

    found = await client.analyses(org, project)
    latest = latest_finished(found)
    listing = f"List them with: botifython analyses --project {org}/{project}"
    if wanted is None:
        if latest is None:
            raise CommandError(f"{org}/{project} has no finished analysis to export.")
        return latest.slug, True
    match = next((a for a in found if a.slug == wanted), None)
    if match is None:
        raise CommandError(f"{org}/{project} has no analysis {wanted}. {listing}")
    if not match.is_finished:
        raise CommandError(
            f"The analysis {wanted} of {org}/{project} is not finished ({match.status}); "
            f"only finished analyses can be exported. {listing}"
        )
    return wanted, latest is not None and latest.slug == wanted


async def _export(
    args: argparse.Namespace,
    settings: Settings,
    store: Store,
    profile: Profile,
    ref: ProjectRef,
    token: str,
    run: _Run,
) -> None:
    """The analysis, then the core export run: free counts, the question, the paid jobs, the
    record. Its events are rendered; its ending is left in `run.ending`."""
    from botifython_tui.cli.progress import make_renderer
    from botifython_tui.core.export_files import signals_remove_parts
    from botifython_tui.core.export_run import (
        ExportDeclined,
        ExportRecorded,
        ExportRunFailed,
        run_export,
    )
    from botifython_tui.core.linkgraph import (
        FileWritten,
        JobCreated,
        LinkGraphRequest,
        PlanReady,
        PollPolicy,
    )

    max_edges = args.max_edges or settings.max_edges
    with signals_remove_parts(_stopper(run)):  # partial files go at once
        async with botify_client(settings, token) as client:
            wanted = args.analysis or ref.analysis
            run.analysis, run.latest = await _pick_analysis(client, ref.org, ref.project, wanted)
            which = " (the latest)" if run.latest else ""
            note(
                f"Exporting the link graph of {ref.org}/{ref.project}, analysis {run.analysis}"
                f"{which}, at most {max_edges:,} edges, into {settings.downloads_dir}"
            )
            request = LinkGraphRequest(
                org=ref.org,
                project=ref.project,
                analysis=run.analysis,
                max_edges=max_edges,
                include_meta=not args.no_meta,
            )
            events = run_export(
                client,
                request,
                settings.downloads_dir,
                store=store,
                profile_id=profile.id,
                confirm=_confirmer(args, store, run),
                poll=PollPolicy(first_delay=args.poll_interval),
            )
            with contextlib.ExitStack() as shown:
                renderer: Any = shown.enter_context(make_renderer())
                async for event in events:
                    if isinstance(event, ExportRecorded | ExportDeclined | ExportRunFailed):
                        run.ending = event
                        continue
                    if renderer is None:  # the paid part, after the question
                        log.info("linkgraph export %s/%s/%s", ref.org, ref.project, run.analysis)
                        renderer = shown.enter_context(make_renderer())
                    if isinstance(event, JobCreated):
                        run.jobs.append(event.job_id)
                    elif isinstance(event, FileWritten):
                        run.written.append(event)
                    renderer.handle(event)
                    if isinstance(event, PlanReady):  # the question comes next, on its own
                        shown.close()
                        renderer = None


def _stopped(run: _Run) -> int:
    """A signal or Ctrl+C stopped the export: say what is left, exit 128 + the signal."""
    signum = run.signal or signal.SIGINT
    log.info("linkgraph export stopped by signal %d", signum)
    jobs = f" The Botify job {', '.join(run.jobs)} may still finish on Botify." if run.jobs else ""
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        print(
            f"botifython: {SIGNAL_NAMES.get(signum, 'stopped')}: the export was cancelled, its "
            f"partial files removed; earlier exports were left as they were.{single_line(jobs)}",
            file=sys.stderr,
            flush=True,
        )
    return 128 + int(signum)


def linkgraph(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.botify import BotifyError
    from botifython_tui.core.export_files import remove_stale_parts
    from botifython_tui.core.export_run import (
        ExportDeclined,
        ExportRecorded,
        ExportRunFailed,
        write_failure,
    )

    ref = parse_project(args.project)
    if args.analysis is not None and not _ANALYSIS_SLUG.match(args.analysis):
        raise CommandError(f"{args.analysis!r} is not a valid analysis slug (like 20241108).")
    profile = chosen_profile(args, store)  # an unknown --profile fails before any credit is spent
    token = stored_token(settings)
    if settings.downloads_dir.is_dir():  # what a killed earlier run left behind
        remove_stale_parts(settings.downloads_dir)

    run = _Run()
    try:
        asyncio.run(_export(args, settings, store, profile, ref, token, run))
    except NeedsConfirmation as exc:
        return fail(str(exc), code=3)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return _stopped(run)
    except BotifyError as exc:  # before the run: the token, the project, the analyses
        log.warning("linkgraph export failed: %s", exc, exc_info=True)
        if run.signal is not None:
            return _stopped(run)
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        log.warning("linkgraph export failed", exc_info=True)
        if run.signal is not None:
            return _stopped(run)
        raise CommandError(str(write_failure(settings.downloads_dir, exc))) from exc
    if run.signal is not None:
        return _stopped(run)

    ending = run.ending
    if isinstance(ending, ExportRunFailed):
        raise CommandError(str(ending.error))
    if isinstance(ending, ExportDeclined):
        if args.dry_run:
            for line in _plan_lines(ending.plan, store):
                say(line)
            return 0
        raise CommandError("Not confirmed: nothing was exported, no credits were spent.")
    assert isinstance(ending, ExportRecorded), ending
    from botifython_tui.cli.progress import summary_lines

    record, result = ending.record, ending.result
    if args.json:
        outcome = _analytics_after_export(record, tell=note)
        emit_json(
            {
                "export_id": record.id,
                "profile": profile.name,
                "org": result.org,
                "project": result.project,
                "analysis": result.analysis,
                "depth": result.depth,
                "edges": result.edges,
                "urls": result.urls,
                "files": [str(w.path) for w in run.written],
                "summary": result.summary,
                "analytics": {key: outcome[key] for key in ("report", "nodes") if key in outcome},
            }
        )
        return 0
    say("")
    for line in summary_lines(result, run.written):
        say(line)
    say(f"Recorded as export {record.id} in profile {single_line(profile.name)}.")
    _analytics_after_export(record)
    return 0


def _analytics_after_export(record: Any, tell: Any = say) -> dict[str, Any]:
    """PageRank, depth, leaks…: the nodes file and the report beside the CSVs.

    In a process of its own, so the export's process keeps its small memory peak. `tell` prints
    the messages (standard error under --json). Returns what the analytics process reported.
    """
    import json
    import subprocess

    tell("Computing the link-graph analytics …")
    command = [sys.executable, "-m", "botifython_tui.core.analytics", record.links_path]
    command += [record.meta_path] if record.meta_path else []
    command += ["--depth", str(record.depth), "--fresh"]
    outcome: dict[str, Any] = {}
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.stderr:
            log.warning("analytics process: %s", done.stderr[-2000:])
        if done.stdout.strip():
            outcome = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, ValueError):
        log.warning("analytics after the export failed", exc_info=True)
    if "report" not in outcome:
        reason = outcome.get("error") or "see the log"
        warn(
            f"The analytics could not be computed now ({reason}); run: botifython summary "
            f"{record.id}"
        )
        return outcome
    for warning in outcome.get("warnings") or []:
        warn(str(warning))
    tell(f"Analytics in {outcome['seconds']:.1f} s: {single_line(outcome['report'])}")
    tell(f"Per-page PageRank and depth: {single_line(outcome['nodes'])}")
    tell(f"See them with: botifython summary {record.id}")
    return outcome

"""One link-graph export from the first count to the recorded result, for every front end.

`run_export` wraps `LinkGraphExport`: it prepares (free checks, depth, counts), asks the injected
`confirm(plan)` before any job is created (the front end decides how: a dialog, a y/N prompt,
--yes), runs the job, records the export in the store, and removes the files it created when it
is cancelled or fails (never a file that was there before). It yields the job's progress events and
ends with one typed ending: `ExportRecorded`, `ExportDeclined` or `ExportRunFailed`. Cancelling
the task that iterates it stops the export (the partial and new files go, then CancelledError).

The safety of the files themselves (partial names, checks before replacing, Range retries, the
preflight) lives in `LinkGraphExport`; this module only owns what surrounds one run.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botifython_tui.core.botify import BotifyClient, BotifyError
from botifython_tui.core.linkgraph import (
    Event,
    ExportFailed,
    ExportFinished,
    ExportPlan,
    LinkGraphExport,
    LinkGraphRequest,
    LinkGraphResult,
    PollPolicy,
)
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    from botifython_tui.core.store import ExportRecord, Store

log = get_logger("export_run")

Confirm = Callable[[ExportPlan], Awaitable[bool]]


@dataclass(frozen=True)
class ExportRecorded:
    """The files are written and the export is recorded in the profile."""

    record: ExportRecord
    result: LinkGraphResult


@dataclass(frozen=True)
class ExportDeclined:
    """The confirmation said no: no job was created, no credits were spent."""

    plan: ExportPlan


@dataclass(frozen=True)
class ExportRunFailed:
    """The export failed; the files it had created are gone, earlier ones are untouched."""

    error: BotifyError  # ExportFailed or another BotifyError: it carries its own title

    @property
    def title(self) -> str:
        return self.error.title


RunEvent = Event | ExportRecorded | ExportDeclined | ExportRunFailed


def earlier_export(store: Store, plan: ExportPlan) -> tuple[str, list[Path]] | None:
    """An export of the same org, project, analysis and depth whose files this one replaces:
    `(" on 2024-11-08" or "", the files on disk)`, or None."""
    same = [
        record
        for profile in store.profiles.list()
        for record in store.exports(profile.id).list()
        if (record.org, record.project, record.analysis, record.depth)
        == (plan.org, plan.project, plan.analysis, plan.depth)
    ]
    existing = plan.existing_files()
    if not same and not existing:
        return None
    when = f" on {max(r.created_at for r in same)[:10]}" if same else ""
    return when, existing


def replacement_note(store: Store, plan: ExportPlan) -> str | None:
    """In words, what an export at this depth would replace (None when nothing): both front ends
    put it in their credits question."""
    earlier = earlier_export(store, plan)
    if earlier is None:
        return None
    when, existing = earlier
    names = ", ".join(p.name for p in existing) or "its files"
    return (
        f"The analysis was already exported at depth {plan.depth}{when}: this export replaces "
        f"{names}."
    )


def write_failure(downloads_dir: Path, exc: OSError) -> ExportFailed:
    """A file of the export could not be written (disk full, read-only, no permission)."""
    where = f" ({exc.filename})" if exc.filename else ""
    fix = (
        "free some space or choose another --downloads-dir"
        if exc.errno == errno.ENOSPC
        else "check the folder's permissions or choose another --downloads-dir"
    )
    return ExportFailed(
        f"Could not write the export into {downloads_dir}{where}: {exc.strerror or exc}. "
        f"Earlier exports were left as they were; {fix}."
    )


def _remove(paths: set[Path]) -> None:
    """Files this run created before it stopped: a half export is worse than none."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _record(store: Store, profile_id: int, result: LinkGraphResult) -> ExportRecord:
    return store.exports(profile_id).add(
        org=result.org,
        project=result.project,
        analysis=result.analysis,
        depth=result.depth,
        edges=result.edges,
        urls=result.urls,
        links_path=str(result.links_path),
        meta_path=str(result.meta_path) if result.meta_path else None,
        summary=result.summary,
        files=result.files,
    )


async def run_export(
    client: BotifyClient,
    request: LinkGraphRequest,
    downloads_dir: Path,
    *,
    store: Store,
    profile_id: int,
    confirm: Confirm,
    poll: PollPolicy | None = None,
    retry_delay: float = 1.0,
) -> AsyncIterator[RunEvent]:
    """Prepare, ask, run, record; yields the job's events, then exactly one typed ending (unless
    cancelled, or `confirm` itself raises: then the exception goes to the caller)."""
    job = LinkGraphExport(client, request, downloads_dir, poll=poll, retry_delay=retry_delay)
    created: set[Path] = set()  # the files of this run that did not exist before it
    try:
        async for event in job.prepare():  # free: folder checks, depth, counts
            yield event
        plan = job.plan
        assert plan is not None
        if not await confirm(plan):
            yield ExportDeclined(plan)
            return
        created = {path for path in plan.paths if not path.exists()}
        result: LinkGraphResult | None = None
        async for event in job.run(plan):
            if isinstance(event, ExportFinished):
                result = event.result
            yield event
        if result is None:
            raise ExportFailed("The export ended without a result; nothing was recorded.")
        record = _record(store, profile_id, result)
    except OSError as exc:
        _remove(created)
        log.warning("the export could not write its files", exc_info=True)
        failure: BotifyError = write_failure(downloads_dir, exc)
    except BotifyError as exc:  # ExportFailed too
        _remove(created)
        log.warning("the export failed: %s", exc, exc_info=True)
        failure = exc
    except BaseException:  # cancelled, interrupted, or a bug: no half export stays behind
        _remove(created)
        raise
    else:
        yield ExportRecorded(record, result)
        return
    yield ExportRunFailed(failure)

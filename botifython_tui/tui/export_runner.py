"""The app's one link-graph export at a time: started from the Botify screen, the Link graphs screen
or the assistant, run in an app worker (leaving a screen never stops it), shown wherever it is
looked at.

The runner owns the run's typed state (`RunningExport`, None when idle), the credits question
(a `Confirm` pushed over whatever screen is in view), cancel, the signals that stop the app, and
the app events (`ExportStarted` … `ExportCancelled`). The run itself is `core.export_run`. Progress
reaches the screens as `ExportRunner.Progressed` / `ExportRunner.Ended`, posted to the app, which
hands them to the screen in view (like `AppEventPosted`); a screen shown later catches up from
`RunningExport.history`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from botifython_tui.core import app_events
from botifython_tui.core.export_files import credits_text, signals_remove_parts
from botifython_tui.core.export_run import (
    ExportDeclined,
    ExportRecorded,
    ExportRunFailed,
    replacement_note,
    run_export,
)
from botifython_tui.core.linkgraph import (
    BytesDownloaded,
    DepthChosen,
    Event,
    ExportFinished,
    ExportPlan,
    FileWritten,
    JobCreated,
    JobPolled,
    LinkGraphRequest,
    PlanReady,
    PollPolicy,
    StepStarted,
)
from botifython_tui.core.selection import Selection
from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.messages import WorkFailed

if TYPE_CHECKING:
    from textual.worker import Worker

    from botifython_tui.core.store import ExportRecord

log = get_logger("tui.export")

ACTION = "export the link graph"  # the worker's name: "Could not export the link graph"


class ExportPhase(Enum):
    PREPARING = "counting"  # free: folder checks, depth, counts
    CONFIRMING = "asking"  # the credits question is on screen
    RUNNING = "exporting"  # jobs created: credits are being spent
    CANCELLING = "cancelling"


class ExportBusy(RuntimeError):
    """An export already runs: one at a time."""

    title = "Export running"


class ExportRefused(RuntimeError):
    """The export cannot start: `missing` is what it lacks ("token" or "analysis")."""

    title = "Cannot export"

    def __init__(self, what: str, missing: str) -> None:
        super().__init__(f"{what} (Botify, F4).")  # said on other screens and to the assistant
        self.what = f"{what}."  # said on the Botify screen
        self.missing = missing


@dataclass
class RunningExport:
    """One run: what it exports, how it goes, what it showed so far (for a screen shown later)."""

    selection: Selection
    budget: int
    profile_id: int
    started_at: float = field(default_factory=time.monotonic)
    phase: ExportPhase = ExportPhase.PREPARING
    status: str = "Starting…"  # the last status line
    history: list[Event] = field(default_factory=list)  # every event but the byte counts
    last_bytes: BytesDownloaded | None = None
    ended: tuple[str, str] | None = None  # (log line, status) once it ended other than recorded
    record: ExportRecord | None = None  # once recorded

    @property
    def label(self) -> str:
        return f"{self.selection.project_label} {self.selection.analysis}"

    @property
    def title(self) -> str:
        return f"Export of {self.label}, at most {self.budget:,} edges"

    def describe(self) -> str:
        """One line for the assistant and the status lines: what runs and where it is."""
        return single_line(f"{self.label}: {self.status}")


def status_text(event: Event) -> str | None:
    """The status line an event brings, or None when it does not change it."""
    if isinstance(event, StepStarted):
        return event.message
    if isinstance(event, DepthChosen):
        return f"depth {event.depth} chosen"
    if isinstance(event, PlanReady):
        plan = event.plan
        return f"depth {plan.depth}: {credits_text(plan.edges, plan.nodes)}; asking to confirm"
    if isinstance(event, JobCreated | JobPolled):
        status = "CREATED" if isinstance(event, JobCreated) else event.status
        return f"{event.kind} job {single_line(status)}"
    if isinstance(event, BytesDownloaded):
        return f"downloading the {event.kind} file"
    if isinstance(event, FileWritten):
        return f"wrote {event.path.name}"
    if isinstance(event, ExportFinished):
        return "done"
    return None


class ExportRunner:
    """Owned by the app (`app.exports`): starts, asks, runs, cancels and reports one export."""

    # Tests make polling quick; None means the job's default (growing pauses up to 10 s).
    poll_policy: PollPolicy | None = None
    retry_delay: float = 1.0  # seconds before fetching a broken download again (× the try)

    class Progressed(Message, bubble=False):
        """The running export moved on (an event of the job); `run` holds all of it so far."""

        def __init__(self, run: RunningExport, event: Event | None = None) -> None:
            super().__init__()
            self.run = run
            self.event = event  # None: the run started (or its phase changed)

    class Ended(Message, bubble=False):
        """The export ended: `run.record` when recorded, else `run.ended` says how."""

        def __init__(self, run: RunningExport) -> None:
            super().__init__()
            self.run = run

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: RunningExport | None = None  # the running export; None when idle
        self.last: RunningExport | None = None  # the latest run, running or ended
        self.worker: Worker | None = None

    # --- starting and stopping ------------------------------------------------------------------
    def start(self, selection: Selection | None, budget: int) -> RunningExport:
        """Start an export (counts first, then the credits question); raises ExportBusy while
        one runs, ExportRefused without a token or an analysis (in that order)."""
        from botifython_tui.tui.screens.botify_support import token_store

        if self.state is not None:
            raise ExportBusy(
                f"An export of {self.state.label} is already running: wait for it, or cancel it "
                "(Esc on the Botify screen, F4)."
            )
        if not token_store(self.app).load():
            raise ExportRefused("Connect with your Botify API token first", "token")
        if selection is None or not selection.analysis:
            raise ExportRefused("Choose a project and an analysis first", "analysis")
        run = RunningExport(selection, budget, self.app.profile.id)
        self.state = self.last = run
        self._post(self.Progressed(run))
        self.worker = self.app.run_worker(
            self._run(run), name=ACTION, group="export", exit_on_error=False
        )
        return run

    async def start_for_assistant(self, selection: Selection, budget: int) -> str:
        """The assistant's approved action: start it where the user is (never switching their
        screen); what happened, in words for the model."""
        from botifython_tui.core.actions import ActionRefused

        try:
            run = self.start(selection, budget)
        except (ExportBusy, ExportRefused) as exc:
            raise ActionRefused(str(exc)) from exc
        return (
            f"Started the link-graph export of {run.label} with a budget of {budget:,} edges: "
            "once the depth and counts are known, the app shows the credits it will spend and "
            "asks before any job starts."
        )

    def cancel(self) -> bool:
        """Stop the running export (its files go); False when there is none to stop."""
        run, worker = self.state, self.worker
        if run is None or worker is None or worker.is_finished:
            return False
        run.phase = ExportPhase.CANCELLING
        run.status = "Cancelling…"
        self._post(self.Progressed(run))
        worker.cancel()
        return True

    # --- the run ----------------------------------------------------------------------------------
    def _post(self, message: Message) -> None:
        self.app.post_message(message)

    def _event(self, run: RunningExport, event: Event) -> None:
        if isinstance(event, BytesDownloaded):
            run.last_bytes = event
        else:
            run.history.append(event)
        if isinstance(event, JobCreated):
            run.phase = ExportPhase.RUNNING
        text = status_text(event)
        if text is not None:
            run.status = text
        self._post(self.Progressed(run, event))

    def credit_question(self, plan: ExportPlan) -> str:
        """What the export will spend, and which earlier files of the same depth it replaces."""
        text = (
            f"Export the link graph of {plan.org}/{plan.project} {plan.analysis} at depth "
            f"{plan.depth}? It spends {credits_text(plan.edges, plan.nodes)}."
        )
        note = replacement_note(self.app.store, plan)
        return neutralize_controls(f"{text}\n\n{note}" if note else text)

    async def _confirm(self, run: RunningExport, plan: ExportPlan) -> bool:
        from botifython_tui.tui.screens.dialogs import Confirm

        run.phase = ExportPhase.CONFIRMING
        run.status = (
            f"Depth {plan.depth}: {credits_text(plan.edges, plan.nodes)}. Confirm to start."
        )
        self._post(self.Progressed(run))
        dialog = Confirm(self.credit_question(plan), confirm_label="Export")
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(result: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(result))

        self.app.push_screen(dialog, callback=answered)  # over whatever screen is in view
        try:
            return await answer
        except asyncio.CancelledError:
            if dialog.is_attached:  # cancelled while asking (a signal, Esc): the question is moot
                dialog.dismiss(False)
            raise

    async def _run(self, run: RunningExport) -> None:
        from botifython_tui.tui.screens.botify_support import make_client

        selection = run.selection
        assert selection.analysis is not None
        where = selection.key
        request = LinkGraphRequest(*where, max_edges=run.budget)
        self.app.publish(app_events.ExportStarted(*where, max_edges=run.budget))
        ending: Any = None
        with signals_remove_parts(self._on_signal):  # partial files go at once
            try:
                async with make_client(self.app, interactive=False) as client:
                    async for event in run_export(
                        client,
                        request,
                        self.app.settings.downloads_dir,
                        store=self.app.store,
                        profile_id=run.profile_id,
                        confirm=lambda plan: self._confirm(run, plan),
                        poll=self.poll_policy,
                        retry_delay=self.retry_delay,
                    ):
                        if isinstance(event, ExportRecorded | ExportDeclined | ExportRunFailed):
                            ending = event
                        else:
                            self._event(run, event)
            except asyncio.CancelledError:
                run.ended = (
                    "Cancelled: no files were kept. A job already started on Botify may still "
                    "finish there.",
                    "Cancelled: no files were kept.",
                )
                self._end(run)
                with contextlib.suppress(Exception):  # the app may be closing
                    self.app.publish(app_events.ExportCancelled(*where))
                raise
            except Exception as exc:  # the token, the network before the run, or a bug
                run.ended = (f"Failed: {single_line(str(exc))}", "Failed: see the message above.")
                self._end(run)
                self.app.publish(app_events.ExportFailure(*where, reason=str(exc)))
                self.app.post_message(WorkFailed(exc, ACTION, announced=True))
                return
        if isinstance(ending, ExportRecorded):
            self._recorded(run, ending.record)
        elif isinstance(ending, ExportRunFailed):
            error = ending.error
            run.ended = (f"Failed: {single_line(str(error))}", "Failed: see the message above.")
            self._end(run)
            self.app.publish(app_events.ExportFailure(*where, reason=str(error)))
            self.app.post_message(WorkFailed(error, ACTION, announced=True))
        else:  # declined
            run.ended = (
                "Not exported: no job was created, no credits were spent.",
                "Not exported.",
            )
            self._end(run)
            self.app.publish(app_events.ExportCancelled(*where))

    def _end(self, run: RunningExport) -> None:
        if self.state is run:
            self.state = None
        run.status = run.ended[1] if run.ended else "done"
        self._post(self.Ended(run))

    def _recorded(self, run: RunningExport, record: ExportRecord) -> None:
        run.record = record
        self._end(run)
        self.app.publish(
            app_events.ExportFinished(
                record.org,
                record.project,
                record.analysis,
                depth=record.depth,
                edges=record.edges,
                urls=record.urls,
                links_file=Path(record.links_path).name,
            )
        )
        self._remember(record)
        self.app.notify(
            f"{run.label}: {record.urls:,} URLs, {record.edges:,} edges at depth ≤ "
            f"{record.depth}. Press v on the Botify screen (F4) to visualise it in Cosmograph.",
            title="Export finished",
            markup=False,
        )

    def _remember(self, record: ExportRecord) -> None:
        """The export's short summary joins the assistant's memory (never its rows)."""
        from botifython_tui.core.memory.feeds import remembers_chats

        if not remembers_chats(self.app.store.kv):  # the same switch: tests and opt-outs skip it
            return
        try:
            memory = self.app.memory
        except ImportError:  # the memory stack is not installed
            return

        def remember() -> None:
            memory.remember_export(record)

        self.app.run_worker(
            remember, thread=True, group="memory", name="remember the export", exit_on_error=False
        )

    # --- signals: SIGINT, SIGTERM and SIGHUP during an export -------------------------------
    def _on_signal(self, signum: int) -> None:
        """The partial files are gone already: stop the export, quit with 128 + the signal."""
        code = 128 + int(signum)
        if self.worker is not None:
            self.worker.cancel()
        self.app.exit(return_code=code)
        # After SIGHUP the terminal is gone and drawing may block: do not wait for ever.
        asyncio.get_running_loop().call_later(5.0, os._exit, code)

"""The link-graph export job: choose a depth within the edge budget, count the URLs, then export
the edges and the node attributes as Botify jobs, download them and put the files in place only
when every one came in whole."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from botifython_tui.core.botify import BotifyClient, BotifyError
from botifython_tui.core.export_files import (
    ExportFilesError,
    check_rows,
    estimate_bytes,
    fingerprint,
    forget_part,
    part_name,
    preflight,
    remove_stale_parts,
)
from botifython_tui.core.graph_stats import LinkGraphStats
from botifython_tui.core.linkgraph.download import StagedFile, download, int_or_none, kind_label
from botifython_tui.core.linkgraph.events import (
    DepthChecked,
    DepthChosen,
    Event,
    ExportFinished,
    FileWritten,
    JobCreated,
    JobPolled,
    LinkGraphResult,
    Notice,
    PlanReady,
    StepStarted,
)
from botifython_tui.core.linkgraph.plan import (
    DIRECT_DOWNLOAD_CAP,
    MAX_DEPTH,
    META_FIELDS,
    SEARCH_CONSOLE_METRICS,
    ExportFailed,
    ExportPlan,
    LinkGraphRequest,
    PollPolicy,
    export_paths,
)
from botifython_tui.core.text import single_line


class LinkGraphExport:
    """One run of the link-graph export. Cancel the task that iterates `run()` to stop it.

    `prepare()` counts (no credits spent) and yields a `PlanReady`; a front end shows the plan's
    credits and asks, then calls `run(plan)`. `run()` without a plan does both at once.
    """

    def __init__(
        self,
        client: BotifyClient,
        request: LinkGraphRequest,
        downloads_dir: Path,
        *,
        poll: PollPolicy | None = None,
        progress_interval: float = 0.1,
        retry_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.request = request
        self.downloads_dir = downloads_dir
        self.poll = poll or PollPolicy()
        self.progress_interval = progress_interval
        self.retry_delay = retry_delay
        self.stats = LinkGraphStats()
        self.crawl = f"crawl.{request.analysis}"
        self.plan: ExportPlan | None = None
        self._staged: list[StagedFile] = []

    async def prepare(self) -> AsyncIterator[Event]:
        """Check the folder, choose the depth, count the URLs: everything before paying."""
        request = self.request
        if request.max_edges < 1:
            raise ExportFailed("The edge budget must be at least 1.")
        _preflight(self.downloads_dir)
        remove_stale_parts(self.downloads_dir)

        yield StepStarted(
            "depth", f"Choosing the crawl depth for at most {request.max_edges:,} edges"
        )
        depth_result: list[DepthChosen] = []
        async for event in self._choose_depth(depth_result):
            yield event
        chosen = depth_result[0]
        links_path, meta_path = export_paths(
            self.downloads_dir, request.org, request.project, request.analysis, chosen.depth
        )
        nodes = await self.count_urls(chosen.depth + 1) if request.include_meta else 0
        edges = min(chosen.edges, request.max_edges, DIRECT_DOWNLOAD_CAP)
        _preflight(self.downloads_dir, estimate_bytes(edges, nodes))
        self.plan = ExportPlan(
            org=request.org,
            project=request.project,
            analysis=request.analysis,
            depth=chosen.depth,
            edges=edges,
            nodes=min(nodes, DIRECT_DOWNLOAD_CAP),
            reason=chosen.reason,
            include_meta=request.include_meta,
            links_path=links_path,
            meta_path=meta_path if request.include_meta else None,
        )
        yield PlanReady(self.plan)

    async def run(self, plan: ExportPlan | None = None) -> AsyncIterator[Event]:
        if plan is None:
            async for event in self.prepare():
                yield event
            plan = self.plan
            assert plan is not None
        else:
            _preflight(self.downloads_dir)
        self.plan = plan
        self._staged = []
        try:
            async for event in self._run(plan):
                yield event
        finally:
            self.discard_staged()  # cancelled or failed: the partial files go, nothing else

    def discard_staged(self) -> None:
        for staged in self._staged:
            with contextlib.suppress(OSError):
                staged.part.unlink()
            forget_part(staged.part)
        self._staged = []

    async def _run(self, plan: ExportPlan) -> AsyncIterator[Event]:
        yield StepStarted("links", f"Exporting the links of depth ≤ {plan.depth}")
        links_query = {
            "collections": [self.crawl],
            "query": {
                "dimensions": ["url", f"{self.crawl}.outlinks_internal.graph.url"],
                "metrics": [],
                "filters": self._depth_filter(plan.depth),
            },
        }
        async for event in self._export(
            "links",
            links_query,
            max(plan.edges, 1),
            plan.edges,
            plan.links_path,
            ["source", "target"],
            self.stats.add_edge_lines,
            self.stats.add_edge_block,
        ):
            yield event

        meta_columns: list[str] = []
        if plan.meta_path is not None:
            yield StepStarted(
                "meta",
                f"Exporting the node attributes to depth {plan.depth + 1} "
                "(pagetype, compliance, PageRank, …)",
            )
            meta_query, meta_columns = await self._meta_query(plan.depth + 1)
            if "impressions" not in meta_columns:
                yield Notice(
                    "This project has no Search Console data: the node file has no clicks or impressions."
                )
            depth_column = meta_columns.index("depth")

            def on_meta_rows(lines: list[bytes]) -> list[bytes]:
                rows = list(csv.reader(io.StringIO(b"\n".join(lines).decode("utf-8", "replace"))))
                self.stats.add_node_rows(rows, depth_column)
                return lines

            async for event in self._export(
                "meta",
                meta_query,
                DIRECT_DOWNLOAD_CAP,
                plan.nodes,
                plan.meta_path,
                meta_columns,
                on_meta_rows,
            ):
                yield event

        yield StepStarted("summary", "Summarising the graph")
        summary = await asyncio.to_thread(self.stats.summary)
        summary["depth"] = plan.depth
        summary["depth_reason"] = plan.reason
        # Every file came in whole: only now do they replace an earlier export's files.
        files = await asyncio.to_thread(self._commit)
        for staged in files:
            yield FileWritten(staged.kind, staged.final, staged.rows, staged.final.stat().st_size)
        yield ExportFinished(
            LinkGraphResult(
                org=plan.org,
                project=plan.project,
                analysis=plan.analysis,
                depth=plan.depth,
                edges=self.stats.edges,
                urls=summary["urls"],
                links_path=plan.links_path,
                meta_path=plan.meta_path,
                summary=summary,
                meta_columns=meta_columns,
                files={
                    staged.kind: {
                        "path": str(staged.final),
                        "size": staged.final.stat().st_size,
                        "rows": staged.rows,
                        "fingerprint": fingerprint(staged.final),
                    }
                    for staged in files
                },
            )
        )

    def _commit(self) -> list[StagedFile]:
        staged = list(self._staged)
        for item in staged:
            os.replace(item.part, item.final)
            forget_part(item.part)
        self._staged = []
        return staged

    # --- step 1: depth ------------------------------------------------------------------------
    def _depth_filter(self, depth: int) -> dict[str, Any]:
        return {"field": f"{self.crawl}.depth", "predicate": "lte", "value": depth}

    async def _count(self, metric: Any, depth: int, what: str) -> int:
        body = {
            "collections": [self.crawl],
            "query": {"dimensions": [], "metrics": [metric], "filters": self._depth_filter(depth)},
        }
        result = await self.client.query(self.request.org, self.request.project, body)
        try:
            value = result["results"][0]["metrics"][0]
        except (KeyError, IndexError, TypeError):
            return 0
        try:
            return int(value or 0)
        except (TypeError, ValueError) as exc:
            raise BotifyError(
                f"Botify returned {what} that is not a number: {single_line(repr(value))[:80]}."
            ) from exc

    async def count_edges(self, depth: int) -> int:
        metric = {"function": "sum", "args": [f"{self.crawl}.outlinks_internal.nb.total"]}
        return await self._count(metric, depth, "an edge count")

    async def count_urls(self, depth: int) -> int:
        """URLs at depth <= `depth`: the rows of the node-attribute export."""
        return await self._count({"field": f"{self.crawl}.count_urls_crawl"}, depth, "a URL count")

    async def _choose_depth(self, out: list[DepthChosen]) -> AsyncIterator[Event]:
        budget = self.request.max_edges
        best: tuple[int, int] | None = None
        previous: int | None = None
        reason = f"depth {MAX_DEPTH} is the deepest this app checks"
        for depth in range(1, MAX_DEPTH + 1):
            edges = await self.count_edges(depth)
            within = edges <= budget
            yield DepthChecked(depth, edges, within)
            if not within:
                if best is None:
                    best = (1, edges)
                    reason = f"even depth 1 has {edges:,} edges, over the budget of {budget:,}; using depth 1"
                else:
                    reason = (
                        f"depth {depth} would have {edges:,} edges, over the budget of {budget:,}"
                    )
                break
            if previous is not None and edges <= previous:
                reason = f"the count stopped growing at depth {depth - 1} ({previous:,} edges)"
                break
            best = (depth, edges)
            previous = edges
        assert best is not None
        if best[1] == 0:
            raise ExportFailed(
                f"The analysis {self.request.analysis} of {self.request.org}/{self.request.project} "
                "has no internal links to export."
            )
        chosen = DepthChosen(best[0], best[1], reason)
        out.append(chosen)
        yield chosen

    # --- step 2–4: a job, polled, downloaded ----------------------------------------------
    async def _meta_query(self, depth: int) -> tuple[dict[str, Any], list[str]]:
        collections = await self.client.collections(self.request.org, self.request.project)
        search_console = next((c for c in collections if c.get("id") == "search_console"), None)
        dimensions: list[Any] = ["url", *(f"{self.crawl}.{name}" for name, _ in META_FIELDS)]
        columns = ["id", *(column for _, column in META_FIELDS)]
        query: dict[str, Any] = {
            "collections": [self.crawl],
            "query": {
                "dimensions": dimensions,
                "metrics": [],
                "filters": self._depth_filter(depth),
            },
        }
        if search_console is not None:
            query["collections"].append("search_console")
            query["periods"] = [list(self._search_console_period(search_console))]
            query["query"]["metrics"] = [name for name, _ in SEARCH_CONSOLE_METRICS]
            columns += [column for _, column in SEARCH_CONSOLE_METRICS]
        return query, columns

    def _search_console_period(self, collection: dict[str, Any]) -> tuple[str, str]:
        """The 28 days before the crawl, within what the collection covers."""
        crawl_day = _slug_date(self.request.analysis) or date.today()
        end = _parse_day(collection.get("date_end")) or crawl_day
        end = min(end, crawl_day)
        start = end - timedelta(days=27)
        begin = _parse_day(collection.get("date_start"))
        if begin and start < begin:
            start = begin
        return start.isoformat(), end.isoformat()

    async def _export(
        self,
        kind: str,
        query: dict[str, Any],
        export_size: int,
        counted: int,
        final_path: Path,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None = None,
    ) -> AsyncIterator[Event]:
        payload = {
            "username": self.request.org,
            "project": self.request.project,
            "connector": "direct_download",
            "formatter": "csv",
            "formatter_config": {"print_header": True, "print_delimiter": True},
            "extra_config": {},
            "export_size": export_size,
            "query": query,
        }
        job = await self.client.create_job(payload)
        job_id = str(job.get("job_id") or job.get("job_url"))
        yield JobCreated(kind, job_id)
        done: list[dict[str, Any]] = []
        async for event in self._wait_for(kind, job, done):
            yield event
        results = done[0]
        nb_lines = int_or_none(results.get("nb_lines"))
        staged: list[StagedFile] = []
        async for event in self._download(
            kind, str(results["download_url"]), final_path, columns, on_rows, on_block, staged
        ):
            yield event
        rows = staged[0].rows
        problem = check_rows(kind_label(kind), rows, counted, nb_lines, export_size)
        if problem:
            self.discard_staged()
            raise ExportFailed(
                f"{problem} Botify job {job_id}. Your earlier files were left as they were and "
                "nothing was recorded; no further job was started. Botify may still be "
                "writing the file: try again in a few minutes."
            )

    async def _wait_for(
        self, kind: str, job: dict[str, Any], out: list[dict[str, Any]]
    ) -> AsyncIterator[Event]:
        started = time.monotonic()
        delay = self.poll.first_delay
        state = job
        while True:
            status = str(state.get("job_status") or "").upper()
            elapsed = time.monotonic() - started
            if state is not job:
                yield JobPolled(kind, status or "UNKNOWN", elapsed)
            if status == "DONE":
                results = state.get("results")
                url = results.get("download_url") if isinstance(results, dict) else None
                if not url:
                    raise ExportFailed(
                        f"Botify finished the {kind} export (job {job.get('job_id')}) but gave no "
                        "download link. Try the export again."
                    )
                out.append(results)
                return
            if status == "FAILED":
                raise ExportFailed(
                    f"Botify reports that the {kind} export failed (job {job.get('job_id')}): "
                    f"{_failure_reason(state)}"
                )
            if elapsed > self.poll.deadline:
                raise ExportFailed(
                    f"The {kind} export (job {job.get('job_id')}) did not finish within "
                    f"{_duration(self.poll.deadline)}. It may still finish on Botify."
                )
            await asyncio.sleep(min(delay, max(0.0, self.poll.deadline - elapsed) + 0.01))
            delay = min(delay * self.poll.factor, self.poll.max_delay)
            state = await self.client.job(job)

    def _reset_stats(self, kind: str) -> None:
        """A download restarted from its first byte: forget what its first try counted."""
        if kind == "links":
            self.stats.out_degree.clear()
            self.stats.in_degree.clear()
            self.stats.edges = 0
            self.stats.skipped_rows = 0
        else:
            self.stats.depths.clear()

    async def _download(
        self,
        kind: str,
        url: str,
        final_path: Path,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None,
        out_staged: list[StagedFile],
    ) -> AsyncIterator[Event]:
        """Download one file of the export; it stays staged until `_commit`."""
        staged: list[StagedFile] = []
        async for event in download(
            self.client,
            kind,
            url,
            part_name(final_path, f"{id(self):x}"),
            final_path,
            spool_dir=self.downloads_dir,
            columns=columns,
            on_rows=on_rows,
            on_block=on_block,
            on_restart=lambda: self._reset_stats(kind),
            staged=staged,
            progress_interval=self.progress_interval,
            retry_delay=self.retry_delay,
        ):
            yield event
        self._staged.extend(staged)  # no await since the download ended: nothing is lost
        out_staged.extend(staged)


def _preflight(downloads_dir: Path, need_bytes: int = 0) -> None:
    try:
        preflight(downloads_dir, need_bytes)
    except ExportFilesError as exc:
        raise ExportFailed(str(exc)) from exc


def _failure_reason(state: dict[str, Any]) -> str:
    error = state.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    for key in ("failure_reason", "message", "error"):
        if state.get(key):
            return str(state[key])
    return "no reason given."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"


def _slug_date(slug: str) -> date | None:
    match = re.match(r"^(\d{8})", slug)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def _parse_day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None

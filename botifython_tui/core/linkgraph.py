"""The link-graph export: choose a depth, export edges and node attributes, write CSVs atomically.

`LinkGraphExport.run()` is an async generator of small progress events; the TUI, the CLI and the
tests all drive the same job and only differ in how they render the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from botifython_tui.core.botify import BotifyClient, BotifyError
from botifython_tui.core.csv_stream import (
    CHUNK_SIZE,
    CsvRewriter,
    StreamDecoder,
    TruncatedDownload,
)
from botifython_tui.core.export_files import (
    ExportFilesError,
    check_rows,
    credits,
    estimate_bytes,
    export_base,
    fingerprint,
    forget_part,
    part_name,
    preflight,
    register_part,
    remove_stale_parts,
    safe_name_part,
)
from botifython_tui.core.graph_stats import LinkGraphStats
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

log = get_logger("linkgraph")

__all__ = [  # also re-exported for the front ends, the tests and the benchmark
    "CHUNK_SIZE",
    "CsvRewriter",
    "ExportFilesError",
    "StreamDecoder",
    "TruncatedDownload",
    "remove_stale_parts",
    "safe_name_part",
]

DEFAULT_MAX_EDGES = 1_000_000
DOWNLOAD_RETRIES = 3  # a dropped download is fetched again from the same link, never a new job
DIRECT_DOWNLOAD_CAP = 1_000_000  # rows per direct-download export
MAX_DEPTH = 30


class ExportFailed(BotifyError):
    """The export job failed, finished without a file, or the file was unusable."""

    title = "Export failed"


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepStarted:
    step: str  # "depth", "links", "meta", "summary"
    message: str


@dataclass(frozen=True)
class DepthChecked:
    depth: int
    edges: int
    within_budget: bool


@dataclass(frozen=True)
class DepthChosen:
    depth: int
    edges: int
    reason: str


@dataclass(frozen=True)
class JobCreated:
    kind: str  # "links" or "meta"
    job_id: str


@dataclass(frozen=True)
class JobPolled:
    kind: str
    status: str
    elapsed: float


@dataclass(frozen=True)
class BytesDownloaded:
    kind: str
    received: int
    total: int | None


@dataclass(frozen=True)
class FileWritten:
    kind: str
    path: Path
    rows: int
    size: int


@dataclass(frozen=True)
class Notice:
    message: str


@dataclass(frozen=True)
class ExportPlan:
    """What an export will do, known before any job is created (no credits spent yet)."""

    org: str
    project: str
    analysis: str
    depth: int
    edges: int  # links counted at depth <= depth
    nodes: int  # URLs counted at depth <= depth + 1 (0 without node attributes)
    reason: str
    include_meta: bool
    links_path: Path
    meta_path: Path | None

    @property
    def credits(self) -> float:
        return credits(self.edges, self.nodes)

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.links_path, self.meta_path) if p is not None]

    def existing_files(self) -> list[Path]:
        """Files of an earlier export at the same depth that this one would replace."""
        return [p for p in self.paths if p.exists()]


@dataclass(frozen=True)
class PlanReady:
    plan: ExportPlan


@dataclass(frozen=True)
class LinkGraphResult:
    org: str
    project: str
    analysis: str
    depth: int
    edges: int
    urls: int
    links_path: Path
    meta_path: Path | None
    summary: dict[str, Any]
    meta_columns: list[str] = field(default_factory=list)
    # per kind: {"path", "size", "rows", "fingerprint"}, recorded to check the files later
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportFinished:
    result: LinkGraphResult


Event = (
    StepStarted
    | DepthChecked
    | DepthChosen
    | PlanReady
    | JobCreated
    | JobPolled
    | BytesDownloaded
    | FileWritten
    | Notice
    | ExportFinished
)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollPolicy:
    """Poll a job with growing pauses, up to an overall deadline."""

    first_delay: float = 0.5
    factor: float = 1.6
    max_delay: float = 10.0
    deadline: float = 3600.0


@dataclass(frozen=True)
class LinkGraphRequest:
    org: str
    project: str
    analysis: str
    max_edges: int = DEFAULT_MAX_EDGES
    include_meta: bool = True


# The node attributes exported next to the edges: (field under crawl.<analysis>, column name).
# Columns in this order (a contract other readers rely on); see the README's "Node attributes".
META_FIELDS: list[tuple[str, str]] = [
    ("depth", "depth"),
    ("segments.pagetype.value", "pagetype"),
    ("http_code", "http_code"),
    ("compliant.is_compliant", "is_compliant"),
    ("canonical.to.equal", "canonical_is_self"),
    ("canonical.to.url", "canonical_to"),
    ("sitemaps.present", "in_sitemap"),
    ("inlinks_internal.nb.unique", "inlinks"),
    ("outlinks_internal.nb.unique", "outlinks"),
    ("internal_page_rank.value", "pagerank_botify"),
    ("internal_page_rank.position", "pagerank_botify_position"),
]
SEARCH_CONSOLE_METRICS: list[tuple[str, str]] = [
    ("search_console.period_0.count_impressions", "impressions"),
    ("search_console.period_0.count_clicks", "clicks"),
]


# --- file names --------------------------------------------------------------------------------


def export_paths(
    downloads_dir: Path, org: str, project: str, analysis: str, depth: int
) -> tuple[Path, Path]:
    """The links and node-attribute files of one export; both names carry the depth."""
    base = export_base(org, project, analysis)
    links = downloads_dir / f"{base}_linkgraph_depth-{int(depth)}.csv"
    meta = downloads_dir / f"{base}_depth-{int(depth)}_meta.csv"
    root = downloads_dir.resolve()
    for path in (links, meta):
        if path.resolve().parent != root:
            raise ExportFailed(f"Refusing to write {path}: it is outside {root}.")
    return links, meta


# --- the job -----------------------------------------------------------------------------------


@dataclass
class _Staged:
    """A downloaded file, checked, waiting beside its final name until every file is ready."""

    kind: str
    part: Path
    final: Path
    rows: int


class _Pipeline:
    """One download's decode → rewrite → count chain, writing to the partial file."""

    def __init__(
        self,
        out: BinaryIO,
        spool_dir: Path,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None,
    ) -> None:
        self.out = out
        self.decoder = StreamDecoder(spool_dir)
        self.rewriter = CsvRewriter(out, columns, on_rows, on_block)

    def consume(self, data: bytes) -> None:
        self.rewriter.feed(self.decoder.feed(data))

    def finish(self) -> None:
        self.rewriter.feed(self.decoder.finish())
        if self.decoder.kind == "zip":
            for chunk in self.decoder.zip_chunks():
                self.rewriter.feed(chunk)
        self.rewriter.finish()
        self.out.flush()
        os.fsync(self.out.fileno())


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
        self._staged: list[_Staged] = []

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

    def _commit(self) -> list[_Staged]:
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
        nb_lines = _int_or_none(results.get("nb_lines"))
        staged: list[_Staged] = []
        async for event in self._download(
            kind, str(results["download_url"]), final_path, columns, on_rows, on_block, staged
        ):
            yield event
        rows = staged[0].rows
        problem = check_rows(_label(kind), rows, counted, nb_lines, export_size)
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
        out_staged: list[_Staged],
    ) -> AsyncIterator[Event]:
        """Stream the file into a hidden partial file, resuming or restarting a broken download."""
        part = part_name(final_path, f"{id(self):x}")
        register_part(part)
        pending: asyncio.Future[Any] | None = None
        pipeline: _Pipeline | None = None
        attempt = 0
        try:
            with open(part, "wb") as out:
                os.chmod(part, 0o600)
                pipeline = _Pipeline(out, self.downloads_dir, columns, on_rows, on_block)
                received = 0  # bytes of the body taken in so far (where a resume starts)
                total: int | None = None
                resumable = False
                while True:
                    attempt += 1
                    try:
                        resumed = False
                        headers = {"Range": f"bytes={received}-"} if received else {}
                        async with (
                            _download_errors(kind),
                            self.client.download_stream(url, headers=headers) as response,
                        ):
                            if response.status_code >= 400:
                                raise _download_error(response.status_code, kind)
                            start = _resume_start(response) if received else 0
                            if received and start == received:
                                resumed = True
                            elif received:  # the server sent the whole file again
                                await asyncio.to_thread(pipeline.decoder.cleanup)
                                out.seek(0)
                                out.truncate()
                                self._reset_stats(kind)
                                pipeline = _Pipeline(
                                    out, self.downloads_dir, columns, on_rows, on_block
                                )
                                received = 0
                            length = _int_or_none(response.headers.get("content-length"))
                            if not resumed:
                                total = length
                            elif length is not None:
                                total = received + length
                            last_report = 0.0
                            yield BytesDownloaded(kind, received, total)
                            resumable = _identity(response)
                            chunks = response.aiter_raw() if resumable else response.aiter_bytes()
                            async for chunk in chunks:  # as it arrives: live progress
                                received += len(chunk)
                                # Decompressing and parsing run off the event loop: the UI stays live.
                                pending = asyncio.ensure_future(
                                    asyncio.to_thread(pipeline.consume, chunk)
                                )
                                await asyncio.shield(pending)
                                pending = None
                                now = time.monotonic()
                                if now - last_report >= self.progress_interval:
                                    last_report = now
                                    yield BytesDownloaded(kind, received, total)
                            if total is not None and received < total:
                                raise _Dropped(
                                    f"it stopped at {received:,} of {total:,} bytes", resume=True
                                )
                            yield BytesDownloaded(kind, received, total)
                        pending = asyncio.ensure_future(asyncio.to_thread(pipeline.finish))
                        await asyncio.shield(pending)
                        pending = None
                        break
                    except (_Dropped, TruncatedDownload) as exc:
                        pending = None
                        resume = isinstance(exc, _Dropped) and exc.resume and resumable
                        if attempt > DOWNLOAD_RETRIES:
                            raise ExportFailed(
                                f"The {_label(kind)} download of the finished Botify job kept "
                                f"breaking off ({exc.reason}) after {attempt} tries from the "
                                "same link; no new job was started and your earlier files were "
                                "left as they were. Check the connection and try again later "
                                "(a new export is a new job and spends credits)."
                            ) from exc
                        if not resume:  # a cut-short file: fetch it again from its first byte
                            await asyncio.to_thread(pipeline.decoder.cleanup)
                            out.seek(0)
                            out.truncate()
                            self._reset_stats(kind)
                            pipeline = _Pipeline(
                                out, self.downloads_dir, columns, on_rows, on_block
                            )
                            received = 0
                        where = f" from byte {received:,}" if received else ""
                        yield Notice(
                            f"The {_label(kind)} download broke off ({exc.reason}); fetching it "
                            f"again from the same link{where} (retry {attempt} of "
                            f"{DOWNLOAD_RETRIES}), no new job."
                        )
                        log.info("retrying the %s download: %s", kind, exc.reason)
                        await asyncio.sleep(self.retry_delay * attempt)
        except BaseException:
            if pending is not None:  # let the worker thread finish its chunk before cleaning up
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(pending), timeout=5)
            with contextlib.suppress(OSError):
                part.unlink()
            forget_part(part)
            raise
        finally:
            if pipeline is not None:
                pipeline.decoder.cleanup()
        staged = _Staged(kind, part, final_path, pipeline.rewriter.rows)
        self._staged.append(staged)
        out_staged.append(staged)


class _Dropped(Exception):
    """The connection closed before the whole body came: worth fetching again."""

    def __init__(self, reason: str, *, resume: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resume = resume


def _label(kind: str) -> str:
    return {"links": "links", "meta": "node attributes"}.get(kind, kind)


def _identity(response: Any) -> bool:
    """No content-encoding: the raw bytes are the file's, so byte offsets mean something."""
    return response.headers.get("content-encoding", "identity").lower() in ("", "identity")


def _resume_start(response: Any) -> int | None:
    """Where a 206 answer to our Range request starts (None: a 200 with the whole file)."""
    if response.status_code != 206:
        return None
    match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("content-range", ""))
    return int(match.group(1)) if match else None


def _preflight(downloads_dir: Path, need_bytes: int = 0) -> None:
    try:
        preflight(downloads_dir, need_bytes)
    except ExportFilesError as exc:
        raise ExportFailed(str(exc)) from exc


@contextlib.asynccontextmanager
async def _download_errors(kind: str) -> AsyncIterator[None]:
    """Network failures mid-download are retried from the same link; a stall too."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise _Dropped(f"it stalled: {type(exc).__name__}", resume=True) from exc
    except httpx.HTTPError as exc:
        raise _Dropped(str(exc) or type(exc).__name__, resume=True) from exc


def _download_error(status: int, kind: str) -> Exception:
    what = _label(kind)
    if status in (401, 403):
        return ExportFailed(
            f"The {what} download link was refused (HTTP {status}): Botify's export links "
            "expire. Your earlier files were left as they were; exporting again starts a new "
            "job (and spends credits)."
        )
    if status == 404:
        return ExportFailed(
            f"The {what} download link no longer exists (HTTP 404). Your earlier files were "
            "left as they were; exporting again starts a new job (and spends credits)."
        )
    if status >= 500:
        return _Dropped(f"HTTP {status}", resume=True)
    if status == 416:  # the resume point is past the file's end: fetch it whole again
        return _Dropped("HTTP 416 for the resume point", resume=False)
    return ExportFailed(f"The {what} download failed with HTTP {status}. Try again later.")


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


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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

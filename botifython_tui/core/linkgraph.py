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
import tempfile
import time
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from botifython_tui.core.botify import BotifyClient, BotifyError
from botifython_tui.core.graph_stats import LinkGraphStats
from botifython_tui.logs import get_logger

log = get_logger("linkgraph")

DEFAULT_MAX_EDGES = 1_000_000
DIRECT_DOWNLOAD_CAP = 1_000_000  # rows per direct-download export
MAX_DEPTH = 30
CHUNK_SIZE = 1 << 20


class ExportFailed(BotifyError):
    """The export job failed, finished without a file, or the file was unusable."""


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


@dataclass(frozen=True)
class ExportFinished:
    result: LinkGraphResult


Event = (
    StepStarted
    | DepthChecked
    | DepthChosen
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
META_FIELDS: list[tuple[str, str]] = [
    ("depth", "depth"),
    ("segments.pagetype.value", "pagetype"),
    ("compliant.is_compliant", "is_compliant"),
    ("canonical.to.equal", "canonical_is_self"),
    ("sitemaps.present", "in_sitemap"),
]
SEARCH_CONSOLE_METRICS: list[tuple[str, str]] = [
    ("search_console.period_0.count_impressions", "impressions"),
    ("search_console.period_0.count_clicks", "clicks"),
]


# --- file names --------------------------------------------------------------------------------


def safe_name_part(value: str) -> str:
    """A piece of a file name that cannot leave the folder or hide itself."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip(".-")
    # 60: three parts, the suffix and the hidden `.part-PID-ID` name stay within NAME_MAX (255)
    return cleaned[:60] or "unnamed"


def export_paths(
    downloads_dir: Path, org: str, project: str, analysis: str, depth: int
) -> tuple[Path, Path]:
    base = f"{safe_name_part(org)}_{safe_name_part(project)}_{safe_name_part(analysis)}"
    links = downloads_dir / f"{base}_linkgraph_depth-{int(depth)}.csv"
    meta = downloads_dir / f"{base}_meta.csv"
    root = downloads_dir.resolve()
    for path in (links, meta):
        if path.resolve().parent != root:
            raise ExportFailed(f"Refusing to write {path}: it is outside {root}.")
    return links, meta


def remove_stale_parts(downloads_dir: Path, older_than: float = 3600.0) -> int:
    """Partial files left by a killed process are hidden (`.name.part-…`); tidy old ones."""
    removed = 0
    now = time.time()
    for path in downloads_dir.glob(".*.part-*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > older_than:
                path.unlink()
                removed += 1
    return removed


# --- streaming decode and rewrite --------------------------------------------------------------


class TruncatedDownload(ExportFailed):
    pass


class StreamDecoder:
    """Recognise gzip, zip or plain CSV by its first bytes and decompress gzip as it arrives.

    Zip keeps its directory at the end, so a zip is spooled to a hidden file and read afterwards.
    """

    def __init__(self, spool_dir: Path) -> None:
        self.kind: str | None = None
        self._head = b""
        self._gzip: Any = None
        self._spool: BinaryIO | None = None
        self._spool_dir = spool_dir
        self.spool_path: Path | None = None

    def feed(self, data: bytes) -> bytes:
        if self.kind is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            data, self._head = self._head, b""
            if data[:2] == b"\x1f\x8b":
                self.kind = "gzip"
                self._gzip = zlib.decompressobj(wbits=31)
            elif data[:4] == b"PK\x03\x04":
                self.kind = "zip"
                fd, name = tempfile.mkstemp(
                    prefix=".export.part-", suffix=".zip", dir=self._spool_dir
                )
                self.spool_path = Path(name)
                self._spool = os.fdopen(fd, "wb")
            else:
                self.kind = "plain"
        if self.kind == "gzip":
            return self._gunzip(data)
        if self.kind == "zip":
            assert self._spool is not None
            self._spool.write(data)
            return b""
        return data

    def _gunzip(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                out.append(self._gzip.decompress(data))
            except zlib.error as exc:
                raise TruncatedDownload(
                    f"The downloaded export is not valid gzip ({exc})."
                ) from exc
            data = self._gzip.unused_data
            if data and self._gzip.eof:  # concatenated gzip members
                self._gzip = zlib.decompressobj(wbits=31)
            else:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        """Check the stream ended cleanly; returns any bytes still buffered."""
        if self.kind is None:  # fewer than 4 bytes in all
            self.kind = "plain"
            return self._head
        if self.kind == "gzip" and not self._gzip.eof:
            raise TruncatedDownload(
                "The download was cut short: the gzip stream ends before its end marker. "
                "Run the export again."
            )
        if self.kind == "zip" and self._spool is not None:
            self._spool.close()
        return b""

    def zip_chunks(self) -> Any:
        """Yield the CSV inside the spooled zip, chunk by chunk."""
        assert self.spool_path is not None
        try:
            with zipfile.ZipFile(self.spool_path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if not names:
                    raise ExportFailed("The downloaded zip holds no file.")
                name = next((n for n in names if n.lower().endswith(".csv")), names[0])
                with archive.open(name) as member:
                    while chunk := member.read(CHUNK_SIZE):
                        yield chunk
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise TruncatedDownload(
                f"The downloaded zip is damaged or cut short ({exc}). Run the export again."
            ) from exc

    def cleanup(self) -> None:
        if self._spool is not None and not self._spool.closed:
            self._spool.close()
        if self.spool_path is not None:
            with contextlib.suppress(OSError):
                self.spool_path.unlink()


class CsvRewriter:
    """Drop the `sep=,` hint, replace the header with our column names, write rows through.

    Rows reach `on_rows` in blocks of complete records (a quoted field may hold a newline, so a
    block only ends where the count of quote characters is even).
    """

    def __init__(
        self,
        out: BinaryIO,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None = None,
    ):
        self.out = out
        self.columns = columns
        self.on_rows = on_rows
        self.on_block = on_block  # a fast path for plain blocks; False means "use on_rows"
        self._pending = b""
        self._preamble_done = False
        self.rows = 0
        out.write((",".join(columns) + "\n").encode())

    def feed(self, data: bytes) -> None:
        if not data:
            return
        data = self._pending + data
        cut = data.rfind(b"\n")
        if cut < 0 or data.count(b'"', 0, cut) % 2:
            self._pending = data
            return
        block, self._pending = data[:cut], data[cut + 1 :]
        self._lines(block)

    def finish(self) -> None:
        if self._pending.strip():
            self._lines(self._pending)
        self._pending = b""

    def _lines(self, block: bytes) -> None:
        if (
            self.on_block is not None
            and self._preamble_done
            and block
            and b"\r" not in block
            and not block.startswith(b"\n")
            and self.on_block(block)
        ):
            self.out.write(block)
            self.out.write(b"\n")
            self.rows += block.count(b"\n") + 1
            return
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = block.split(b"\n")
        if b'"' in block:
            lines = _records(lines)
        if not self._preamble_done:
            lines = self._skip_preamble(lines)
        lines = [line for line in lines if line]
        if not lines:
            return
        kept = self.on_rows(lines)
        if kept:
            self.out.write(b"\n".join(kept) + b"\n")
            self.rows += len(kept)

    def _skip_preamble(self, lines: list[bytes]) -> list[bytes]:
        while lines and not lines[0].strip():
            lines = lines[1:]
        if not lines:
            return lines
        if lines[0].lstrip(b"\xef\xbb\xbf").lower().startswith(b"sep="):
            lines = lines[1:]
            while lines and not lines[0].strip():
                lines = lines[1:]
            if not lines:
                return lines
        self._preamble_done = True
        first = lines[0].lstrip(b"\xef\xbb\xbf").strip(b'"').lower()
        if first.startswith((b"http://", b"https://")):
            # no header line: the data starts at once (without the byte-order mark)
            return [lines[0].removeprefix(b"\xef\xbb\xbf"), *lines[1:]]
        return lines[1:]


def _records(lines: list[bytes]) -> list[bytes]:
    """Rejoin the physical lines of a record whose quoted field holds a newline."""
    records: list[bytes] = []
    current: list[bytes] = []
    in_quotes = False
    for line in lines:
        current.append(line)
        if line.count(b'"') % 2:
            in_quotes = not in_quotes
        if not in_quotes:
            records.append(b"\n".join(current))
            current = []
    if current:
        records.append(b"\n".join(current))
    return records


# --- the job -----------------------------------------------------------------------------------


class LinkGraphExport:
    """One run of the link-graph export. Cancel the task that iterates `run()` to stop it."""

    def __init__(
        self,
        client: BotifyClient,
        request: LinkGraphRequest,
        downloads_dir: Path,
        *,
        poll: PollPolicy | None = None,
        progress_interval: float = 0.1,
    ) -> None:
        self.client = client
        self.request = request
        self.downloads_dir = downloads_dir
        self.poll = poll or PollPolicy()
        self.progress_interval = progress_interval
        self.stats = LinkGraphStats()
        self.crawl = f"crawl.{request.analysis}"

    async def run(self) -> AsyncIterator[Event]:
        request = self.request
        if request.max_edges < 1:
            raise ExportFailed("The edge budget must be at least 1.")
        self.downloads_dir.mkdir(parents=True, exist_ok=True)
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

        yield StepStarted("links", f"Exporting the links of depth ≤ {chosen.depth}")
        export_size = min(max(chosen.edges, 1), request.max_edges, DIRECT_DOWNLOAD_CAP)
        links_query = {
            "collections": [self.crawl],
            "query": {
                "dimensions": ["url", f"{self.crawl}.outlinks_internal.graph.url"],
                "metrics": [],
                "filters": self._depth_filter(chosen.depth),
            },
        }
        async for event in self._export(
            "links",
            links_query,
            export_size,
            links_path,
            ["source", "target"],
            self.stats.add_edge_lines,
            self.stats.add_edge_block,
        ):
            yield event

        meta_columns: list[str] = []
        written_meta: Path | None = None
        if request.include_meta:
            yield StepStarted("meta", "Exporting the node attributes (pagetype, compliance, …)")
            meta_query, meta_columns = await self._meta_query(chosen.depth)
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
                "meta", meta_query, DIRECT_DOWNLOAD_CAP, meta_path, meta_columns, on_meta_rows
            ):
                yield event
            written_meta = meta_path

        yield StepStarted("summary", "Summarising the graph")
        summary = await asyncio.to_thread(self.stats.summary)
        summary["depth"] = chosen.depth
        summary["depth_reason"] = chosen.reason
        yield ExportFinished(
            LinkGraphResult(
                org=request.org,
                project=request.project,
                analysis=request.analysis,
                depth=chosen.depth,
                edges=self.stats.edges,
                urls=summary["urls"],
                links_path=links_path,
                meta_path=written_meta,
                summary=summary,
                meta_columns=meta_columns,
            )
        )

    # --- step 1: depth ------------------------------------------------------------------------
    def _depth_filter(self, depth: int) -> dict[str, Any]:
        return {"field": f"{self.crawl}.depth", "predicate": "lte", "value": depth}

    async def count_edges(self, depth: int) -> int:
        body = {
            "collections": [self.crawl],
            "query": {
                "dimensions": [],
                "metrics": [
                    {"function": "sum", "args": [f"{self.crawl}.outlinks_internal.nb.total"]}
                ],
                "filters": self._depth_filter(depth),
            },
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
                f"Botify returned an edge count that is not a number: {value!r}."
            ) from exc

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
        download_url: list[str] = []
        async for event in self._wait_for(kind, job, download_url):
            yield event
        async for event in self._download(
            kind, download_url[0], final_path, columns, on_rows, on_block
        ):
            yield event

    async def _wait_for(
        self, kind: str, job: dict[str, Any], out: list[str]
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
                out.append(str(url))
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

    async def _download(
        self,
        kind: str,
        url: str,
        final_path: Path,
        columns: list[str],
        on_rows: Callable[[list[bytes]], list[bytes]],
        on_block: Callable[[bytes], bool] | None = None,
    ) -> AsyncIterator[Event]:
        part = final_path.with_name(f".{final_path.name}.part-{os.getpid()}-{id(self):x}")
        decoder = StreamDecoder(self.downloads_dir)
        pending: asyncio.Future[Any] | None = None
        try:
            with open(part, "wb") as out:
                os.chmod(part, 0o644)
                rewriter = CsvRewriter(out, columns, on_rows, on_block)

                def consume(data: bytes) -> None:
                    rewriter.feed(decoder.feed(data))

                async with _download_errors(kind), self.client.download_stream(url) as response:
                    if response.status_code >= 400:
                        raise _download_error(response.status_code, kind)
                    total = _int_or_none(response.headers.get("content-length"))
                    received = 0
                    last_report = 0.0
                    yield BytesDownloaded(kind, 0, total)
                    async for chunk in response.aiter_bytes():  # as it arrives: live progress
                        received += len(chunk)
                        # Decompressing and parsing run off the event loop, so the UI stays live.
                        pending = asyncio.ensure_future(asyncio.to_thread(consume, chunk))
                        await asyncio.shield(pending)
                        pending = None
                        now = time.monotonic()
                        if now - last_report >= self.progress_interval:
                            last_report = now
                            yield BytesDownloaded(kind, received, total)
                    if total is not None and received < total:
                        raise TruncatedDownload(
                            f"The {kind} download stopped at {received:,} of {total:,} bytes. "
                            "Run the export again."
                        )
                    yield BytesDownloaded(kind, received, total)

                def finish() -> None:
                    rewriter.feed(decoder.finish())
                    if decoder.kind == "zip":
                        for chunk in decoder.zip_chunks():
                            rewriter.feed(chunk)
                    rewriter.finish()
                    out.flush()
                    os.fsync(out.fileno())

                pending = asyncio.ensure_future(asyncio.to_thread(finish))
                await asyncio.shield(pending)
                pending = None
            os.replace(part, final_path)
        except BaseException:
            if pending is not None:  # let the worker thread finish its chunk before cleaning up
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(pending), timeout=5)
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        finally:
            decoder.cleanup()
        yield FileWritten(kind, final_path, rewriter.rows, final_path.stat().st_size)


@contextlib.asynccontextmanager
async def _download_errors(kind: str) -> AsyncIterator[None]:
    """Network failures mid-download become one clear message."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise ExportFailed(
            f"The {kind} download stalled ({type(exc).__name__}). Run the export again."
        ) from exc
    except httpx.HTTPError as exc:
        raise ExportFailed(
            f"The {kind} download broke off: {exc or type(exc).__name__}. Run the export again."
        ) from exc


def _download_error(status: int, kind: str) -> ExportFailed:
    if status in (401, 403):
        return ExportFailed(
            f"The {kind} download link was refused (HTTP {status}): export links expire. "
            "Run the export again."
        )
    if status == 404:
        return ExportFailed(
            f"The {kind} download link no longer exists (HTTP 404). Run the export again."
        )
    return ExportFailed(f"The {kind} download failed with HTTP {status}. Try again later.")


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

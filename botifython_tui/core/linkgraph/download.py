"""One download of a finished export job: streamed into a hidden partial file through the decode →
rewrite → count pipeline, resumed or restarted from the same link when it breaks off (never a new
job), and staged beside its final name until every file of the export is ready."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from botifython_tui.core.botify import BotifyClient
from botifython_tui.core.csv_stream import CsvRewriter, StreamDecoder, TruncatedDownload
from botifython_tui.core.export_files import forget_part, register_part
from botifython_tui.core.linkgraph.events import BytesDownloaded, Event, Notice
from botifython_tui.core.linkgraph.plan import ExportFailed
from botifython_tui.logs import get_logger

log = get_logger("linkgraph")

DOWNLOAD_RETRIES = 3  # a dropped download is fetched again from the same link, never a new job


@dataclass
class StagedFile:
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


async def download(
    client: BotifyClient,
    kind: str,
    url: str,
    part: Path,
    final_path: Path,
    *,
    spool_dir: Path,
    columns: list[str],
    on_rows: Callable[[list[bytes]], list[bytes]],
    on_block: Callable[[bytes], bool] | None,
    on_restart: Callable[[], None],
    staged: list[StagedFile],
    progress_interval: float,
    retry_delay: float,
) -> AsyncIterator[Event]:
    """Stream the file into `part`, resuming or restarting a broken download; on success append
    the `StagedFile` to `staged`. `on_restart` forgets what a try counted before starting over."""
    register_part(part)
    pending: asyncio.Future[Any] | None = None
    pipeline: _Pipeline | None = None
    attempt = 0
    try:
        with open(part, "wb") as out:
            os.chmod(part, 0o600)
            pipeline = _Pipeline(out, spool_dir, columns, on_rows, on_block)
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
                        client.download_stream(url, headers=headers) as response,
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
                            on_restart()
                            pipeline = _Pipeline(out, spool_dir, columns, on_rows, on_block)
                            received = 0
                        length = int_or_none(response.headers.get("content-length"))
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
                            if now - last_report >= progress_interval:
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
                            f"The {kind_label(kind)} download of the finished Botify job kept "
                            f"breaking off ({exc.reason}) after {attempt} tries from the "
                            "same link; no new job was started and your earlier files were "
                            "left as they were. Check the connection and try again later "
                            "(a new export is a new job and spends credits)."
                        ) from exc
                    if not resume:  # a cut-short file: fetch it again from its first byte
                        await asyncio.to_thread(pipeline.decoder.cleanup)
                        out.seek(0)
                        out.truncate()
                        on_restart()
                        pipeline = _Pipeline(out, spool_dir, columns, on_rows, on_block)
                        received = 0
                    where = f" from byte {received:,}" if received else ""
                    yield Notice(
                        f"The {kind_label(kind)} download broke off ({exc.reason}); fetching it "
                        f"again from the same link{where} (retry {attempt} of "
                        f"{DOWNLOAD_RETRIES}), no new job."
                    )
                    log.info("retrying the %s download: %s", kind, exc.reason)
                    await asyncio.sleep(retry_delay * attempt)
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
    staged.append(StagedFile(kind, part, final_path, pipeline.rewriter.rows))


class _Dropped(Exception):
    """The connection closed before the whole body came: worth fetching again."""

    def __init__(self, reason: str, *, resume: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resume = resume


def kind_label(kind: str) -> str:
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
    what = kind_label(kind)
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


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

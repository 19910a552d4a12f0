"""The files of a link-graph export: names, partial files, checks before and after writing.

Every name carries the link graph's depth, so exports of one analysis at two depths never touch
each other's files. Partial downloads are hidden files named `.NAME.part-PID-ID`; the PID lets a
later start remove those of a process that no longer runs, and the live ones are registered here
so that a signal handler can remove them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botifython_tui.logs import get_logger

# Botify charges 1 credit per exported row and 0.1 per row of a links-graph export.
log = get_logger("export")

CREDITS_PER_EDGE = 0.1
CREDITS_PER_NODE = 1.0

# A generous estimate of the disk an export needs while it runs (the staged files sit beside the
# files they replace until the end): a links row is two URLs (~160 bytes in practice), a node row
# about 300 bytes; a zip export is also spooled compressed.
BYTES_PER_EDGE = 400
BYTES_PER_NODE = 800
SPACE_MARGIN = 16 * 1024 * 1024

# Row checks. `nb_lines` describes the very file Botify wrote, so a shortfall beyond 1% (at least
# 2 rows, for a header or `sep=` line counted or not) means the download lost rows. The depth
# step's count is a sum of per-URL link counts, not the file's row count (Botify may merge
# duplicate links), so without `nb_lines` only a file with fewer than half the rows is refused.
NB_LINES_TOLERANCE = 0.01
COUNT_TOLERANCE = 0.5

# A live process's partial file is kept; one older than this is removed anyway (its PID was
# reused by an unrelated process).
STALE_LIVE_PART = 24 * 3600.0

FINGERPRINT_BYTES = 64 * 1024

_PART = re.compile(r"\.part-(\d+)-")


class ExportFilesError(Exception):
    """The downloads folder cannot take the export; the message names the folder and why."""


# --- names -------------------------------------------------------------------------------------


def safe_name_part(value: str) -> str:
    """A piece of a file name that cannot leave the folder or hide itself."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip(".-")
    # 60: three parts, the suffix and the hidden `.part-PID-ID` name stay within NAME_MAX (255)
    return cleaned[:60] or "unnamed"


def export_base(org: str, project: str, analysis: str) -> str:
    return f"{safe_name_part(org)}_{safe_name_part(project)}_{safe_name_part(analysis)}"


def part_name(final: Path, token: str) -> Path:
    """The hidden partial file written beside `final` by this process."""
    return final.with_name(f".{final.name}.part-{os.getpid()}-{token}")


# --- live partial files ------------------------------------------------------------------------

_live_lock = threading.Lock()
_live_parts: set[Path] = set()


def register_part(path: Path) -> None:
    with _live_lock:
        _live_parts.add(path)


def forget_part(path: Path) -> None:
    with _live_lock:
        _live_parts.discard(path)


def live_parts() -> list[Path]:
    with _live_lock:
        return sorted(_live_parts)


def remove_live_parts() -> list[Path]:
    """Remove every partial file this process is writing (a signal arrived); safe to repeat."""
    with _live_lock:
        paths = sorted(_live_parts)
        _live_parts.clear()
    removed = []
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


EXPORT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_remove_parts(then: Callable[[int], None]) -> Iterator[None]:
    """While an export runs in this event loop: SIGINT, SIGTERM and SIGHUP remove its partial
    files at once (not when the task gets round to it), then `then(signum)` stops it the front
    end's way. The handlers from before are given back afterwards."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        removed = remove_live_parts()
        log.info("signal %d during an export: removed %s", signum, [str(p) for p in removed])
        then(signum)

    installed: list[tuple[int, Any]] = []
    for signum in EXPORT_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            previous = signal.getsignal(signum)
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append((signum, previous))
    try:
        yield
    finally:
        for signum, previous in installed:
            with contextlib.suppress(RuntimeError, ValueError, TypeError):
                loop.remove_signal_handler(signum)
                if previous is not None:
                    signal.signal(signum, previous)


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


def remove_stale_parts(downloads_dir: Path, older_than: float | None = None) -> int:
    """Remove partial files (`.name.part-PID-…`) left by a process that no longer runs.

    Those of a running process are kept (unless older than a day: its PID was reused). A name
    without a PID is removed once older than `older_than` (an hour by default). `older_than=0`
    removes every partial file not registered by this process.
    """
    removed = 0
    now = time.time()
    mine = set(live_parts())
    try:
        candidates = list(downloads_dir.glob(".*.part-*"))
    except OSError:
        return 0
    for path in candidates:
        if path in mine:
            continue
        with contextlib.suppress(OSError):
            age = now - path.stat().st_mtime
            match = _PART.search(path.name)
            if older_than is not None and age > older_than:
                stale = True
            elif match:
                pid = int(match.group(1))
                stale = not _pid_running(pid) or (pid != os.getpid() and age > STALE_LIVE_PART)
            else:
                stale = age > (3600.0 if older_than is None else older_than)
            if stale:
                path.unlink()
                removed += 1
    return removed


# --- before paying: the folder can take the files -----------------------------------------------


def estimate_bytes(edges: int, nodes: int) -> int:
    return edges * BYTES_PER_EDGE + nodes * BYTES_PER_NODE + SPACE_MARGIN


def _mb(size: float) -> str:
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size / 1000:,.0f} kB"


def preflight(downloads_dir: Path, need_bytes: int = 0) -> None:
    """The folder exists (or is created 0700), takes a file, and has room; else ExportFilesError."""
    folder = downloads_dir
    try:
        if folder.exists() and not folder.is_dir():
            raise ExportFilesError(
                f"The downloads folder {folder} is a file, not a folder: choose another "
                "with --downloads-dir (or BOTIFYTHON_DOWNLOADS_DIR)."
            )
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except ExportFilesError:
        raise
    except OSError as exc:
        raise ExportFilesError(
            f"The downloads folder {folder} cannot be created: {exc.strerror or exc}. "
            "Create it yourself or choose another with --downloads-dir. No export was started."
        ) from exc
    try:
        fd, probe = tempfile.mkstemp(prefix=f".probe.part-{os.getpid()}-", dir=folder)
    except OSError as exc:
        reason = (
            "it is read-only or not yours"
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            else exc.strerror or str(exc)
        )
        if exc.errno == errno.ENOSPC:
            reason = "the disk holding it is full"
        raise ExportFilesError(
            f"Cannot write into the downloads folder {folder}: {reason}. Fix its permissions "
            "or choose another with --downloads-dir. No export was started, no credits spent."
        ) from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    if need_bytes <= 0:
        return
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < need_bytes:
        raise ExportFilesError(
            f"Not enough free space in the downloads folder {folder}: {_mb(free)} free, and "
            f"this export may need up to {_mb(need_bytes)}. Free some space or choose another "
            "folder with --downloads-dir. No export was started, no credits spent."
        )


# --- after downloading: the rows are all there --------------------------------------------------


def check_rows(
    what: str, rows: int, counted: int, nb_lines: int | None, export_size: int
) -> str | None:
    """Why a downloaded file must be refused (None when its row count is plausible)."""
    expected_from = "Botify's row count for the file" if nb_lines is not None else "the count"
    expected = nb_lines if nb_lines is not None else counted
    expected = min(max(expected, 0), export_size)
    if rows == 0 and (counted > 0 or (nb_lines or 0) > 0):
        return (
            f"The {what} export came back empty (a header and no rows) although Botify counted "
            f"{max(counted, nb_lines or 0):,} rows."
        )
    if nb_lines is not None:
        allowed = max(2, int(expected * NB_LINES_TOLERANCE))
        if rows < expected - allowed:
            return (
                f"The {what} export holds {rows:,} rows where {expected_from} says {expected:,}: "
                "the file was cut short."
            )
        return None
    if rows < expected * COUNT_TOLERANCE:
        return (
            f"The {what} export holds only {rows:,} rows where {expected:,} were counted: the "
            "file is incomplete."
        )
    return None


def credits(edges: int, nodes: int) -> float:
    """Botify credits an export spends: 0.1 per link row, 1 per node row."""
    return edges * CREDITS_PER_EDGE + nodes * CREDITS_PER_NODE


def credits_text(edges: int, nodes: int) -> str:
    total = credits(edges, nodes)
    parts = f"{edges:,} links × 0.1"
    if nodes:
        parts += f" + {nodes:,} URLs × 1"
    return f"about {round(total):,} Botify credits ({parts})"


# --- what was written, checked again later -------------------------------------------------------


def fingerprint(path: Path) -> str:
    """A cheap fingerprint: the size and a hash of the first and last 64 KiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        digest.update(str(size).encode() + b"\0")
        digest.update(handle.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return "sha256-ends:" + digest.hexdigest()[:32]


_fingerprints: dict[tuple[str, int, int], str] = {}


def _cached_fingerprint(path: Path, mtime_ns: int, size: int) -> str:
    """A list redrawn often reads each unchanged file once."""
    key = (str(path), mtime_ns, size)
    if key not in _fingerprints:
        if len(_fingerprints) > 1024:
            _fingerprints.clear()
        _fingerprints[key] = fingerprint(path)
    return _fingerprints[key]


@dataclass(frozen=True)
class FileCheck:
    kind: str  # "links" or "meta"
    path: Path
    problem: str | None  # None: present and as recorded

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_files(files: dict[str, Any], paths: Iterable[tuple[str, str | None]]) -> list[FileCheck]:
    """Each file of an export: present, and the size and fingerprint recorded at export time.

    `files` is the record's per-kind dict (`{"links": {"size", "rows", "fingerprint"}}`), empty
    for exports recorded before this was kept: those are only checked to exist.
    """
    checks = []
    for kind, text in paths:
        if not text:
            continue
        path = Path(text)
        recorded = files.get(kind) if isinstance(files, dict) else None
        try:
            info = path.stat()
            size = info.st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            checks.append(FileCheck(kind, path, "missing"))
            continue
        problem = None
        if isinstance(recorded, dict):
            if recorded.get("size") is not None and recorded["size"] != size:
                problem = f"changed ({size:,} bytes, {int(recorded['size']):,} when exported)"
            elif recorded.get("fingerprint"):
                try:
                    now = _cached_fingerprint(path, info.st_mtime_ns, size)
                except OSError as exc:
                    problem = f"unreadable ({exc.strerror or exc})"
                else:
                    if now != recorded["fingerprint"]:
                        problem = "changed since the export"
        checks.append(FileCheck(kind, path, problem))
    return checks

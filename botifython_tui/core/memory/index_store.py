"""The per-profile FAISS index files: load, save atomically, lock, and reconcile with the table.

The chunks table is the truth; each profile's index file (`profile-N.faiss` in the memory folder)
holds their vectors. A crash between a table write and an index save leaves chunks without vectors
or vectors without chunks: `reconcile` embeds the first and drops the second. A damaged index is
moved aside and rebuilt from the table. Two running instances share the folder: writers take a file
lock, and an index whose file another instance replaced is read again before it is used.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.memory.events import (
    ChunksEmbedded,
    ModelLoading,
    ModelReady,
    Notice,
    Progress,
    ReconcileReport,
    no_progress,
)
from botifython_tui.core.memory.index import IndexCorrupt, VectorIndex
from botifython_tui.core.memory.records import embedding_input
from botifython_tui.core.store import Store
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    import numpy as np

    from botifython_tui.core.memory.embeddings import TextEmbedder

log = get_logger("memory")

SAVE_INTERVAL = 10.0  # seconds between index saves during a long ingest
SMALL_INDEX_VECTORS = 20_000  # below this an index is saved after every change (it takes < 50 ms)
EMBED_BATCH = 64


class MemoryStorageError(Exception):
    """The memory folder cannot be written (permissions, a full disk, something in the way)."""

    title = "Memory not saved"


def storage_message(exc: OSError, folder: Path) -> str:
    """One line naming the folder or file, what is wrong and the fix."""
    where = Path(exc.filename) if exc.filename else folder
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            free = f" ({shutil.disk_usage(probe).free / 1e6:,.0f} MB free)"
        except OSError:
            free = ""
        return f"The disk holding the memory folder {folder} is full{free}: free some space."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Cannot write to the memory folder {folder} ({reason}): make it writable, "
            "or use another data folder (--data-dir)."
        )
    if exc.errno in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST):
        return f"{where} is in the way of the memory's files ({reason}): move it away."
    return f"The memory folder {folder} cannot be used: {reason} ({where})."


def storage_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """An OSError of the memory's own files becomes one clear `MemoryStorageError` (for methods
    of an object with a `folder`)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            log.warning("memory storage error", exc_info=True)
            raise MemoryStorageError(storage_message(exc, self.folder)) from exc

    return wrapper


def load_model(embedder: TextEmbedder, progress: Progress) -> None:
    """Load the embedding model once, saying so (it takes seconds)."""
    if embedder.loaded:
        return
    progress(ModelLoading(embedder.model_id))
    started = time.monotonic()
    embedder.load()
    progress(ModelReady(embedder.model_id, embedder.dim, time.monotonic() - started))


def embed(
    embedder: TextEmbedder,
    texts: Sequence[str],
    progress: Progress,
    done: int = 0,
    total: int = 0,
    source: str = "",
) -> np.ndarray:
    """The texts' vectors, embedded in batches with a `ChunksEmbedded` event after each."""
    import numpy as np

    load_model(embedder, progress)
    total = total or len(texts)
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        parts.append(embedder.embed(texts[start : start + EMBED_BATCH]))
        progress(ChunksEmbedded(done + start + len(parts[-1]), total, source))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.vstack(parts)


class ProfileIndex:
    """A loaded index and what is known about its file."""

    def __init__(self, index: VectorIndex, stamp: tuple[int, int, int] | None) -> None:
        self.index = index
        self.stamp = stamp  # (inode, mtime_ns, size) of the file as last read or written
        self.dirty = False
        self.saved_at = time.monotonic()


class IndexStore:
    """The index files of one memory folder, loaded on demand and kept in step with the table."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        embedder: TextEmbedder,
        *,
        approx_threshold: int,
        background_approx: bool,
    ) -> None:
        self.store = store
        self.folder = folder
        self.embedder = embedder
        self.approx_threshold = approx_threshold
        self.background_approx = background_approx
        self.loaded: dict[int, ProfileIndex] = {}
        self.index_lock = threading.RLock()  # short: loading, updating, searching an index
        self._write_lock = threading.RLock()  # long: one writer at a time in this process
        self._flock_depth = 0
        self._flock_fd: int | None = None
        self._local = threading.local()  # per thread: whether saves wait for the end of a bulk
        self.notices: list[str] = []  # messages for the user (repairs, rebuilds), oldest first

    def path(self, profile_id: int) -> Path:
        return self.folder / f"profile-{int(profile_id)}.faiss"

    def has_chunks(self, profile_id: int) -> bool:
        """Cheap (an index probe), unlike counting 100,000 rows on every query."""
        return bool(
            self.store.query("SELECT 1 FROM chunks WHERE profile_id = ? LIMIT 1", [profile_id])
        )

    def chunk_count(self, profile_id: int) -> int:
        return int(
            self.store.query("SELECT count(*) FROM chunks WHERE profile_id = ?", [profile_id])[0][0]
        )

    # --- locking -----------------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """This process's write lock plus an advisory lock on the folder, against other instances."""
        with self._write_lock:
            if self._flock_depth == 0:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX)
                except ImportError:  # not on POSIX: in-process locking only
                    pass
                self._flock_fd = fd
            self._flock_depth += 1
            try:
                yield
            finally:
                self._flock_depth -= 1
                if self._flock_depth == 0 and self._flock_fd is not None:
                    os.close(self._flock_fd)  # closing releases the flock
                    self._flock_fd = None

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """During a long ingest on this thread, save every `SAVE_INTERVAL` seconds, not each change."""
        self._local.bulk = True
        try:
            yield
        finally:
            self._local.bulk = False

    # --- index files -------------------------------------------------------------------------
    def stamp(self, path: Path) -> tuple[int, int, int] | None:
        """Identifies one version of the file: every save is a new inode (temp file + rename)."""
        try:
            info = path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def new_index(self) -> VectorIndex:
        return VectorIndex(
            self.embedder.dim,
            self.embedder.model_id,
            approx_threshold=self.approx_threshold,
            background=self.background_approx,
        )

    def notice(self, message: str, progress: Progress) -> None:
        log.warning("%s", message)
        self.notices.append(message)
        progress(Notice(message))

    def entry(
        self, profile_id: int, progress: Progress, report: ReconcileReport | None = None
    ) -> ProfileIndex:
        """The profile's index, loaded (or rebuilt) and reconciled with the table if needed."""
        path = self.path(profile_id)
        with self.index_lock:
            entry = self.loaded.get(profile_id)
            if entry is not None and (entry.stamp == self.stamp(path) or entry.dirty):
                return entry
        report = report if report is not None else ReconcileReport()
        with self.exclusive():
            with self.index_lock:
                entry = self.loaded.get(profile_id)
                if entry is not None and (entry.stamp == self.stamp(path) or entry.dirty):
                    return entry
            entry = self._open(profile_id, progress, report)
            with self.index_lock:
                self.loaded[profile_id] = entry
            self.reconcile_entry(profile_id, entry, progress, report)
        return entry

    def reset(self, profile_id: int) -> ProfileIndex:
        """An empty index for the profile, saved at once (a crash then leaves one to refill)."""
        with self.exclusive():
            entry = ProfileIndex(self.new_index(), self.stamp(self.path(profile_id)))
            with self.index_lock:
                self.loaded[profile_id] = entry
            self.save(profile_id, entry)
        return entry

    def _open(self, profile_id: int, progress: Progress, report: ReconcileReport) -> ProfileIndex:
        path = self.path(profile_id)
        if path.exists() and not path.is_file():  # never renamed or replaced: not ours
            raise MemoryStorageError(
                f"{path} is not a file (a folder or another kind of file is where the memory's "
                "index goes): move it away."
            )
        stamp = self.stamp(path)
        if stamp is None:
            if self.has_chunks(profile_id):
                self.notice(
                    f"The memory index {path} is missing; rebuilding it from the "
                    f"{self.chunk_count(profile_id):,} chunks in the database.",
                    progress,
                )
                report.rebuilt.append(profile_id)
            load_model(self.embedder, progress)
            return ProfileIndex(self.new_index(), None)
        try:
            index = VectorIndex.load(
                path, approx_threshold=self.approx_threshold, background=self.background_approx
            )
        except IndexCorrupt as exc:
            count = self.chunk_count(profile_id)
            self.notice(
                f"The memory index could not be read: {exc}. It was moved to "
                f"{path.name}.corrupt and is being rebuilt from the {count:,} chunks in the "
                "database (nothing is lost).",
                progress,
            )
            report.rebuilt.append(profile_id)
            os.replace(path, path.with_name(path.name + ".corrupt"))
            load_model(self.embedder, progress)
            return ProfileIndex(self.new_index(), None)
        if index.model != self.embedder.model_id:
            count = self.chunk_count(profile_id)
            self.notice(
                f"The embedding model changed from {index.model} to {self.embedder.model_id}: "
                f"re-embedding the {count:,} chunks of this profile.",
                progress,
            )
            report.rebuilt.append(profile_id)
            load_model(self.embedder, progress)
            return ProfileIndex(self.new_index(), stamp)  # the old file is accounted for
        return ProfileIndex(index, stamp)

    def save(self, profile_id: int, entry: ProfileIndex) -> None:
        path = self.path(profile_id)
        with self.exclusive():
            if entry.stamp != self.stamp(path):
                # Another instance saved since we read the file: bring ours in line with the
                # table (the truth, shared by both) before replacing theirs.
                self.reconcile_entry(profile_id, entry, no_progress, ReconcileReport(), save=False)
            entry.index.save(path)
        entry.stamp = self.stamp(path)
        entry.dirty = False
        entry.saved_at = time.monotonic()

    def maybe_save(self, profile_id: int, entry: ProfileIndex) -> None:
        """Save a changed index now if it is small, else at most every `SAVE_INTERVAL` seconds."""
        if not entry.dirty:
            return
        bulk = getattr(self._local, "bulk", False)  # an ingest saves at its end, or every 10 s
        if (
            entry.index.count < SMALL_INDEX_VECTORS and not bulk
        ) or time.monotonic() - entry.saved_at >= SAVE_INTERVAL:
            self.save(profile_id, entry)

    def flush(self, profile_id: int) -> None:
        """Save the profile's index if it has unsaved changes."""
        with self.index_lock:
            entry = self.loaded.get(profile_id)
        if entry is not None and entry.dirty:
            with self.exclusive():
                self.save(profile_id, entry)

    def close(self) -> None:
        """Save indexes with unsaved changes."""
        dirty = [(pid, entry) for pid, entry in list(self.loaded.items()) if entry.dirty]
        if dirty:
            with self.exclusive():
                for profile_id, entry in dirty:
                    self.save(profile_id, entry)

    def drop_vectors(self, profile_id: int, ids: Sequence[int], progress: Progress) -> None:
        """Remove vectors whose chunks were deleted (when the profile has an index at all)."""
        if ids and (self.path(profile_id).exists() or profile_id in self.loaded):
            entry = self.entry(profile_id, progress)
            with self.index_lock:
                entry.index.remove(ids)
                entry.dirty = True
            self.maybe_save(profile_id, entry)

    # --- reconcile ---------------------------------------------------------------------------
    def reconcile(self, profile_id: int | None, progress: Progress) -> ReconcileReport:
        """Check index and table against each other and repair (one profile, or all of them).

        Also drops the chunks and index files of profiles that no longer exist.
        """
        report = ReconcileReport()
        with self.exclusive():
            profiles = self._profiles_with_memory(report) if profile_id is None else [profile_id]
            for pid in profiles:
                with self.index_lock:
                    self.loaded.pop(
                        pid, None
                    )  # read the file again: another instance may have saved
                self.entry(pid, progress, report)
        report.messages = list(self.notices)
        return report

    def _profiles_with_memory(self, report: ReconcileReport) -> list[int]:
        existing = {row[0] for row in self.store.query("SELECT id FROM profiles")}
        in_table = {row[0] for row in self.store.query("SELECT DISTINCT profile_id FROM chunks")}
        on_disk: set[int] = set()
        if self.folder.is_dir():
            for path in self.folder.glob("profile-*.faiss"):
                number = path.stem.removeprefix("profile-")
                if number.isdigit():
                    on_disk.add(int(number))
        for gone in sorted((in_table | on_disk) - existing):
            with self.store.write() as db:
                removed = db.execute("DELETE FROM chunks WHERE profile_id = ?", [gone]).rowcount
            self.path(gone).unlink(missing_ok=True)
            with self.index_lock:
                self.loaded.pop(gone, None)
            report.removed += max(0, removed)
            log.info("dropped the memory of deleted profile %s (%s chunks)", gone, removed)
        return sorted((in_table | on_disk) & existing)

    def reconcile_entry(
        self,
        profile_id: int,
        entry: ProfileIndex,
        progress: Progress,
        report: ReconcileReport,
        *,
        save: bool = True,
    ) -> None:
        """Drop the vectors without a chunk and embed the chunks without a vector."""
        import numpy as np

        table_ids = np.array(
            [
                row[0]
                for row in self.store.query(
                    "SELECT id FROM chunks WHERE profile_id = ? ORDER BY id", [profile_id]
                )
            ],
            dtype=np.int64,
        )
        index_ids = entry.index.ids()
        orphans = np.setdiff1d(index_ids, table_ids)
        missing = np.setdiff1d(table_ids, index_ids)
        if len(orphans):
            entry.index.remove(orphans)
            entry.dirty = True
            report.removed += len(orphans)
            log.info("profile %s: removed %d vectors without a chunk", profile_id, len(orphans))
        if len(missing):
            load_model(self.embedder, progress)
            done = 0
            for start in range(0, len(missing), 512):
                batch = [int(i) for i in missing[start : start + 512]]
                marks = ",".join("?" * len(batch))
                rows = self.store.query(
                    f"SELECT id, title, text FROM chunks WHERE id IN ({marks}) ORDER BY id", batch
                )
                if not rows:
                    continue
                vectors = embed(
                    self.embedder,
                    [embedding_input(t, x) for _, t, x in rows],
                    progress,
                    done,
                    len(missing),
                )
                entry.index.add([r[0] for r in rows], vectors)
                done += len(rows)
                entry.dirty = True
                if save:
                    self.maybe_save(profile_id, entry)
            report.embedded += done
            log.info("profile %s: embedded %d chunks the index lacked", profile_id, done)
        if save and (entry.dirty or entry.stamp is None):
            self.save(profile_id, entry)

"""The document memory: chunks in SQLite, their vectors in one FAISS index per profile.

Every change writes the table first (one transaction), then the index, saved atomically. A crash
between the two leaves chunks without vectors or vectors without chunks, and `reconcile()` (run
when a profile's index is first opened) embeds the first and drops the second. A damaged index
file is rebuilt from the table. Two running instances share the folder: writers take a file lock,
and an instance whose index file was replaced by another reloads it before using it.

All methods block (embedding takes seconds): call them from a worker thread. The async helpers
`ensure_loaded()` and `asearch()` do that with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import hashlib
import os
import re
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.memory.chunking import (
    MAX_FILE_BYTES,
    TITLE_SEPARATOR,
    Chunk,
    Measure,
    Skipped,
    chunk_text,
    file_type,
    read_document,
)
from botifython_tui.core.memory.embeddings import (
    MemoryUnavailable,
    make_embedder,
    missing_memory_stack,
    refuse_event_loop_thread,
)
from botifython_tui.core.memory.events import (
    ChunksEmbedded,
    Event,
    FileDone,
    IngestReport,
    ModelLoading,
    ModelReady,
    Notice,
    ReconcileReport,
    ScanFinished,
)
from botifython_tui.core.memory.feeds import (
    chat_exchange_text,
    chat_source,
    export_source,
    export_summary,
)
from botifython_tui.core.memory.index import APPROX_THRESHOLD, IndexCorrupt, VectorIndex
from botifython_tui.core.memory.keywords import (
    BLEND_WEIGHT,
    IDENTIFIER_BLEND_WEIGHT,
    MIN_SIMILARITY,
    blend,
    fts_query,
    holds,
    is_identifier,
    query_terms,
)
from botifython_tui.core.store import Store, utc_now
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    import numpy as np

    from botifython_tui.core.memory.embeddings import TextEmbedder

log = get_logger("memory")

DOCUMENT, CHAT, EXPORT = "document", "chat", "export"
KINDS = (DOCUMENT, CHAT, EXPORT)
MEMORY_FOLDER = "memory"
MODELS_FOLDER = "models"
SAVE_INTERVAL = 10.0  # seconds between index saves during a long ingest
SMALL_INDEX_VECTORS = 20_000  # below this an index is saved after every change (it takes < 50 ms)
EMBED_BATCH = 64
READ_AHEAD_CHUNKS = 128  # chunks of several files embedded together during an ingest
SEARCH_CANDIDATES = 30  # from each side, before fusion
# A keyword in more than this share of all chunks (and more than the minimum) is left out of the
# keyword search: see `Memory._discriminating`.
COMMON_TERM_SHARE = 0.05
COMMON_TERM_MIN_CHUNKS = 500
HYBRID, VECTOR, KEYWORD = "hybrid", "vector", "keyword"
IGNORED_DIRS = {
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "site-packages", ".idea", ".vscode",
}  # fmt: skip

Progress = Callable[[Event], None]


@dataclass(frozen=True)
class Hit:
    score: float
    chunk_id: int
    kind: str
    source: str
    title: str
    position: int
    text: str
    exact: bool = False  # holds an identifier of the query (code, URL, name) as written


@dataclass(frozen=True)
class DocumentInfo:
    kind: str
    source: str
    title: str
    chunks: int
    updated_at: str
    file_hash: str | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == DOCUMENT


def embedding_input(title: str, text: str) -> str:
    """What is embedded for a chunk: its title (document and headings) gives the text context."""
    return f"{title}\n{text}" if title else text


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(embedding_input(title, text).encode()).hexdigest()


def _noop(event: Event) -> None:
    return None


def _utf8_name(name: str) -> bool:
    """False for a path holding undecodable bytes (os.fsdecode keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def special_file(mode: int) -> str | None:
    """What a file that is not a regular file is ("a FIFO" …), or None for a regular file."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; `Skipped` for anything else, decided on the open file.

    Opened without blocking, so a FIFO put in place after the folder was scanned is refused
    instead of waiting forever for a writer.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        special = special_file(info.st_mode)
        if special:
            raise Skipped(f"not a regular file ({special})")
        if info.st_size > MAX_FILE_BYTES:
            raise Skipped(
                f"{path.name} is {info.st_size / 1e6:.1f} MB; files over "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB are not indexed"
            )
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


class MemoryStorageError(Exception):
    """The memory folder cannot be written (permissions, a full disk, something in the way)."""


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


def _storage_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """An OSError of the memory's own files becomes one clear `MemoryStorageError`."""

    @functools.wraps(method)
    def wrapper(self: Memory, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            log.warning("memory storage error", exc_info=True)
            raise MemoryStorageError(storage_message(exc, self.folder)) from exc

    return wrapper


class _ProfileIndex:
    """A loaded index and what is known about its file."""

    def __init__(self, index: VectorIndex, stamp: tuple[int, int, int] | None) -> None:
        self.index = index
        self.stamp = stamp  # (inode, mtime_ns, size) of the file as last read or written
        self.dirty = False
        self.saved_at = time.monotonic()


class Memory:
    """Add, search, list and remove what the assistant remembers, one profile at a time."""

    def __init__(
        self,
        store: Store,
        data_dir: str | os.PathLike[str],
        embedder: TextEmbedder | None = None,
        *,
        approx_threshold: int = APPROX_THRESHOLD,
        background_approx: bool = True,
    ) -> None:
        self.store = store
        self.folder = Path(data_dir) / MEMORY_FOLDER
        self.embedder: TextEmbedder = (
            embedder if embedder is not None else make_embedder(kv=store.kv)
        )
        problem = missing_memory_stack(self.embedder)
        if problem:
            raise MemoryUnavailable(problem)
        if getattr(self.embedder, "cache_dir", False) is None:
            # The packaged model's ONNX file is written once, beside the indexes.
            self.embedder.cache_dir = self.folder / MODELS_FOLDER  # type: ignore[attr-defined]
        self._measure: Measure | None = None
        self._fts: bool | None = None  # whether the keyword index exists (checked once)
        # Per thread, during add_paths: files read ahead and their chunks' vectors, embedded
        # together (the model is fastest on many texts sorted by length), and saves deferred.
        self._local = threading.local()
        self.approx_threshold = approx_threshold
        self.background_approx = background_approx
        self._indexes: dict[int, _ProfileIndex] = {}
        self._index_lock = threading.RLock()  # short: loading, updating, searching an index
        self._write_lock = threading.RLock()  # long: one writer at a time in this process
        self._flock_depth = 0
        self._flock_fd: int | None = None
        self.notices: list[str] = []  # messages for the user (repairs, rebuilds), oldest first

    # --- status ------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def model_loaded(self) -> bool:
        return self.embedder.loaded

    def index_path(self, profile_id: int) -> Path:
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

    @property
    def measure(self) -> Measure:
        """Sizes chunks in the embedding model's own word pieces."""
        if self._measure is None:
            count = getattr(self.embedder, "count_tokens", None)
            self._measure = Measure(count, getattr(self.embedder, "max_tokens", 256))
        return self._measure

    # --- async helpers for the UI ------------------------------------------------------------
    async def ensure_loaded(self, profile_id: int | None = None) -> ReconcileReport:
        """Load the model and check the index(es) against the table, off the calling thread."""
        return await asyncio.to_thread(self.load, profile_id)

    async def asearch(self, query: str, profile_id: int, k: int = 5) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, profile_id, k)

    @_storage_errors
    def load(
        self, profile_id: int | None = None, progress: Progress | None = None
    ) -> ReconcileReport:
        """Load the model, then reconcile one profile (or all)."""
        self._load_model(progress or _noop)
        return self.reconcile(profile_id, progress=progress)

    def _load_model(self, progress: Progress) -> None:
        if self.embedder.loaded:
            return
        progress(ModelLoading(self.model_id))
        started = time.monotonic()
        self.embedder.load()
        progress(ModelReady(self.model_id, self.embedder.dim, time.monotonic() - started))

    @_storage_errors
    def close(self) -> None:
        """Save indexes with unsaved changes."""
        dirty = [(pid, entry) for pid, entry in list(self._indexes.items()) if entry.dirty]
        if dirty:
            with self._exclusive():
                for profile_id, entry in dirty:
                    self._save(profile_id, entry)

    # --- locking -----------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
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

    # --- index files -------------------------------------------------------------------------
    def _stamp(self, path: Path) -> tuple[int, int, int] | None:
        """Identifies one version of the file: every save is a new inode (temp file + rename)."""
        try:
            info = path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _new_index(self) -> VectorIndex:
        return VectorIndex(
            self.embedder.dim,
            self.model_id,
            approx_threshold=self.approx_threshold,
            background=self.background_approx,
        )

    def _notice(self, message: str, progress: Progress) -> None:
        log.warning("%s", message)
        self.notices.append(message)
        progress(Notice(message))

    def _entry(
        self, profile_id: int, progress: Progress, report: ReconcileReport | None = None
    ) -> _ProfileIndex:
        """The profile's index, loaded (or rebuilt) and reconciled with the table if needed."""
        path = self.index_path(profile_id)
        with self._index_lock:
            entry = self._indexes.get(profile_id)
            if entry is not None and (entry.stamp == self._stamp(path) or entry.dirty):
                return entry
        report = report if report is not None else ReconcileReport()
        with self._exclusive():
            with self._index_lock:
                entry = self._indexes.get(profile_id)
                if entry is not None and (entry.stamp == self._stamp(path) or entry.dirty):
                    return entry
            entry = self._open(profile_id, progress, report)
            with self._index_lock:
                self._indexes[profile_id] = entry
            self._reconcile_entry(profile_id, entry, progress, report)
        return entry

    def _open(self, profile_id: int, progress: Progress, report: ReconcileReport) -> _ProfileIndex:
        path = self.index_path(profile_id)
        if path.exists() and not path.is_file():  # never renamed or replaced: not ours
            raise MemoryStorageError(
                f"{path} is not a file (a folder or another kind of file is where the memory's "
                "index goes): move it away."
            )
        stamp = self._stamp(path)
        if stamp is None:
            if self.has_chunks(profile_id):
                self._notice(
                    f"The memory index {path} is missing; rebuilding it from the "
                    f"{self.chunk_count(profile_id):,} chunks in the database.",
                    progress,
                )
                report.rebuilt.append(profile_id)
            self._load_model(progress)
            return _ProfileIndex(self._new_index(), None)
        try:
            index = VectorIndex.load(
                path, approx_threshold=self.approx_threshold, background=self.background_approx
            )
        except IndexCorrupt as exc:
            count = self.chunk_count(profile_id)
            self._notice(
                f"The memory index could not be read: {exc}. It was moved to "
                f"{path.name}.corrupt and is being rebuilt from the {count:,} chunks in the "
                "database (nothing is lost).",
                progress,
            )
            report.rebuilt.append(profile_id)
            os.replace(path, path.with_name(path.name + ".corrupt"))
            self._load_model(progress)
            return _ProfileIndex(self._new_index(), None)
        if index.model != self.model_id:
            count = self.chunk_count(profile_id)
            self._notice(
                f"The embedding model changed from {index.model} to {self.model_id}: "
                f"re-embedding the {count:,} chunks of this profile.",
                progress,
            )
            report.rebuilt.append(profile_id)
            self._load_model(progress)
            return _ProfileIndex(self._new_index(), stamp)  # the old file is accounted for
        return _ProfileIndex(index, stamp)

    def _save(self, profile_id: int, entry: _ProfileIndex) -> None:
        path = self.index_path(profile_id)
        with self._exclusive():
            if entry.stamp != self._stamp(path):
                # Another instance saved since we read the file: bring ours in line with the
                # table (the truth, shared by both) before replacing theirs.
                self._reconcile_entry(profile_id, entry, _noop, ReconcileReport(), save=False)
            entry.index.save(path)
        entry.stamp = self._stamp(path)
        entry.dirty = False
        entry.saved_at = time.monotonic()

    def _maybe_save(self, profile_id: int, entry: _ProfileIndex, *, force: bool = False) -> None:
        if not entry.dirty:
            return
        bulk = getattr(self._local, "bulk", False)  # add_paths saves at the end, or every 10 s
        if (
            force
            or (entry.index.count < SMALL_INDEX_VECTORS and not bulk)
            or time.monotonic() - entry.saved_at >= SAVE_INTERVAL
        ):
            self._save(profile_id, entry)

    # --- reconcile ---------------------------------------------------------------------------
    @_storage_errors
    def reconcile(
        self, profile_id: int | None = None, progress: Progress | None = None
    ) -> ReconcileReport:
        """Check index and table against each other and repair (one profile, or all of them).

        Also drops the chunks and index files of profiles that no longer exist.
        """
        refuse_event_loop_thread("Reconciling the memory")
        progress = progress or _noop
        report = ReconcileReport()
        with self._exclusive():
            profiles = self._profiles_with_memory(report) if profile_id is None else [profile_id]
            for pid in profiles:
                with self._index_lock:
                    self._indexes.pop(
                        pid, None
                    )  # re-read the file: another instance may have saved
                self._entry(pid, progress, report)
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
            self.index_path(gone).unlink(missing_ok=True)
            with self._index_lock:
                self._indexes.pop(gone, None)
            report.removed += max(0, removed)
            log.info("dropped the memory of deleted profile %s (%s chunks)", gone, removed)
        return sorted((in_table | on_disk) & existing)

    def _reconcile_entry(
        self,
        profile_id: int,
        entry: _ProfileIndex,
        progress: Progress,
        report: ReconcileReport,
        *,
        save: bool = True,
    ) -> None:
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
            self._load_model(progress)
            done = 0
            for start in range(0, len(missing), 512):
                batch = [int(i) for i in missing[start : start + 512]]
                marks = ",".join("?" * len(batch))
                rows = self.store.query(
                    f"SELECT id, title, text FROM chunks WHERE id IN ({marks}) ORDER BY id", batch
                )
                if not rows:
                    continue
                vectors = self._embed(
                    [embedding_input(t, x) for _, t, x in rows], progress, done, len(missing)
                )
                entry.index.add([r[0] for r in rows], vectors)
                done += len(rows)
                entry.dirty = True
                if save:
                    self._maybe_save(profile_id, entry)
            report.embedded += done
            log.info("profile %s: embedded %d chunks the index lacked", profile_id, done)
        if save and (entry.dirty or entry.stamp is None):
            self._save(profile_id, entry)

    @_storage_errors
    def rebuild(self, profile_id: int, progress: Progress | None = None) -> ReconcileReport:
        """Throw the profile's index away and embed every chunk again."""
        progress = progress or _noop
        report = ReconcileReport(rebuilt=[profile_id])
        self._load_model(progress)
        with self._exclusive():
            entry = _ProfileIndex(self._new_index(), self._stamp(self.index_path(profile_id)))
            with self._index_lock:
                self._indexes[profile_id] = entry
            self._reconcile_entry(profile_id, entry, progress, report)
        return report

    # --- embedding ---------------------------------------------------------------------------
    def _embed(
        self,
        texts: Sequence[str],
        progress: Progress,
        done: int = 0,
        total: int = 0,
        source: str = "",
    ) -> np.ndarray:
        import numpy as np

        self._load_model(progress)
        total = total or len(texts)
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.embed(texts[start : start + EMBED_BATCH]))
            progress(ChunksEmbedded(done + start + len(parts[-1]), total, source))
        if not parts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack(parts)

    # --- writing -----------------------------------------------------------------------------
    def _replace_source(
        self,
        profile_id: int,
        kind: str,
        source: str,
        chunks: Sequence[Chunk],
        file_hash: str | None,
        progress: Progress,
        *,
        reuse: bool = True,
        append: bool = False,
    ) -> tuple[int, int]:
        """Store `chunks` for a source (replacing its old ones unless `append`); (embedded, reused)."""
        import numpy as np

        self._has_fts()  # the keyword index exists before chunks are written (its triggers)

        entry = self._entry(profile_id, progress)
        old = self.store.query(
            "SELECT id, content_hash FROM chunks WHERE profile_id = ? AND kind = ? AND source = ?",
            [profile_id, kind, source],
        )
        hashes = [content_hash(c.title, c.text) for c in chunks]
        if append:
            known = {h for _, h in old}
            keep = [i for i, h in enumerate(hashes) if h not in known]
            chunks = [chunks[i] for i in keep]
            hashes = [hashes[i] for i in keep]
            if not chunks:
                return 0, 0
        vectors: list[Any] = [None] * len(chunks)
        if reuse and not append:
            by_hash = {h: chunk_id for chunk_id, h in old}
            for i, h in enumerate(hashes):
                if h in by_hash:
                    vectors[i] = entry.index.reconstruct(by_hash[h])
        todo = [i for i, v in enumerate(vectors) if v is None]
        ready = getattr(self._local, "vectors", {})  # embedded ahead, with other files
        for i in todo:
            vectors[i] = ready.get(hashes[i])
        missing = [i for i in todo if vectors[i] is None]
        if missing:
            fresh = self._embed(
                [embedding_input(chunks[i].title, chunks[i].text) for i in missing],
                progress,
                source=source,
            )
            for row, i in enumerate(missing):
                vectors[i] = fresh[row]
        now = utc_now()
        with self._exclusive():
            with self.store.write() as db:
                old_ids = [
                    row[0]
                    for row in db.execute(
                        "SELECT id FROM chunks WHERE profile_id = ? AND kind = ? AND source = ?",
                        [profile_id, kind, source],
                    ).fetchall()
                ]
                offset = 0
                if append:
                    offset = db.execute(
                        "SELECT coalesce(max(position) + 1, 0) FROM chunks "
                        "WHERE profile_id = ? AND kind = ? AND source = ?",
                        [profile_id, kind, source],
                    ).fetchone()[0]
                    old_ids = []
                else:
                    db.execute(
                        "DELETE FROM chunks WHERE profile_id = ? AND kind = ? AND source = ?",
                        [profile_id, kind, source],
                    )
                new_ids = []
                for chunk, h in zip(chunks, hashes, strict=True):
                    cursor = db.execute(
                        "INSERT INTO chunks (profile_id, kind, source, title, position, text, "
                        "content_hash, file_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            profile_id,
                            kind,
                            source,
                            chunk.title,
                            chunk.position + offset,
                            chunk.text,
                            h,
                            file_hash,
                            now,
                        ],
                    )
                    new_ids.append(cursor.lastrowid)
            # The table is committed: a crash from here on is repaired by reconcile().
            entry = self._entry(profile_id, progress)
            with self._index_lock:
                entry.index.remove(old_ids)
                if new_ids:
                    entry.index.add(new_ids, np.vstack(vectors).astype(np.float32))
                entry.dirty = True
            self._maybe_save(profile_id, entry)
        return len(todo), len(chunks) - len(todo)

    def _drop_sources(self, profile_id: int, sources: Iterable[str], progress: Progress) -> int:
        sources = list(sources)
        if not sources:
            return 0
        with self._exclusive():
            ids: list[int] = []
            with self.store.write() as db:
                for source in sources:
                    ids += [
                        row[0]
                        for row in db.execute(
                            "SELECT id FROM chunks WHERE profile_id = ? AND source = ?",
                            [profile_id, source],
                        ).fetchall()
                    ]
                    db.execute(
                        "DELETE FROM chunks WHERE profile_id = ? AND source = ?",
                        [profile_id, source],
                    )
            if ids and (self.index_path(profile_id).exists() or profile_id in self._indexes):
                entry = self._entry(profile_id, progress)
                with self._index_lock:
                    entry.index.remove(ids)
                    entry.dirty = True
                self._maybe_save(profile_id, entry)
        return len(sources)

    # --- documents ---------------------------------------------------------------------------
    @_storage_errors
    def add_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        profile_id: int,
        progress: Progress | None = None,
        *,
        force: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestReport:
        """Index files and folders (recursively). Unchanged files are skipped, changed ones
        replaced, and files gone from an added folder (or a named path that no longer exists)
        dropped."""
        refuse_event_loop_thread("Adding documents")
        paths = list(paths)
        if any(not str(p).strip() for p in paths):  # "" would mean the whole current folder
            raise ValueError("An empty path names no file or folder.")
        progress = progress or _noop
        started = time.monotonic()
        report = IngestReport()
        known = {
            source: file_hash
            for source, file_hash in self.store.query(
                "SELECT source, max(file_hash) FROM chunks WHERE profile_id = ? AND kind = ? "
                "GROUP BY source",
                [profile_id, DOCUMENT],
            )
        }
        files, gone = self._collect(paths, known, report)
        progress(ScanFinished(len(files)))
        total = len(files)
        self._local.bulk, self._local.ahead, self._local.vectors = True, {}, {}
        read_up_to = 0
        try:
            for number, path in enumerate(files, start=1):
                if should_stop is not None and should_stop():
                    report.cancelled = True
                    break
                if number > read_up_to:
                    read_up_to = self._read_ahead(
                        files, number - 1, profile_id, known, force, progress
                    )
                outcome, chunks, reason = self._add_file(
                    path, profile_id, known, progress, force, report
                )
                progress(FileDone(str(path), outcome, chunks, number, total, reason))
            if not report.cancelled and gone:
                self._drop_sources(profile_id, gone, progress)
                for source in gone:
                    report.removed.append(source)
                    progress(FileDone(source, "removed", 0, total, total))
        finally:
            self._local.bulk, self._local.ahead, self._local.vectors = False, {}, {}
            self._flush(profile_id)
        report.seconds = time.monotonic() - started
        return report

    def _read_ahead(
        self,
        files: Sequence[Path],
        start: int,
        profile_id: int,
        known: dict[str, str],
        force: bool,
        progress: Progress,
    ) -> int:
        """Read and chunk the next files until about READ_AHEAD_CHUNKS chunks need embedding,
        and embed those in one go. Returns how many files are now read (the next start)."""
        texts: dict[str, str] = {}
        end = start
        while end < len(files) and len(texts) < READ_AHEAD_CHUNKS:
            path = files[end]
            end += 1
            loaded = self._load_file(path, known, force)
            self._local.ahead[path] = loaded
            if loaded[0] != "read":
                continue
            document = loaded[1]
            stored = set()
            if not force:
                stored = {
                    h
                    for (h,) in self.store.query(
                        "SELECT content_hash FROM chunks WHERE profile_id = ? AND kind = ? "
                        "AND source = ?",
                        [profile_id, DOCUMENT, str(path)],
                    )
                }
            for chunk in document.chunks:
                h = content_hash(chunk.title, chunk.text)
                if h not in stored:
                    texts.setdefault(h, embedding_input(chunk.title, chunk.text))
        if texts:
            vectors = self._embed(list(texts.values()), progress)
            self._local.vectors = dict(zip(texts, vectors, strict=True))
        return end

    def _load_file(self, path: Path, known: dict[str, str], force: bool) -> tuple[str, Any, str]:
        """("skipped", reason, "") or ("unchanged", None, file hash) or ("read", document,
        file hash) for one file."""
        source = str(path)
        try:
            if not _utf8_name(source):
                # The database, the tokenizer and the sources cited all need text: a name with
                # bytes that are not UTF-8 cannot be stored or shown as it is.
                raise Skipped("its name is not valid UTF-8: rename the file to index it")
            if file_type(path) is None:
                raise Skipped(
                    f"{path.name}: not a supported type ({path.suffix or 'no extension'})"
                )
            data = read_regular_file(path)
        except Skipped as exc:
            return "skipped", str(exc), ""
        except OSError as exc:
            return "skipped", f"cannot be read: {exc.strerror or exc}", ""
        file_hash = hashlib.sha256(data).hexdigest()
        if not force and known.get(source) == file_hash:
            return "unchanged", None, file_hash
        try:
            return "read", read_document(path, data, self.measure), file_hash
        except Skipped as exc:
            return "skipped", str(exc), ""

    def _collect(
        self, paths: Iterable[str | os.PathLike[str]], known: dict[str, str], report: IngestReport
    ) -> tuple[list[Path], list[str]]:
        files: list[Path] = []
        seen: set[Path] = set()
        gone: list[str] = []
        for raw in paths:
            path = Path(raw).expanduser().absolute()
            resolved = Path(os.path.realpath(path))
            if not path.exists():
                under = [
                    s for s in known if s == str(resolved) or s.startswith(f"{resolved}{os.sep}")
                ]
                if under:
                    gone += under
                else:
                    report.skipped.append((str(path), "no such file or folder"))
                continue
            if path.is_dir():
                found = self._walk(resolved, report)
                present = {str(f) for f in found}
                gone += [
                    s for s in known if s.startswith(f"{resolved}{os.sep}") and s not in present
                ]
            else:
                found = [resolved]
            for item in found:
                if item not in seen:
                    seen.add(item)
                    files.append(item)
        return files, sorted(set(gone))

    def _walk(self, folder: Path, report: IngestReport) -> list[Path]:
        files: list[Path] = []

        def on_error(exc: OSError) -> None:
            report.skipped.append((str(exc.filename), f"cannot be read: {exc.strerror or exc}"))

        for root, dirs, names in os.walk(folder, onerror=on_error):  # never follows dir links
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(root) / name
                if file_type(path) is None:
                    report.skipped.append(
                        (str(path), f"not a supported type ({path.suffix or 'no extension'})")
                    )
                    continue
                try:  # never open a FIFO (it would wait forever), a socket or a device
                    special = special_file(os.stat(path).st_mode)
                except OSError as exc:
                    report.skipped.append((str(path), f"cannot be read: {exc.strerror or exc}"))
                    continue
                if special:
                    report.skipped.append((str(path), f"not a regular file ({special})"))
                    continue
                files.append(Path(os.path.realpath(path)))
        return files

    def _add_file(
        self,
        path: Path,
        profile_id: int,
        known: dict[str, str],
        progress: Progress,
        force: bool,
        report: IngestReport,
    ) -> tuple[str, int, str]:
        source = str(path)
        ahead = getattr(self._local, "ahead", {})
        kind, document, file_hash = ahead.pop(path, None) or self._load_file(path, known, force)
        if kind == "skipped":
            report.skipped.append((source, document))
            return "skipped", 0, document
        if kind == "unchanged":
            report.unchanged.append(source)
            return "unchanged", 0, ""
        embedded, reused = self._replace_source(
            profile_id, DOCUMENT, source, document.chunks, file_hash, progress, reuse=not force
        )
        report.chunks_embedded += embedded
        report.chunks_reused += reused
        outcome = "updated" if source in known else "added"
        (report.updated if source in known else report.added).append(source)
        known[source] = file_hash
        return outcome, len(document.chunks), document.note or ""

    def _flush(self, profile_id: int) -> None:
        with self._index_lock:
            entry = self._indexes.get(profile_id)
        if entry is not None and entry.dirty:
            with self._exclusive():
                self._save(profile_id, entry)

    @_storage_errors
    def add_text(
        self,
        kind: str,
        source: str,
        title: str,
        text: str,
        profile_id: int,
        *,
        append: bool | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Remember a text (a chat exchange, an export summary). Chats append to their source;
        other kinds replace it. Returns the number of chunks added."""
        refuse_event_loop_thread("Adding to the memory")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        append = kind == CHAT if append is None else append
        chunks = chunk_text(title, text, self.measure)
        if not chunks:
            return 0
        embedded, reused = self._replace_source(
            profile_id, kind, source, chunks, None, progress or _noop, append=append
        )
        return embedded + reused

    @_storage_errors
    def remove(self, path_or_source: str | os.PathLike[str], profile_id: int) -> list[str]:
        """Forget a document, every document under a folder, or a chat/export source."""
        refuse_event_loop_thread("Removing documents")
        raw = str(path_or_source)
        if not raw.strip():  # "" would mean the current folder, or every source
            raise ValueError("An empty path names no document.")
        candidates = {raw}
        if not raw.startswith(("chat:", "export:")):
            path = Path(raw).expanduser().absolute()
            candidates |= {str(path), os.path.realpath(path)}
        sources = [
            source
            for (source,) in self.store.query(
                "SELECT DISTINCT source FROM chunks WHERE profile_id = ?", [profile_id]
            )
            if source in candidates
            or any(source.startswith(c.rstrip(os.sep) + os.sep) for c in candidates if c.strip())
        ]
        self._drop_sources(profile_id, sources, _noop)
        self._flush(profile_id)
        return sorted(sources)

    @_storage_errors
    def reindex(self, profile_id: int, progress: Progress | None = None) -> IngestReport:
        """Read every document again and re-embed everything (after a model or chunker change)."""
        refuse_event_loop_thread("Re-indexing")
        progress = progress or _noop
        self._load_model(progress)
        with self._exclusive():
            entry = _ProfileIndex(self._new_index(), self._stamp(self.index_path(profile_id)))
            with self._index_lock:
                self._indexes[profile_id] = entry
            # Saved empty at once: a crash mid-way then leaves an index that reconcile() fills.
            self._save(profile_id, entry)
            sources = [
                s
                for (s,) in self.store.query(
                    "SELECT DISTINCT source FROM chunks WHERE profile_id = ? AND kind = ? "
                    "ORDER BY source",
                    [profile_id, DOCUMENT],
                )
            ]
            report = self.add_paths(sources, profile_id, progress, force=True)
            self._reconcile_entry(profile_id, entry, progress, ReconcileReport())  # chats, exports
        return report

    # --- reading -----------------------------------------------------------------------------
    def documents(self, profile_id: int, kind: str | None = None) -> list[DocumentInfo]:
        """What the memory holds for a profile: one entry per file, chat or export."""
        rows = self.store.query(
            "SELECT c.kind, c.source, count(*), max(c.created_at), max(c.file_hash), "
            "(SELECT t.title FROM chunks t WHERE t.profile_id = c.profile_id AND t.kind = c.kind "
            " AND t.source = c.source ORDER BY t.position LIMIT 1) "
            "FROM chunks c WHERE c.profile_id = ? AND (? IS NULL OR c.kind = ?) "
            "GROUP BY c.kind, c.source ORDER BY c.kind, c.source",
            [profile_id, kind, kind],
        )
        return [
            DocumentInfo(
                kind=k,
                source=source,
                title=(title or "").split(TITLE_SEPARATOR)[0],
                chunks=count,
                updated_at=updated,
                file_hash=file_hash,
            )
            for k, source, count, updated, file_hash, title in rows
        ]

    @_storage_errors
    def search(
        self,
        query: str,
        profile_id: int,
        k: int = 5,
        *,
        kinds: Sequence[str] | None = None,
        mode: str = HYBRID,
    ) -> list[Hit]:
        """The k most relevant chunks for `query` in this profile, best first, with sources.

        Hybrid: the vector search (meaning) and the keyword search (exact words, codes, URLs,
        names) over the same chunks, blended (see `keywords.blend`). A chunk whose cosine similarity is below
        `MIN_SIMILARITY` is left out unless it holds an identifier of the query. `mode` "vector"
        or "keyword" uses one side only (for the benchmark).
        """
        refuse_event_loop_thread("Searching the memory")
        if not query.strip() or k <= 0 or not self.has_chunks(profile_id):
            return []
        entry = self._entry(profile_id, _noop)
        vector = self.embedder.embed([query])[0]
        depth = max(k * 4, SEARCH_CANDIDATES)
        by_vector: list[tuple[int, float]] = []
        if mode != KEYWORD:
            by_vector = entry.index.search(vector, depth)
        terms = query_terms(query)
        by_keyword = self._keyword_search(terms, profile_id, depth) if mode != VECTOR else []
        candidates = {i for i, _ in by_vector} | {i for i, _ in by_keyword}
        if not candidates:
            return []
        marks = ",".join("?" * len(candidates))
        # By primary key only: with "profile_id = ? AND" SQLite scans the profile's index
        # instead (11 ms at 100,000 chunks); the profile is checked here instead.
        rows = {
            row[0]: row
            for row in self.store.query(
                f"SELECT id, kind, source, title, position, text, profile_id FROM chunks "
                f"WHERE id IN ({marks})",
                list(candidates),
            )
            if row[6] == profile_id and (not kinds or row[1] in kinds)
        }
        similarity = dict(by_vector)
        for chunk_id in rows:
            if chunk_id not in similarity:  # found by keyword only: its cosine from the index
                stored = entry.index.reconstruct(chunk_id)
                similarity[chunk_id] = float(stored @ vector) if stored is not None else 0.0
        identifiers = [t for t in terms if is_identifier(t)]
        exact = {
            chunk_id
            for chunk_id, row in rows.items()
            if any(holds(f"{row[3]}\n{row[5]}", t) for t in identifiers)
        }
        if mode == KEYWORD:
            scores = dict(by_keyword)
        elif mode == VECTOR:
            scores = similarity
        else:
            weight = IDENTIFIER_BLEND_WEIGHT if identifiers else BLEND_WEIGHT
            scores = blend(similarity, dict(by_keyword), weight)
        floor = getattr(self.embedder, "min_similarity", MIN_SIMILARITY)
        hits = [
            Hit(similarity[i], i, row[1], row[2], row[3], row[4], row[5], i in exact)
            for i, row in rows.items()
            if similarity[i] >= floor or i in exact
        ]
        hits.sort(key=lambda h: (-scores.get(h.chunk_id, 0.0), -h.score, h.chunk_id))
        return hits[:k]

    def _keyword_search(
        self, terms: Sequence[str], profile_id: int, limit: int
    ) -> list[tuple[int, float]]:
        """(chunk id, strength) of chunks matching the terms, best first (FTS5, BM25; title
        words count double). Chunks holding an identifier of the query (a code, a URL, a name)
        come first, strengths 1-2; the others follow, strengths up to 1."""
        if not terms or not self._has_fts():
            return []
        terms = self._discriminating(terms)
        identifiers = [t for t in terms if is_identifier(t)]
        ranked: dict[int, float] = {}
        for group, floor in ((identifiers, 1.0), (terms, 0.0)):
            if not group:
                continue
            found = self._bm25(group, profile_id, limit)
            best = max((strength for _, strength in found), default=0.0)
            for chunk_id, strength in found:
                if chunk_id not in ranked:
                    ranked[chunk_id] = floor + (strength / best if best > 0 else 0.0)
        return sorted(ranked.items(), key=lambda item: -item[1])[:limit]

    def _discriminating(self, terms: Sequence[str]) -> list[str]:
        """The terms without those in a large share of all chunks: they barely change the
        ranking, and scoring every chunk that holds "page" takes half a second at 100,000."""
        try:
            self.store.query(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_vocab "
                "USING fts5vocab(main, chunks_fts, row)"
            )
            total = self.store.query("SELECT count(*) FROM chunks")[0][0]
            limit = max(COMMON_TERM_MIN_CHUNKS, int(total * COMMON_TERM_SHARE))
            if total <= limit:
                return list(terms)
            kept = []
            for term in terms:
                counts = [
                    (rows[0][0] if rows else 0)
                    for rows in (
                        self.store.query(
                            "SELECT doc FROM temp.chunks_fts_vocab WHERE term = ?", [token]
                        )
                        for token in re.findall(r"[^\W_]+", term.lower())
                    )
                ]
                if counts and min(counts) <= limit:
                    kept.append(term)
            return kept
        except sqlite3.Error as exc:  # no fts5vocab: keep every term
            log.warning("term frequencies unavailable (%s)", exc)
            return list(terms)

    def _bm25(self, terms: Sequence[str], profile_id: int, limit: int) -> list[tuple[int, float]]:
        try:
            rows = self.store.query(
                "SELECT rowid, -bm25(chunks_fts, 2.0, 1.0) AS strength FROM chunks_fts "
                "WHERE chunks_fts MATCH ? AND profile_id = ? ORDER BY strength DESC LIMIT ?",
                [fts_query(terms), profile_id, limit],
            )
        except sqlite3.OperationalError as exc:  # a query FTS5 cannot parse: vectors only
            log.warning("keyword search failed (%s); vector search only", exc)
            return []
        return [(row[0], float(row[1])) for row in rows]

    def _has_fts(self) -> bool:
        if self._fts is None:
            try:
                self._fts = self.store.ensure_chunks_fts()
            except sqlite3.Error as exc:
                log.warning("no keyword index for the memory (%s); vector search only", exc)
                self._fts = False
        return self._fts

    # --- feeds -------------------------------------------------------------------------------
    def remember_exchange(
        self, profile_id: int, conversation_id: int, title: str, question: str, answer: str
    ) -> int:
        """Add one chat exchange to the conversation's memory (call when a reply is complete)."""
        return self.add_text(
            CHAT,
            chat_source(conversation_id),
            title or f"Conversation {conversation_id}",
            chat_exchange_text(question, answer),
            profile_id,
        )

    def remember_export(self, record: Any) -> int:
        """Add a link-graph export's summary (site, analysis, depth, counts, top hubs)."""
        title, text = export_summary(record)
        return self.add_text(
            EXPORT, export_source(record.links_path), title, text, record.profile_id
        )

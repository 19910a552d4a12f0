"""Putting things into the memory and taking them out: files and folders, texts, removal, reindex.

A source's chunks are written to the table in one transaction, then their vectors to the profile's
index (see `index_store`). Unchanged chunks keep their vectors; during a folder ingest the next
files are read ahead so that the chunks of several files are embedded together (the model is
fastest on many texts sorted by length).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.memory.chunking import Chunk, Measure, Skipped, chunk_text
from botifython_tui.core.memory.embeddings import refuse_event_loop_thread
from botifython_tui.core.memory.events import (
    FileDone,
    IngestReport,
    Progress,
    ReconcileReport,
    ScanFinished,
    no_progress,
)
from botifython_tui.core.memory.file_formats import file_type, read_document
from botifython_tui.core.memory.files import collect, read_regular_file, utf8_name
from botifython_tui.core.memory.index_store import IndexStore, embed, load_model
from botifython_tui.core.memory.records import (
    CHAT,
    DOCUMENT,
    KINDS,
    content_hash,
    embedding_input,
)
from botifython_tui.core.store import Store, utc_now

if TYPE_CHECKING:
    from botifython_tui.core.memory.embeddings import TextEmbedder

READ_AHEAD_CHUNKS = 128  # chunks of several files embedded together during an ingest


class Ingest:
    """Adds, replaces and removes the chunks (and vectors) of sources in the memory."""

    def __init__(
        self,
        store: Store,
        indexes: IndexStore,
        embedder: TextEmbedder,
        ensure_keyword_index: Callable[[], bool],
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.ensure_keyword_index = ensure_keyword_index
        self._measure: Measure | None = None
        # Per thread, during add_paths: files read ahead and their chunks' vectors.
        self._local = threading.local()

    @property
    def measure(self) -> Measure:
        """Sizes chunks in the embedding model's own word pieces."""
        if self._measure is None:
            count = getattr(self.embedder, "count_tokens", None)
            self._measure = Measure(count, getattr(self.embedder, "max_tokens", 256))
        return self._measure

    # --- documents ---------------------------------------------------------------------------
    def add_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        profile_id: int,
        progress: Progress,
        *,
        force: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestReport:
        """Index files and folders (see `Memory.add_paths`)."""
        refuse_event_loop_thread("Adding documents")
        paths = list(paths)
        if any(not str(p).strip() for p in paths):  # "" would mean the whole current folder
            raise ValueError("An empty path names no file or folder.")
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
        files, gone = collect(paths, known, report)
        progress(ScanFinished(len(files)))
        total = len(files)
        self._local.ahead, self._local.vectors = {}, {}
        read_up_to = 0
        try:
            with self.indexes.bulk():
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
                    self.drop_sources(profile_id, gone, progress)
                    for source in gone:
                        report.removed.append(source)
                        progress(FileDone(source, "removed", 0, total, total))
        finally:
            self._local.ahead, self._local.vectors = {}, {}
            self.indexes.flush(profile_id)
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
            vectors = embed(self.embedder, list(texts.values()), progress)
            self._local.vectors = dict(zip(texts, vectors, strict=True))
        return end

    def _load_file(self, path: Path, known: dict[str, str], force: bool) -> tuple[str, Any, str]:
        """("skipped", reason, "") or ("unchanged", None, file hash) or ("read", document,
        file hash) for one file."""
        source = str(path)
        try:
            if not utf8_name(source):
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
        embedded, reused = self.replace_source(
            profile_id, DOCUMENT, source, document.chunks, file_hash, progress, reuse=not force
        )
        report.chunks_embedded += embedded
        report.chunks_reused += reused
        outcome = "updated" if source in known else "added"
        (report.updated if source in known else report.added).append(source)
        known[source] = file_hash
        return outcome, len(document.chunks), document.note or ""

    # --- texts -------------------------------------------------------------------------------
    def add_text(
        self,
        kind: str,
        source: str,
        title: str,
        text: str,
        profile_id: int,
        *,
        append: bool | None,
        progress: Progress,
    ) -> int:
        """Remember a text; chats append to their source, other kinds replace it."""
        refuse_event_loop_thread("Adding to the memory")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        append = kind == CHAT if append is None else append
        chunks = chunk_text(title, text, self.measure)
        if not chunks:
            return 0
        embedded, reused = self.replace_source(
            profile_id, kind, source, chunks, None, progress, append=append
        )
        return embedded + reused

    def replace_source(
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

        self.ensure_keyword_index()  # it exists before chunks are written (its triggers)

        entry = self.indexes.entry(profile_id, progress)
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
            fresh = embed(
                self.embedder,
                [embedding_input(chunks[i].title, chunks[i].text) for i in missing],
                progress,
                source=source,
            )
            for row, i in enumerate(missing):
                vectors[i] = fresh[row]
        now = utc_now()
        with self.indexes.exclusive():
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
            entry = self.indexes.entry(profile_id, progress)
            with self.indexes.index_lock:
                entry.index.remove(old_ids)
                if new_ids:
                    entry.index.add(new_ids, np.vstack(vectors).astype(np.float32))
                entry.dirty = True
            self.indexes.maybe_save(profile_id, entry)
        return len(todo), len(chunks) - len(todo)

    # --- removing ----------------------------------------------------------------------------
    def drop_sources(self, profile_id: int, sources: Iterable[str], progress: Progress) -> int:
        """Delete every chunk (and vector) of these sources; returns how many sources."""
        sources = list(sources)
        if not sources:
            return 0
        with self.indexes.exclusive():
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
            self.indexes.drop_vectors(profile_id, ids, progress)
        return len(sources)

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
        self.drop_sources(profile_id, sources, no_progress)
        self.indexes.flush(profile_id)
        return sorted(sources)

    def reindex(self, profile_id: int, progress: Progress) -> IngestReport:
        """Read every document again and re-embed everything (after a model or chunker change)."""
        refuse_event_loop_thread("Re-indexing")
        load_model(self.embedder, progress)
        with self.indexes.exclusive():
            entry = self.indexes.reset(profile_id)
            sources = [
                s
                for (s,) in self.store.query(
                    "SELECT DISTINCT source FROM chunks WHERE profile_id = ? AND kind = ? "
                    "ORDER BY source",
                    [profile_id, DOCUMENT],
                )
            ]
            report = self.add_paths(sources, profile_id, progress, force=True)
            # Chats and exports are not files: their chunks get vectors from the table.
            self.indexes.reconcile_entry(profile_id, entry, progress, ReconcileReport())
        return report

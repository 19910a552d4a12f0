"""The document memory's facade: `Memory`, what the app, the CLI and the chat turn call.

Besides listing what it holds (`documents`), it delegates: `ingest` adds and removes sources
(files, folders, chat exchanges, export summaries), `search` finds the relevant chunks,
`index_store` keeps each profile's FAISS index file in step with the chunks table. Reading files
is `files` and `file_formats`; what to cite from a search is `grounding`.

All methods block (embedding takes seconds): call them from a worker thread. The async helpers
`ensure_loaded()` and `asearch()` do that with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.memory.chunking import TITLE_SEPARATOR, Measure
from botifython_tui.core.memory.embeddings import (
    MemoryUnavailable,
    make_embedder,
    missing_memory_stack,
    refuse_event_loop_thread,
)
from botifython_tui.core.memory.events import IngestReport, Progress, ReconcileReport, no_progress
from botifython_tui.core.memory.feeds import (
    chat_exchange_text,
    chat_source,
    export_source,
    export_summary,
)
from botifython_tui.core.memory.index import APPROX_THRESHOLD
from botifython_tui.core.memory.index_store import IndexStore, load_model, storage_errors
from botifython_tui.core.memory.ingest import Ingest
from botifython_tui.core.memory.records import CHAT, EXPORT, DocumentInfo, Hit
from botifython_tui.core.memory.search import HYBRID, Search
from botifython_tui.core.store import Store

if TYPE_CHECKING:
    from botifython_tui.core.memory.embeddings import TextEmbedder

MEMORY_FOLDER = "memory"
MODELS_FOLDER = "models"


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
        self.indexes = IndexStore(
            store,
            self.folder,
            self.embedder,
            approx_threshold=approx_threshold,
            background_approx=background_approx,
        )
        self.searcher = Search(store, self.indexes, self.embedder)
        self.ingest = Ingest(store, self.indexes, self.embedder, self.searcher.has_fts)

    # --- status ------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def model_loaded(self) -> bool:
        return self.embedder.loaded

    @property
    def notices(self) -> list[str]:
        """Messages for the user (repairs, rebuilds), oldest first."""
        return self.indexes.notices

    @property
    def measure(self) -> Measure:
        """Sizes chunks in the embedding model's own word pieces."""
        return self.ingest.measure

    def index_path(self, profile_id: int) -> Path:
        return self.indexes.path(profile_id)

    def has_chunks(self, profile_id: int) -> bool:
        return self.indexes.has_chunks(profile_id)

    def chunk_count(self, profile_id: int) -> int:
        return self.indexes.chunk_count(profile_id)

    # --- async helpers for the UI ------------------------------------------------------------
    async def ensure_loaded(self, profile_id: int | None = None) -> ReconcileReport:
        """Load the model and check the index(es) against the table, off the calling thread."""
        return await asyncio.to_thread(self.load, profile_id)

    async def asearch(self, query: str, profile_id: int, k: int = 5) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, profile_id, k)

    # --- life cycle --------------------------------------------------------------------------
    @storage_errors
    def load(
        self, profile_id: int | None = None, progress: Progress | None = None
    ) -> ReconcileReport:
        """Load the model, then reconcile one profile (or all)."""
        load_model(self.embedder, progress or no_progress)
        return self.reconcile(profile_id, progress=progress)

    @storage_errors
    def reconcile(
        self, profile_id: int | None = None, progress: Progress | None = None
    ) -> ReconcileReport:
        """Check index and table against each other and repair (one profile, or all of them).

        Also drops the chunks and index files of profiles that no longer exist.
        """
        refuse_event_loop_thread("Reconciling the memory")
        return self.indexes.reconcile(profile_id, progress or no_progress)

    @storage_errors
    def close(self) -> None:
        """Save indexes with unsaved changes."""
        self.indexes.close()

    # --- adding and removing -----------------------------------------------------------------
    @storage_errors
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
        return self.ingest.add_paths(
            paths, profile_id, progress or no_progress, force=force, should_stop=should_stop
        )

    @storage_errors
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
        return self.ingest.add_text(
            kind, source, title, text, profile_id, append=append, progress=progress or no_progress
        )

    @storage_errors
    def remove(self, path_or_source: str | os.PathLike[str], profile_id: int) -> list[str]:
        """Forget a document, every document under a folder, or a chat/export source."""
        return self.ingest.remove(path_or_source, profile_id)

    @storage_errors
    def reindex(self, profile_id: int, progress: Progress | None = None) -> IngestReport:
        """Read every document again and re-embed everything (after a model or chunker change)."""
        return self.ingest.reindex(profile_id, progress or no_progress)

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

    @storage_errors
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
        names) over the same chunks, blended (see `keywords.blend`). A chunk whose cosine
        similarity is below `MIN_SIMILARITY` is left out unless it holds an identifier of the
        query. `mode` "vector" or "keyword" uses one side only (for the benchmark).
        """
        return self.searcher.search(query, profile_id, k, kinds=kinds, mode=mode)

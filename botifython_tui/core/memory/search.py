"""Searching the memory: the vector search (meaning) and the keyword search (exact words, codes,
URLs, names) over the same chunks, blended (see `keywords.blend`)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botifython_tui.core.memory.embeddings import refuse_event_loop_thread
from botifython_tui.core.memory.events import no_progress
from botifython_tui.core.memory.index_store import IndexStore
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
from botifython_tui.core.memory.records import Hit
from botifython_tui.core.store import Store
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    from botifython_tui.core.memory.embeddings import TextEmbedder

log = get_logger("memory")

SEARCH_CANDIDATES = 30  # from each side, before fusion
# A keyword in more than this share of all chunks (and more than the minimum) is left out of the
# keyword search: see `Search.discriminating`.
COMMON_TERM_SHARE = 0.05
COMMON_TERM_MIN_CHUNKS = 500
HYBRID, VECTOR, KEYWORD = "hybrid", "vector", "keyword"


class Search:
    """Finds the chunks of a profile most relevant to a query."""

    def __init__(self, store: Store, indexes: IndexStore, embedder: TextEmbedder) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self._fts: bool | None = None  # whether the keyword index exists (checked once)

    def search(
        self,
        query: str,
        profile_id: int,
        k: int = 5,
        *,
        kinds: Sequence[str] | None = None,
        mode: str = HYBRID,
    ) -> list[Hit]:
        """The k most relevant chunks for `query` in this profile, best first (see `Memory.search`)."""
        refuse_event_loop_thread("Searching the memory")
        if not query.strip() or k <= 0 or not self.indexes.has_chunks(profile_id):
            return []
        entry = self.indexes.entry(profile_id, no_progress)
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
        if not terms or not self.has_fts():
            return []
        terms = self.discriminating(terms)
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

    def discriminating(self, terms: Sequence[str]) -> list[str]:
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

    def has_fts(self) -> bool:
        """Whether the keyword index exists (created on first use; checked once)."""
        if self._fts is None:
            try:
                self._fts = self.store.ensure_chunks_fts()
            except sqlite3.Error as exc:
                log.warning("no keyword index for the memory (%s); vector search only", exc)
                self._fts = False
        return self._fts

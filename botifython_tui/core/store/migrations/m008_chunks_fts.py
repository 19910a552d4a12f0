"""Schema step 8: the keyword index (SQLite FTS5) over the memory's chunks, kept by triggers."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

CHUNKS_FTS_SQL = (
    # External content: the text lives once, in chunks; the triggers keep the index in step
    # with every insert, update and delete, whoever makes it.
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, "
    "profile_id UNINDEXED, content='chunks', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, title, text, profile_id) "
    "VALUES (new.id, new.title, new.text, new.profile_id); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, title, text, profile_id) "
    "VALUES ('delete', old.id, old.title, old.text, old.profile_id); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_update AFTER UPDATE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, title, text, profile_id) "
    "VALUES ('delete', old.id, old.title, old.text, old.profile_id); "
    "INSERT INTO chunks_fts(rowid, title, text, profile_id) "
    "VALUES (new.id, new.title, new.text, new.profile_id); END",
)


def create_chunks_fts(conn: sqlite3.Connection) -> bool:
    """The keyword index (SQLite FTS5) over the memory's chunks; False if SQLite lacks FTS5.

    Idempotent: creating it again is a no-op, and a new index is filled from the chunks.
    """
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks_fts'"
    ).fetchone()
    try:
        for statement in CHUNKS_FTS_SQL:
            conn.execute(statement)
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower():  # a SQLite built without FTS5: vector search only
            return False
        raise
    if not exists:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    return True


def apply(db: sqlite_utils.Database) -> None:
    """Keyword search over the memory's chunks (FTS5), fused with the vector search."""
    create_chunks_fts(db.conn)

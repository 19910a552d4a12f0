"""Schema step 6: the chunks of the document memory (their vectors live in the FAISS index)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Chunks of the document memory; the FAISS index under the data folder holds their vectors.

    AUTOINCREMENT so an id is never reused: the index keys vectors by chunk id, and a reused id
    could pair a stale vector with new text after a crash. No foreign key on the profile: the
    memory drops the chunks of a deleted profile itself (with their vectors) when it next opens.
    """
    db.execute(
        "CREATE TABLE chunks ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "profile_id INTEGER NOT NULL, "
        "kind TEXT NOT NULL, "  # document, chat or export
        "source TEXT NOT NULL, "  # absolute path, or chat:<conversation id>, export:<path>
        "title TEXT NOT NULL, "
        "position INTEGER NOT NULL, "
        "text TEXT NOT NULL, "
        "content_hash TEXT NOT NULL, "  # of the text the vector was made from
        "file_hash TEXT, "  # of the whole file, to skip unchanged files
        "created_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX chunks_source ON chunks(profile_id, kind, source, position)")
    db.execute("CREATE INDEX chunks_source_only ON chunks(profile_id, source)")

"""Schema step 4: conversations; existing messages are grouped into one per profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botifython_tui.core.store.records import utc_now

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Conversations: chat messages are grouped, so past ones can be browsed and deleted."""
    db["conversations"].create(
        {"id": int, "profile_id": int, "title": str, "created_at": str, "updated_at": str},
        pk="id",
        not_null={"profile_id", "title", "created_at", "updated_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db["messages"].add_column("conversation_id", int)
    now = utc_now()
    for (profile_id,) in db.execute("SELECT DISTINCT profile_id FROM messages").fetchall():
        cursor = db.execute(
            "INSERT INTO conversations (profile_id, title, created_at, updated_at) "
            "VALUES (?, 'Earlier messages', ?, ?)",
            [profile_id, now, now],
        )
        db.execute(
            "UPDATE messages SET conversation_id = ? WHERE profile_id = ?",
            [cursor.lastrowid, profile_id],
        )
    db.execute("CREATE INDEX messages_conversation ON messages(conversation_id, id)")

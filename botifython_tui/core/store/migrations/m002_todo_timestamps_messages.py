"""Schema step 2: todo timestamps (backfilled) and a per-profile index; the chat messages table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botifython_tui.core.store.records import utc_now

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Todo timestamps and an index for per-profile listing; chat messages."""
    db["todos"].add_column("created_at", str)
    db["todos"].add_column("updated_at", str)
    db.execute(
        "UPDATE todos SET created_at = ?, updated_at = ? WHERE created_at IS NULL",
        [utc_now(), utc_now()],
    )
    db.execute("CREATE INDEX todos_profile_position ON todos(profile_id, position)")
    db["messages"].create(
        {"id": int, "profile_id": int, "role": str, "content": str, "created_at": str},
        pk="id",
        not_null={"profile_id", "role", "content", "created_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX messages_profile ON messages(profile_id, id)")

"""Schema step 1: the key-value settings, profiles (names unique ignoring case) and todos."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Key-value store, profiles and todos."""
    db["kv"].create({"key": str, "value": str}, pk="key", not_null={"value"})
    db["profiles"].create(
        {"id": int, "name": str, "created_at": str}, pk="id", not_null={"name", "created_at"}
    )
    db.execute("CREATE UNIQUE INDEX profiles_name_nocase ON profiles(name COLLATE NOCASE)")
    db["todos"].create(
        {"id": int, "profile_id": int, "title": str, "done": int, "position": int},
        pk="id",
        not_null={"profile_id", "title", "done", "position"},
        defaults={"done": 0},
        foreign_keys=[("profile_id", "profiles", "id")],
    )

"""Schema step 5: the audit log of the assistant's actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Audit log of the assistant's actions: what ran (or was rejected), where, and the result."""
    db["audit"].create(
        {
            "id": int,
            "profile_id": int,
            "created_at": str,
            "action": str,
            "arguments": str,
            "approved": int,
            "result": str,
            "ok": int,
        },
        pk="id",
        not_null={"profile_id", "created_at", "action", "arguments", "approved", "result", "ok"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX audit_profile ON audit(profile_id, id)")

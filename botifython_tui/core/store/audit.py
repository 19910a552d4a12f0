"""The audit log: one profile's record of the assistant's actions, approved or refused."""

from __future__ import annotations

import json
from typing import Any

from botifython_tui.core.store.connection import Connection
from botifython_tui.core.store.records import AuditEntry, utc_now

MAX_AUDIT_RESULT = 4000


def _audit_entry(row: tuple) -> AuditEntry:
    id_, profile_id, created_at, action, arguments, approved, result, ok = row
    try:
        decoded = json.loads(arguments)
    except ValueError:
        decoded = {"_raw": arguments}
    return AuditEntry(
        id_,
        profile_id,
        created_at,
        action,
        decoded if isinstance(decoded, dict) else {"_raw": decoded},
        bool(approved),
        result,
        bool(ok),
    )


class ProfileAudit:
    """One profile's log of assistant actions, newest first."""

    def __init__(self, store: Connection, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def add(
        self, action: str, arguments: dict[str, Any], *, approved: bool, result: str, ok: bool
    ) -> AuditEntry:
        encoded = json.dumps(arguments, ensure_ascii=False, default=str)
        result = str(result)
        if len(result) > MAX_AUDIT_RESULT:
            result = result[: MAX_AUDIT_RESULT - 1] + "…"
        with self._store.write() as db:
            cursor = db.execute(
                "INSERT INTO audit (profile_id, created_at, action, arguments, approved, result, ok) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [self.profile_id, utc_now(), str(action), encoded, int(approved), result, int(ok)],
            )
            entry_id = cursor.lastrowid
        rows = self._store.query(
            "SELECT id, profile_id, created_at, action, arguments, approved, result, ok "
            "FROM audit WHERE id = ?",
            [entry_id],
        )
        return _audit_entry(rows[0])

    def list(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._store.query(
            "SELECT id, profile_id, created_at, action, arguments, approved, result, ok "
            "FROM audit WHERE profile_id = ? ORDER BY id DESC LIMIT ?",
            [self.profile_id, limit],
        )
        return [_audit_entry(row) for row in rows]

"""One profile's recorded link-graph exports (what was bought, where its files are)."""

from __future__ import annotations

import json
from typing import Any

from botifython_tui.core.store.connection import Connection
from botifython_tui.core.store.errors import NotFound
from botifython_tui.core.store.records import ExportRecord, utc_now

_EXPORT_COLUMNS = (
    "id, profile_id, org, project, analysis, depth, edges, urls, links_path, meta_path, "
    "summary, created_at, files"
)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _export(row: tuple) -> ExportRecord:
    values = list(row)
    values[10] = _json_object(values[10])
    values[12] = _json_object(values[12])
    values[6] = values[6] or 0
    values[7] = values[7] or 0
    return ExportRecord(*values)


class ProfileExports:
    """One profile's link-graph exports, newest first."""

    def __init__(self, store: Connection, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def add(
        self,
        *,
        org: str,
        project: str,
        analysis: str,
        depth: int,
        edges: int,
        urls: int,
        links_path: str,
        meta_path: str | None,
        summary: dict[str, Any],
        files: dict[str, Any] | None = None,
    ) -> ExportRecord:
        with self._store.write() as db:
            cursor = db.execute(
                f"INSERT INTO exports ({_EXPORT_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.profile_id,
                    org,
                    project,
                    analysis,
                    depth,
                    edges,
                    urls,
                    links_path,
                    meta_path,
                    json.dumps(summary),
                    utc_now(),
                    json.dumps(files) if files else None,
                ],
            )
            export_id = cursor.lastrowid
        return self.get(export_id)

    def get(self, export_id: int) -> ExportRecord:
        rows = self._store.query(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE id = ? AND profile_id = ?",
            [export_id, self.profile_id],
        )
        if not rows:
            raise NotFound(f"There is no export {export_id} in this profile.")
        return _export(rows[0])

    def list(self) -> list[ExportRecord]:
        rows = self._store.query(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE profile_id = ? ORDER BY id DESC",
            [self.profile_id],
        )
        return [_export(row) for row in rows]

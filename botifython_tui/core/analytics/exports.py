"""Find an export by its recorded id or its links CSV; the rows of `botifython exports --json`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics.files import (
    ExportFiles,
    export_files,
)
from botifython_tui.core.analytics.loading import ExportReadError

if TYPE_CHECKING:
    from botifython_tui.core.store import ExportRecord, Store


class ExportNotFound(ExportReadError):
    """EXPORT names no recorded export and no links file."""


def record_files(record: ExportRecord) -> ExportFiles:
    return export_files(record.links_path, record.meta_path or None, record.depth)


def resolve_export(
    text: str, store: Store | None = None, profile_id: int | None = None
) -> tuple[ExportFiles, ExportRecord | None]:
    """EXPORT as an id from `botifython exports` (this profile) or the path of a links CSV."""
    text = str(text).strip()
    if text.isdigit() and store is not None and profile_id is not None:
        from botifython_tui.core.store import NotFound

        try:
            record = store.exports(profile_id).get(int(text))
        except NotFound:
            if not Path(text).is_file():
                raise ExportNotFound(
                    f"There is no export {text} in this profile. List them with: botifython exports"
                ) from None
        else:
            return record_files(record), record
    path = Path(text).expanduser()
    if not path.is_file():
        raise ExportNotFound(
            f"{text} is neither an export id nor a links CSV file. List the exports with: "
            "botifython exports"
        )
    record = None
    if store is not None and profile_id is not None:
        resolved = path.resolve()
        for candidate in store.exports(profile_id).list():
            try:
                if Path(candidate.links_path).resolve() == resolved:
                    record = candidate
                    break
            except OSError:
                continue
    if record is not None:
        return record_files(record), record
    return export_files(path), None


def export_rows(records: list[ExportRecord]) -> list[dict[str, Any]]:
    """The `botifython exports --json` rows."""
    rows = []
    for record in records:
        files = record_files(record)
        rows.append(
            {
                "id": record.id,
                "org": record.org,
                "project": record.project,
                "analysis": record.analysis,
                "depth": record.depth,
                "edges": record.edges,
                "urls": record.urls,
                "links_path": record.links_path,
                "meta_path": record.meta_path,
                "created_at": record.created_at,
                "files_present": files.links.is_file(),
                "analysed": files.cache_json.is_file(),
            }
        )
    return rows

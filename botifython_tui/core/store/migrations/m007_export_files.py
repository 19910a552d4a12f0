"""Schema step 7: what each export file was when written, to notice later changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """What each export file was when written (size, rows, fingerprint), to notice later changes.

    A JSON object per export: `{"links": {"path", "size", "rows", "fingerprint"}, "meta": …}`;
    NULL for exports recorded before, which are then only checked to exist.
    """
    db.execute("ALTER TABLE exports ADD COLUMN files TEXT")

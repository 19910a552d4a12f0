"""Schema step 3: the link-graph exports table."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    """Link-graph exports, so they are listed, re-opened and never bought twice by mistake."""
    db["exports"].create(
        {
            "id": int,
            "profile_id": int,
            "org": str,
            "project": str,
            "analysis": str,
            "depth": int,
            "edges": int,
            "urls": int,
            "links_path": str,
            "meta_path": str,
            "summary": str,
            "created_at": str,
        },
        pk="id",
        not_null={"profile_id", "org", "project", "analysis", "depth", "links_path", "created_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX exports_analysis ON exports(org, project, analysis)")

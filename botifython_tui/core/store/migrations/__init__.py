"""The schema steps, in order: one module per step, each with an `apply(db)`.

Step N brings a database from schema version N-1 to N, inside the migration's transaction. Never
edit a released step: add a new module and list it last, so a user's existing database upgrades
without losing data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botifython_tui.core.store.migrations import (
    m001_kv_profiles_todos,
    m002_todo_timestamps_messages,
    m003_exports,
    m004_conversations,
    m005_audit,
    m006_chunks,
    m007_export_files,
    m008_chunks_fts,
)

if TYPE_CHECKING:
    import sqlite_utils

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_kv_profiles_todos.apply,
    m002_todo_timestamps_messages.apply,
    m003_exports.apply,
    m004_conversations.apply,
    m005_audit.apply,
    m006_chunks.apply,
    m007_export_files.apply,
    m008_chunks_fts.apply,
]
SCHEMA_VERSION = len(MIGRATIONS)

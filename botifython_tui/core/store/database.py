"""The app's database: the migrated connection, its settings and profiles, and the per-profile
repositories (todos, conversations, exports, audit) reached through it."""

from __future__ import annotations

import os

from botifython_tui.core.store.audit import ProfileAudit
from botifython_tui.core.store.connection import Connection
from botifython_tui.core.store.conversations import ProfileConversations
from botifython_tui.core.store.exports import ProfileExports
from botifython_tui.core.store.kv import KeyValue
from botifython_tui.core.store.migrations import SCHEMA_VERSION
from botifython_tui.core.store.profiles import Profiles
from botifython_tui.core.store.todos import ProfileTodos


class Store(Connection):
    """The app's database. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 15.0,
        schema_version: int = SCHEMA_VERSION,
    ) -> None:
        super().__init__(path, busy_timeout=busy_timeout, schema_version=schema_version)
        self.kv = KeyValue(self)
        self.profiles = Profiles(self)
        if schema_version >= 1:
            with self._closed_on_failure():
                self.profiles.ensure_one()

    # --- scoped views: each sees one profile's rows and nothing else ----------------------------
    def todos(self, profile_id: int) -> ProfileTodos:
        """The only way to reach todos: a view that sees one profile's todos and nothing else."""
        return ProfileTodos(self, profile_id)

    def conversations(self, profile_id: int) -> ProfileConversations:
        return ProfileConversations(self, profile_id)

    def exports(self, profile_id: int) -> ProfileExports:
        return ProfileExports(self, profile_id)

    def audit(self, profile_id: int) -> ProfileAudit:
        return ProfileAudit(self, profile_id)

    def exported_analyses(self) -> set[tuple[str, str, str]]:
        """(org, project, analysis) exported by any profile: exports cost the account credits."""
        rows = self.query("SELECT DISTINCT org, project, analysis FROM exports")
        return {(org, project, analysis) for org, project, analysis in rows}

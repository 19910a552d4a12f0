"""The rows the store hands out: small frozen dataclasses, one per table, and the timestamp format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """The store's timestamp: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    created_at: str


@dataclass(frozen=True)
class DeletedProfile:
    """A deleted profile and the rows it owned (per table: column names, rows), for undo."""

    profile: Profile
    owned: dict[str, tuple[tuple[str, ...], list[tuple]]]
    was_current: bool

    def count(self, table: str) -> int:
        return len(self.owned.get(table, ((), []))[1])


@dataclass(frozen=True)
class Todo:
    id: int
    profile_id: int
    title: str
    done: bool
    position: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Conversation:
    id: int
    profile_id: int
    title: str
    created_at: str
    updated_at: str
    message_count: int = 0


@dataclass(frozen=True)
class Message:
    id: int
    profile_id: int
    role: str
    content: str
    created_at: str


@dataclass(frozen=True)
class ExportRecord:
    id: int
    profile_id: int
    org: str
    project: str
    analysis: str
    depth: int
    edges: int
    urls: int
    links_path: str
    meta_path: str | None
    summary: dict[str, Any]
    created_at: str
    # per kind ("links", "meta"): {"path", "size", "rows", "fingerprint"} when written; {} for
    # exports recorded before these were kept
    files: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    profile_id: int
    created_at: str
    action: str
    arguments: dict[str, Any]
    approved: bool
    result: str
    ok: bool

"""Progress events and results of memory jobs: the CLI and the TUI render the same ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScanFinished:
    """The paths were walked: `files` candidates to read."""

    files: int


@dataclass(frozen=True)
class ModelLoading:
    """The embedding model is being loaded (seconds: say so in the UI)."""

    model: str


@dataclass(frozen=True)
class ModelReady:
    model: str
    dim: int
    seconds: float


@dataclass(frozen=True)
class ChunksEmbedded:
    """Within one file (or a rebuild): `done` of `total` chunks have vectors."""

    done: int
    total: int
    source: str = ""


@dataclass(frozen=True)
class FileDone:
    """One file handled: outcome is added, updated, unchanged, removed or skipped."""

    path: str
    outcome: str
    chunks: int
    index: int  # 1-based
    total: int
    reason: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the user should read (a repaired index, a rebuilt index …)."""

    message: str


Event = ScanFinished | ModelLoading | ModelReady | ChunksEmbedded | FileDone | Notice
Progress = Callable[[Event], None]  # what a memory job calls with each event


def no_progress(event: Event) -> None:
    """The progress callback of a job nobody watches."""
    return None


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class ReconcileReport:
    embedded: int = 0  # chunks in the table that the index lacked
    removed: int = 0  # vectors in the index whose chunk is gone
    rebuilt: list[int] = field(default_factory=list)  # profiles whose index was rebuilt
    messages: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.embedded or self.removed or self.rebuilt)

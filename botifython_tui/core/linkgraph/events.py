"""The progress events an export yields, and its result: small frozen dataclasses that the TUI, the
CLI and the tests render each in their own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botifython_tui.core.linkgraph.plan import ExportPlan


@dataclass(frozen=True)
class StepStarted:
    step: str  # "depth", "links", "meta", "summary"
    message: str


@dataclass(frozen=True)
class DepthChecked:
    depth: int
    edges: int
    within_budget: bool


@dataclass(frozen=True)
class DepthChosen:
    depth: int
    edges: int
    reason: str


@dataclass(frozen=True)
class JobCreated:
    kind: str  # "links" or "meta"
    job_id: str


@dataclass(frozen=True)
class JobPolled:
    kind: str
    status: str
    elapsed: float


@dataclass(frozen=True)
class BytesDownloaded:
    kind: str
    received: int
    total: int | None


@dataclass(frozen=True)
class FileWritten:
    kind: str
    path: Path
    rows: int
    size: int


@dataclass(frozen=True)
class Notice:
    message: str


@dataclass(frozen=True)
class PlanReady:
    plan: ExportPlan


@dataclass(frozen=True)
class LinkGraphResult:
    org: str
    project: str
    analysis: str
    depth: int
    edges: int
    urls: int
    links_path: Path
    meta_path: Path | None
    summary: dict[str, Any]
    meta_columns: list[str] = field(default_factory=list)
    # per kind: {"path", "size", "rows", "fingerprint"}, recorded to check the files later
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportFinished:
    result: LinkGraphResult


Event = (
    StepStarted
    | DepthChecked
    | DepthChosen
    | PlanReady
    | JobCreated
    | JobPolled
    | BytesDownloaded
    | FileWritten
    | Notice
    | ExportFinished
)

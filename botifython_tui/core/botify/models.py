"""What the Botify API lists (projects, analyses) and what a pasted project URL names.

`Analysis.is_finished` is the one place that decides whether a crawl can be exported."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Project:
    org: str
    slug: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.org}/{self.slug}"


@dataclass(frozen=True)
class Analysis:
    slug: str
    name: str
    status: str
    date: str  # ISO date-time the crawl was launched (or created)

    @property
    def label(self) -> str:
        return (
            self.slug if not self.name or self.name == self.slug else f"{self.slug} ({self.name})"
        )

    @property
    def is_finished(self) -> bool:
        """The one place that decides whether a crawl can be exported (Botify says "success",
        in whatever case)."""
        return self.status.strip().lower() == "success"


def latest_finished(analyses: Sequence[Analysis]) -> Analysis | None:
    """The newest finished analysis (Botify lists the newest first), or None."""
    return next((a for a in analyses if a.is_finished), None)


_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # \Z: `$` would accept a trailing newline
_ANALYSIS_SLUG = re.compile(r"^\d{8}(-\d+)?\Z")


@dataclass(frozen=True)
class ProjectRef:
    """What a pasted project URL names: organisation, project, and maybe an analysis."""

    org: str
    project: str
    analysis: str | None = None


def parse_project_ref(text: str) -> ProjectRef:
    """Read `https://app.botify.com/ORG/PROJECT/…` (any trailing path, query or slash) or `ORG/PROJECT`."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError(
            "Paste a Botify project URL (https://app.botify.com/ORG/PROJECT/) or ORG/PROJECT."
        )
    candidate = raw
    if re.match(r"^[a-z][a-z0-9+.-]*://", candidate, re.IGNORECASE):
        parts = urlsplit(candidate)
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(
                f"{raw!r} is not a web address: expected https://app.botify.com/ORG/PROJECT/."
            )
        host = (parts.hostname or "").lower()
        if host != "botify.com" and not host.endswith(".botify.com"):
            raise ValueError(
                f"{raw!r} is not a Botify address (the host is {host or 'missing'}): "
                "expected https://app.botify.com/ORG/PROJECT/."
            )
        path = parts.path
    elif re.match(r"^(app\.)?botify\.com/", candidate, re.IGNORECASE):
        path = candidate.split("/", 1)[1]
        path = re.split(r"[?#]", path, maxsplit=1)[0]
    else:
        path = re.split(r"[?#]", candidate, maxsplit=1)[0]
    segments = [s for s in path.split("/") if s]
    if segments and segments[0] in ("api", "v1"):  # an API URL pasted by mistake
        segments = [s for s in segments if s not in ("api", "v1", "projects", "analyses")]
    if len(segments) < 2:
        raise ValueError(
            f"{raw!r} does not name a project: expected https://app.botify.com/ORG/PROJECT/ or ORG/PROJECT."
        )
    org, project = segments[0], segments[1]
    for label, value in (("organisation", org), ("project", project)):
        if not _SLUG.match(value) or value in (".", ".."):
            raise ValueError(f"{value!r} is not a valid Botify {label} name.")
    analysis = segments[2] if len(segments) > 2 and _ANALYSIS_SLUG.match(segments[2]) else None
    return ProjectRef(org=org, project=project, analysis=analysis)

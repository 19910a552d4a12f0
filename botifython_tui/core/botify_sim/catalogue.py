"""The simulated account's projects and analyses (statuses, dates, names as Botify gives them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botifython_tui.core.botify_sim.graph import SyntheticGraph

ANALYSIS_STATUSES = ("preparing", "crawling", "crawling_paused", "analyzing", "success", "failed")
_MONTHS = (
    "Jan.",
    "Feb.",
    "Mar.",
    "Apr.",
    "May",
    "Jun.",
    "Jul.",
    "Aug.",
    "Sep.",
    "Oct.",
    "Nov.",
    "Dec.",
)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def slug_datetime(slug: str) -> datetime:
    m = re.match(r"(\d{4})(\d{2})(\d{2})(?:-(\d+))?", slug)
    if not m:
        return datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
    y, mo, d, n = m.groups()
    try:
        base = datetime(int(y), int(mo), int(d), 6, 0, tzinfo=UTC)
    except ValueError:
        return datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
    return base + timedelta(hours=int(n) if n else 0)


def parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def analysis_name(dt: datetime, slug: str) -> str:
    name = f"{dt.year} {_MONTHS[dt.month - 1]} {_ordinal(dt.day)}"
    m = re.search(r"-(\d+)$", slug)
    return f"{name} ({m.group(1)})" if m else name


@dataclass
class SimAnalysis:
    slug: str
    status: str
    date_launched: datetime
    name: str
    graph: SyntheticGraph
    pk: int
    friendly_name: str | None = None

    @property
    def date_finished(self) -> datetime | None:
        if self.status in ("success", "failed"):
            return self.date_launched + timedelta(hours=3, minutes=12, seconds=48.145643)
        return None

    def light(self, org: str, project: str) -> dict[str, Any]:
        done = self.graph.n_urls
        if self.status != "success":
            done = done // 3 if self.status != "failed" else done // 10
        finished = self.date_finished
        last_modified = (finished or self.date_launched) + timedelta(microseconds=24)
        return {
            "pk": self.pk,
            "slug": self.slug,
            "name": self.name,
            "friendly_name": self.friendly_name,
            "url": f"https://app.botify.com/{org}/{project}/{self.slug}/",
            "status": self.status,
            "urls_done": done,
            "urls_in_queue": 0
            if self.status in ("success", "failed")
            else self.graph.n_urls - done,
            "date_launched": iso(self.date_launched),
            "date_finished": iso(finished),
            "date_last_modified": iso(last_modified),
            "date_created": iso(self.date_launched - timedelta(seconds=1)),
            "to_be_deleted_at": None,
            "comparable": self.status == "success",
            "excluded_from_trends": False,
            "has_raw_pages": False,
        }


@dataclass
class SimProject:
    org: str
    slug: str
    name: str
    org_name: str
    analyses: list[SimAnalysis]
    has_search_console: bool
    date_created: datetime
    pk: int
    active: bool = True

    def analysis(self, slug: str) -> SimAnalysis | None:
        for a in self.analyses:
            if a.slug == slug:
                return a
        return None

    def sorted_analyses(self) -> list[SimAnalysis]:
        return sorted(self.analyses, key=lambda a: a.date_launched, reverse=True)

    def successful(self) -> list[SimAnalysis]:
        return [a for a in self.sorted_analyses() if a.status == "success"]

    def as_json(self, owner: dict[str, Any]) -> dict[str, Any]:
        """The project as `GET /v1/projects/{user}` lists it (`owner`: the account's user)."""
        p = self
        graph = p.analyses[0].graph if p.analyses else None
        site = graph.host + "/" if graph else f"https://{p.slug}/"
        org_email = f"{p.org}@example.com"
        return {
            "pk": p.pk,
            "name": p.name,
            "slug": p.slug,
            "active": p.active,
            "date_created": iso(p.date_created),
            "url": f"https://app.botify.com/{p.org}/{p.slug}/",
            "has_crawl": bool(p.analyses),
            "has_logs": False,
            "user": {
                "login": p.org,
                "email": org_email,
                "is_organization": True,
                "url": f"https://app.botify.com/{p.org}/",
                "date_joined": iso(p.date_created - timedelta(days=30)),
                "first_name": "",
                "last_name": "",
                "company_name": p.org_name,
            },
            "organization": {
                "slug": p.org,
                "name": p.org_name,
                "is_organization": True,
                "email": org_email,
                "owner": dict(owner),
            },
            "current_settings": {"url": site},
            "webproperty": {"url": site},
        }

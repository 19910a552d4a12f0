"""What a link-graph export will do: the request, the plan (known before any credit is spent), the
node attributes asked for, the files' names, and the error an export fails with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from botifython_tui.core import settings
from botifython_tui.core.botify import BotifyError
from botifython_tui.core.export_files import credits, export_base

DEFAULT_MAX_EDGES: int = settings.get(settings.MAX_EDGES).default
DIRECT_DOWNLOAD_CAP = 1_000_000  # rows per direct-download export
MAX_DEPTH = 30


class ExportFailed(BotifyError):
    """The export job failed, finished without a file, or the file was unusable."""

    title = "Export failed"


@dataclass(frozen=True)
class PollPolicy:
    """Poll a job with growing pauses, up to an overall deadline."""

    first_delay: float = 0.5
    factor: float = 1.6
    max_delay: float = 10.0
    deadline: float = 3600.0


@dataclass(frozen=True)
class LinkGraphRequest:
    org: str
    project: str
    analysis: str
    max_edges: int = DEFAULT_MAX_EDGES
    include_meta: bool = True


# The node attributes exported next to the edges: (field under crawl.<analysis>, column name).
# Columns in this order (a contract other readers rely on); see the README's "Node attributes".
META_FIELDS: list[tuple[str, str]] = [
    ("depth", "depth"),
    ("segments.pagetype.value", "pagetype"),
    ("http_code", "http_code"),
    ("compliant.is_compliant", "is_compliant"),
    ("canonical.to.equal", "canonical_is_self"),
    ("canonical.to.url", "canonical_to"),
    ("sitemaps.present", "in_sitemap"),
    ("inlinks_internal.nb.unique", "inlinks"),
    ("outlinks_internal.nb.unique", "outlinks"),
    ("internal_page_rank.value", "pagerank_botify"),
    ("internal_page_rank.position", "pagerank_botify_position"),
]
SEARCH_CONSOLE_METRICS: list[tuple[str, str]] = [
    ("search_console.period_0.count_impressions", "impressions"),
    ("search_console.period_0.count_clicks", "clicks"),
]


@dataclass(frozen=True)
class ExportPlan:
    """What an export will do, known before any job is created (no credits spent yet)."""

    org: str
    project: str
    analysis: str
    depth: int
    edges: int  # links counted at depth <= depth
    nodes: int  # URLs counted at depth <= depth + 1 (0 without node attributes)
    reason: str
    include_meta: bool
    links_path: Path
    meta_path: Path | None

    @property
    def credits(self) -> float:
        return credits(self.edges, self.nodes)

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.links_path, self.meta_path) if p is not None]

    def existing_files(self) -> list[Path]:
        """Files of an earlier export at the same depth that this one would replace."""
        return [p for p in self.paths if p.exists()]


def export_paths(
    downloads_dir: Path, org: str, project: str, analysis: str, depth: int
) -> tuple[Path, Path]:
    """The links and node-attribute files of one export; both names carry the depth."""
    base = export_base(org, project, analysis)
    links = downloads_dir / f"{base}_linkgraph_depth-{int(depth)}.csv"
    meta = downloads_dir / f"{base}_depth-{int(depth)}_meta.csv"
    root = downloads_dir.resolve()
    for path in (links, meta):
        if path.resolve().parent != root:
            raise ExportFailed(f"Refusing to write {path}: it is outside {root}.")
    return links, meta

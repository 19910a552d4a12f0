"""The graph section: nodes, edges, rows left out, and how well the node attributes cover the graph."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.analytics.loading import NO_PAGETYPE, LinkGraph, NodeTable
from botifython_tui.core.analytics.sections.shared import share


def graph_section(
    graph: LinkGraph,
    meta: NodeTable | None,
    depth: int | None,
    notes: list[str],
    warnings: list[str],
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "nodes": graph.n,
        "edges": len(graph.source),
        "rows": graph.rows,
        "self_loops": graph.self_loops,
        "duplicate_edges": graph.duplicates,
        "skipped_rows": graph.skipped_rows,
        "export_depth": depth,
    }
    if graph.self_loops:
        notes.append(
            f"{graph.self_loops:,} self-link{'s' if graph.self_loops != 1 else ''} (a page linking "
            "to itself) left out: they pass no PageRank to another page."
        )
    if graph.duplicates:
        notes.append(
            f"{graph.duplicates:,} duplicate link{'s' if graph.duplicates != 1 else ''} counted "
            "once (the same source and target on several rows)."
        )
    if graph.skipped_rows:
        warnings.append(
            f"{graph.skipped_rows:,} row{'s' if graph.skipped_rows != 1 else ''} of the links "
            "file had an empty source or target and were skipped."
        )
    if graph.n <= 1:
        notes.append("The export has one page or none: PageRank, depth and link flow are trivial.")
    if meta is None:
        section["meta"] = None
        notes.append(
            "No node attributes file: pagetype, compliance, Botify's depth and PageRank and Search "
            "Console figures are not available; the link-only analytics still ran."
        )
        return section
    coverage = share(meta.matched, graph.n)
    expected = [
        "depth",
        "pagetype",
        "http_code",
        "is_compliant",
        "canonical_is_self",
        "canonical_to",
        "inlinks",
        "pagerank_botify",
        "impressions",
        "clicks",
    ]
    section["meta"] = {
        "rows": meta.rows,
        "matched": meta.matched,
        "coverage": round(coverage, 6),
        "outside": meta.outside,
        "columns": meta.present,
        "missing_columns": [name for name in expected if not meta.has(name)],
        "bad_values": meta.bad_values,
    }
    if graph.n and coverage < 0.99:
        notes.append(
            f"The node attributes cover {coverage:.1%} of the graph's pages; the others count as "
            f"'{NO_PAGETYPE}' with unknown compliance."
        )
    if meta.outside:
        notes.append(
            f"{meta.outside:,} node row{'s' if meta.outside != 1 else ''} name a URL with no link "
            "in the export; left out."
        )
    for name, bad in meta.bad_values.items():
        warnings.append(f"{bad:,} unreadable value{'s' if bad != 1 else ''} in the column {name}.")
    return section

"""Section 1, PageRank: the top pages, the share by pagetype, and how it compares with Botify's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NodeTable
from botifython_tui.core.analytics.sections.shared import (
    SHORT_N,
    TOP_N,
    absent,
    missing_text,
    share,
)

if TYPE_CHECKING:
    import numpy as np


PAGERANK_NOTE = (
    "This PageRank is computed on the exported graph, cut at the export's depth; Botify's "
    "internal PageRank is computed on the whole crawl. Where the two disagree, the cut matters."
)


def pagerank_section(
    rank: algorithms.PageRankResult,
    urls: list[str],
    meta: NodeTable | None,
    codes: np.ndarray,
    pagetypes: list[str],
) -> dict[str, Any]:
    import numpy as np

    pr = rank.scores
    n = len(pr)
    order = np.argsort(-pr, kind="stable")
    top_count = max(1, int(np.ceil(n * 0.01))) if n else 0
    section: dict[str, Any] = {
        "damping": algorithms.DAMPING,
        "tolerance": algorithms.TOLERANCE,
        "iterations": rank.iterations,
        "converged": rank.converged,
        "note": PAGERANK_NOTE,
        "top": [[urls[i], float(pr[i])] for i in order[:TOP_N]],
        "top_1pct_pages": top_count,
        "top_1pct_share": float(pr[order[:top_count]].sum()) if n else 0.0,
    }
    # Share by pagetype, next to Search Console's clicks and impressions.
    k = len(pagetypes)
    pages = np.bincount(codes, minlength=k)
    pr_by = np.bincount(codes, weights=pr, minlength=k)
    gsc = {}
    for name in ("clicks", "impressions"):
        column = meta.get(name) if meta is not None else None
        if column is not None:
            values = np.nan_to_num(column, nan=0.0)
            gsc[name] = (np.bincount(codes, weights=values, minlength=k), float(values.sum()))
    rows = []
    for i in np.argsort(-pr_by, kind="stable"):
        row: dict[str, Any] = {
            "pagetype": pagetypes[i],
            "pages": int(pages[i]),
            "pagerank_share": float(pr_by[i]),
        }
        for name, (by, total) in gsc.items():
            row[f"{name}_share"] = share(by[i], total) if total else None
        rows.append(row)
    missing_gsc = [name for name in ("clicks", "impressions") if name not in gsc]
    section["by_pagetype"] = {
        "rows": rows,
        "missing": missing_text(absent(meta, "pagetype"), meta)
        if absent(meta, "pagetype")
        else None,
        "search_console": None
        if missing_gsc
        else (
            "no Search Console data (every value is 0)"
            if all(t == 0 for _, t in gsc.values())
            else "ok"
        ),
    }
    if missing_gsc:
        section["by_pagetype"]["search_console"] = missing_text(missing_gsc, meta)
    section["botify"] = _botify_comparison(pr, urls, meta)
    return section


def _botify_comparison(pr: np.ndarray, urls: list[str], meta: NodeTable | None) -> dict[str, Any]:
    import numpy as np

    missing = absent(meta, "pagerank_botify")
    if missing:
        return {"missing": missing_text(missing, meta), "spearman": None, "pages": 0}
    theirs = meta.get("pagerank_botify")
    known = np.flatnonzero(~np.isnan(theirs))
    if len(known) < 3:
        return {
            "missing": "fewer than 3 pages have Botify's PageRank",
            "spearman": None,
            "pages": int(len(known)),
        }
    ours, botify = pr[known], theirs[known]
    rho = algorithms.spearman(ours, botify)
    # Positions (1 = highest) among the compared pages; disagreement on a log scale, so a page at
    # 5 here and 500 in Botify counts as much as one at 50 and 5,000.
    ours_position = len(known) + 1 - algorithms.rankdata(ours)
    botify_position = len(known) + 1 - algorithms.rankdata(botify)
    gap = np.log2(botify_position / ours_position)

    def rows(indices: np.ndarray) -> list[list[Any]]:
        return [
            [
                urls[known[i]],
                float(ours[i]),
                int(round(ours_position[i])),
                float(botify[i]),
                int(round(botify_position[i])),
            ]
            for i in indices
        ]

    order = np.argsort(-gap, kind="stable")
    higher_here = order[:SHORT_N]
    higher_here = higher_here[gap[higher_here] > 0]
    lower_here = np.argsort(gap, kind="stable")[:SHORT_N]
    lower_here = lower_here[gap[lower_here] < 0]
    return {
        "missing": None,
        "spearman": rho,
        "pages": int(len(known)),
        "columns": ["url", "pagerank", "position", "pagerank_botify", "position_botify"],
        "higher_here": rows(higher_here),
        "higher_in_botify": rows(lower_here),
    }

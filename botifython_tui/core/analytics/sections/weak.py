"""Section 3, weakly linked pages: few inlinks or little PageRank, and the ones searchers see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NodeTable
from botifython_tui.core.analytics.sections.shared import FEW_INLINKS, TOP_N, missing_text

if TYPE_CHECKING:
    import numpy as np


def weak_section(
    urls: list[str], meta: NodeTable | None, inlinks: np.ndarray, pr: np.ndarray
) -> dict[str, Any]:
    import numpy as np

    n = len(urls)
    few = (inlinks >= 1) & (inlinks <= FEW_INLINKS)
    section: dict[str, Any] = {
        "inlink_histogram": [list(row) for row in algorithms.log_bins(inlinks)],
        "no_inlinks": int((inlinks == 0).sum()),
        "one_or_two_inlinks": int(few.sum()),
        "note": "Inlinks are counted within the exported graph.",
    }
    compliant = meta.get("is_compliant") if meta is not None else None
    if compliant is not None:
        section["one_or_two_inlinks_compliant"] = int((few & (compliant == 1)).sum())
    impressions = meta.get("impressions") if meta is not None else None
    if impressions is None:
        section["candidates"] = {"missing": missing_text(["impressions"], meta), "rows": []}
        return section
    shown = np.nan_to_num(impressions, nan=0.0)
    if not shown.any():
        section["candidates"] = {
            "missing": "no Search Console data (no page has impressions)",
            "rows": [],
        }
        return section
    botify_inlinks = meta.get("inlinks")
    links = (
        np.where(np.isnan(botify_inlinks), inlinks, botify_inlinks)
        if botify_inlinks is not None
        else inlinks
    )
    low_rank = float(np.quantile(pr, 0.25)) if n else 0.0
    weak = (shown > 0) & ((links <= FEW_INLINKS) | (pr <= low_rank))
    order = np.flatnonzero(weak)
    order = order[np.argsort(-shown[order], kind="stable")][:TOP_N]
    percentile = algorithms.rankdata(pr) / max(n, 1)
    section["candidates"] = {
        "missing": None,
        "pages": int(weak.sum()),
        "rule": f"impressions > 0 and ({FEW_INLINKS} inlinks or fewer, or PageRank in the lowest quarter)",
        "inlinks_from": "Botify (whole crawl)" if botify_inlinks is not None else "the export",
        "columns": ["url", "impressions", "inlinks", "pagerank", "pagerank_percentile"],
        "rows": [
            [urls[i], int(shown[i]), int(links[i]), float(pr[i]), round(float(percentile[i]), 4)]
            for i in order
        ],
    }
    return section

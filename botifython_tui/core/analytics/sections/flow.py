"""Section 5, link flow: between pagetypes, hubs and authorities, the largest strongly connected part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.sections.shared import SHORT_N, share

if TYPE_CHECKING:
    import numpy as np


def flow_section(
    urls: list[str],
    source: np.ndarray,
    target: np.ndarray,
    outlinks: np.ndarray,
    pr: np.ndarray,
    codes: np.ndarray,
    pagetypes: list[str],
    hubs: np.ndarray,
    authorities: np.ndarray,
    largest: int,
    components: int,
) -> dict[str, Any]:
    import numpy as np

    k = len(pagetypes)
    n = len(urls)
    if len(source):
        pair = codes[source].astype(np.int64) * k + codes[target]
        links = np.bincount(pair, minlength=k * k).reshape(k, k)
        passed = algorithms.DAMPING * pr[source] / outlinks[source]
        flow = np.bincount(pair, weights=passed, minlength=k * k).reshape(k, k)
    else:
        links = np.zeros((k, k), dtype=np.int64)
        flow = np.zeros((k, k))
    total = float(flow.sum())

    def top(scores: np.ndarray) -> list[list[Any]]:
        order = np.argsort(-scores, kind="stable")[:SHORT_N]
        return [[urls[i], float(scores[i])] for i in order]

    return {
        "pagetypes": pagetypes,
        "links": links.astype(int).tolist(),
        "pagerank": (flow / total if total else flow).round(6).tolist(),
        "hubs": top(hubs) if n else [],
        "authorities": top(authorities) if n else [],
        "scc": {
            "largest": largest,
            "share": share(largest, n),
            "components": components,
        },
    }

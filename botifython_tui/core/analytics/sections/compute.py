"""All the sections for one export: `compute` builds the graph's matrix once and runs each section."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NO_PAGETYPE, LinkGraph, NodeTable
from botifython_tui.core.analytics.sections.depth import depth_section
from botifython_tui.core.analytics.sections.flow import flow_section
from botifython_tui.core.analytics.sections.graph import graph_section
from botifython_tui.core.analytics.sections.leaks import leaks_section
from botifython_tui.core.analytics.sections.pagerank import pagerank_section
from botifython_tui.core.analytics.sections.weak import weak_section

if TYPE_CHECKING:
    import numpy as np


VERSION = 1
MAX_PAGETYPES = 12
OTHER_PAGETYPES = "(other pagetypes)"
HITS_TOLERANCE = 1e-8


@dataclass
class Analysis:
    """The analytics dict (as `summary --json` prints it) and the per-node columns behind it."""

    analytics: dict[str, Any]
    urls: list[str]
    nodes: dict[str, Any] = field(default_factory=dict)  # name -> np.ndarray
    pagetypes: list[str] = field(default_factory=list)  # names for nodes["pagetype_code"]


def _pagetype_codes(meta: NodeTable | None, n: int) -> tuple[np.ndarray, list[str]]:
    """A small int per node and the names: the most common pagetypes, the rest grouped."""
    import numpy as np

    if meta is None or not meta.has("pagetype"):
        return np.zeros(n, dtype=np.int16), [NO_PAGETYPE]
    import pandas as pd

    raw_codes, raw_names = pd.factorize(pd.Series(meta.get("pagetype"), dtype=object))
    # Clean the few distinct names, not every cell; merge names equal once stripped.
    cleaned = [
        name.strip() if isinstance(name, str) and name.strip() else NO_PAGETYPE
        for name in raw_names
    ]
    names_list = sorted(set(cleaned) | ({NO_PAGETYPE} if (raw_codes < 0).any() else set()))
    lookup = {name: i for i, name in enumerate(names_list)}
    remap = np.array(
        [lookup[name] for name in cleaned] + [lookup.get(NO_PAGETYPE, 0)], dtype=np.int64
    )
    codes = remap[raw_codes]  # -1 (a missing cell) takes the last entry: no pagetype
    names = np.array(names_list, dtype=object)
    counts = np.bincount(codes, minlength=len(names))
    order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    if len(order) > MAX_PAGETYPES:
        kept = order[: MAX_PAGETYPES - 1]
        mapping = np.full(len(names), MAX_PAGETYPES - 1, dtype=np.int16)
        for new, old in enumerate(kept):
            mapping[old] = new
        return mapping[codes], [str(names[i]) for i in kept] + [OTHER_PAGETYPES]
    mapping = np.empty(len(names), dtype=np.int16)
    for new, old in enumerate(order):
        mapping[old] = new
    return mapping[codes], [str(names[i]) for i in order]


def compute(
    graph: LinkGraph,
    meta: NodeTable | None,
    *,
    depth: int | None = None,
    start_url: str | None = None,
) -> Analysis:
    """All the sections for one export; `depth` is the export's n (links from pages <= n)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    n = graph.n
    urls = graph.urls
    source, target = graph.source, graph.target
    adjacency = graph.csr()
    inlinks = algorithms.in_degrees(target, n)
    outlinks = algorithms.out_degrees(source, n)
    codes, pagetypes = _pagetype_codes(meta, n)
    notes: list[str] = []
    warnings: list[str] = []
    lap("matrix")

    result: dict[str, Any] = {"version": VERSION, "notes": notes, "warnings": warnings}
    result["graph"] = graph_section(graph, meta, depth, notes, warnings)

    rank = algorithms.pagerank(source, target, n)
    pr = rank.scores
    if not rank.converged:
        warnings.append(f"PageRank did not converge within {rank.iterations} iterations.")
    lap("pagerank")
    result["pagerank"] = pagerank_section(rank, urls, meta, codes, pagetypes)
    lap("pagerank_tables")

    click_depth, depth_part = depth_section(
        adjacency, urls, meta, codes, pagetypes, depth, start_url, notes
    )
    result["depth"] = depth_part
    lap("depth")

    result["weak"] = weak_section(urls, meta, inlinks, pr)
    lap("weak")
    result["leaks"] = leaks_section(urls, meta, source, target, outlinks, pr, codes, pagetypes)
    lap("leaks")

    hubs, authorities, hits_iterations = algorithms.hits(adjacency, tol=HITS_TOLERANCE)
    lap("hits")
    largest, components = algorithms.largest_scc(adjacency)
    lap("scc")
    result["flow"] = flow_section(
        urls, source, target, outlinks, pr, codes, pagetypes, hubs, authorities, largest, components
    )
    lap("flow")
    result["flow"]["hits_iterations"] = hits_iterations
    result["timings"] = timings

    nodes: dict[str, Any] = {
        "pagerank": pr,
        "inlinks": inlinks,
        "outlinks": outlinks,
        "click_depth": click_depth,
        "hub": hubs,
        "authority": authorities,
        "pagetype_code": codes,
    }
    return Analysis(analytics=result, urls=urls, nodes=nodes, pagetypes=pagetypes)

"""Every analytic of one export, as a JSON-ready dict plus per-node arrays.

`compute(graph, meta, depth=…)` is the one entry point. A section that needs a node attribute the
meta file lacks says so under its `missing` key; the other sections still run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NO_PAGETYPE, LinkGraph, NodeTable

if TYPE_CHECKING:
    import numpy as np

VERSION = 1
TOP_N = 20
SHORT_N = 10
MAX_PAGETYPES = 12
OTHER_PAGETYPES = "(other pagetypes)"
FEW_INLINKS = 2
HITS_TOLERANCE = 1e-8
PAGERANK_NOTE = (
    "This PageRank is computed on the exported graph, cut at the export's depth; Botify's "
    "internal PageRank is computed on the whole crawl. Where the two disagree, the cut matters."
)
BEYOND = "beyond the export"
UNREACHABLE = "unreachable"


@dataclass
class Analysis:
    """The analytics dict (as `summary --json` prints it) and the per-node columns behind it."""

    analytics: dict[str, Any]
    urls: list[str]
    nodes: dict[str, Any] = field(default_factory=dict)  # name -> np.ndarray
    pagetypes: list[str] = field(default_factory=list)  # names for nodes["pagetype_code"]


def _missing(meta: NodeTable | None, *names: str) -> list[str]:
    if meta is None:
        return list(names)
    return [name for name in names if not meta.has(name)]


def _missing_text(columns: list[str], meta: NodeTable | None) -> str:
    names = ", ".join(columns)
    if meta is None:
        return f"needs {names}: there is no node attributes file"
    return f"needs {names}, which the node attributes file lacks"


def _share(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else 0.0


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
    import numpy as np
    from scipy import sparse

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
    adjacency = sparse.csr_matrix(
        (np.ones(len(source), dtype=np.float64), (source, target)), shape=(n, n)
    )
    inlinks = algorithms.in_degrees(target, n)
    outlinks = algorithms.out_degrees(source, n)
    codes, pagetypes = _pagetype_codes(meta, n)
    notes: list[str] = []
    warnings: list[str] = []
    lap("matrix")

    result: dict[str, Any] = {"version": VERSION, "notes": notes, "warnings": warnings}
    result["graph"] = _graph_section(graph, meta, depth, notes, warnings)

    rank = algorithms.pagerank(source, target, n)
    pr = rank.scores
    if not rank.converged:
        warnings.append(f"PageRank did not converge within {rank.iterations} iterations.")
    lap("pagerank")
    result["pagerank"] = _pagerank_section(rank, urls, meta, codes, pagetypes)
    lap("pagerank_tables")

    click_depth, depth_section = _depth_section(
        adjacency, urls, meta, codes, pagetypes, depth, start_url, notes
    )
    result["depth"] = depth_section
    lap("depth")

    result["weak"] = _weak_section(urls, meta, inlinks, pr)
    lap("weak")
    result["leaks"] = _leaks_section(urls, meta, source, target, outlinks, pr, codes, pagetypes)
    lap("leaks")

    hubs, authorities, hits_iterations = algorithms.hits(adjacency, tol=HITS_TOLERANCE)
    lap("hits")
    largest, components = algorithms.largest_scc(adjacency)
    lap("scc")
    result["flow"] = _flow_section(
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


# --- graph --------------------------------------------------------------------------------------


def _graph_section(
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
    coverage = _share(meta.matched, graph.n)
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


# --- 1. PageRank --------------------------------------------------------------------------------


def _pagerank_section(
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
            row[f"{name}_share"] = _share(by[i], total) if total else None
        rows.append(row)
    missing_gsc = [name for name in ("clicks", "impressions") if name not in gsc]
    section["by_pagetype"] = {
        "rows": rows,
        "missing": _missing_text(_missing(meta, "pagetype"), meta)
        if _missing(meta, "pagetype")
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
        section["by_pagetype"]["search_console"] = _missing_text(missing_gsc, meta)
    section["botify"] = _botify_comparison(pr, urls, meta)
    return section


def _botify_comparison(pr: np.ndarray, urls: list[str], meta: NodeTable | None) -> dict[str, Any]:
    import numpy as np

    missing = _missing(meta, "pagerank_botify")
    if missing:
        return {"missing": _missing_text(missing, meta), "spearman": None, "pages": 0}
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


# --- 2. Click depth -----------------------------------------------------------------------------


def _start_nodes(
    urls: list[str],
    meta: NodeTable | None,
    inlinks_of: Any,
    outlinks_of: Any,
    start_url: str | None,
    notes: list[str],
) -> tuple[list[int], dict[str, Any]]:
    import numpy as np

    n = len(urls)
    if start_url:
        if start_url in urls:
            return [urls.index(start_url)], {"urls": [start_url], "how": "given"}
        notes.append(
            f"The start URL {start_url} is not in the export; the shallowest page was used."
        )
    botify_depth = meta.get("depth") if meta is not None else None
    if botify_depth is not None and not np.all(np.isnan(botify_depth)):
        shallowest = np.nanmin(botify_depth)
        starts = np.flatnonzero(botify_depth == shallowest)
        how = (
            "depth 0 in Botify"
            if shallowest == 0
            else f"shallowest in Botify (depth {int(shallowest)})"
        )
        if shallowest != 0:
            notes.append(
                f"No page of the export is at Botify depth 0 (the start URL): click depth counts "
                f"from the shallowest pages, at depth {int(shallowest)}."
            )
        return starts.tolist(), {"urls": [urls[i] for i in starts[:SHORT_N]], "how": how}
    if n == 0:
        return [], {"urls": [], "how": "none"}
    # Without Botify's depth: a page no other page links to, with the most outlinks.
    candidates = np.flatnonzero(inlinks_of == 0)
    pool = candidates if len(candidates) else np.arange(n)
    best = int(pool[np.argmax(outlinks_of[pool])])
    notes.append(
        f"No start URL is known (no depth column): click depth counts from {urls[best]}, "
        + (
            "the page without inlinks that has the most outlinks."
            if len(candidates)
            else "the page with the most outlinks."
        )
    )
    return [best], {"urls": [urls[best]], "how": "guessed: no inlinks, most outlinks"}


def _depth_buckets(
    click: np.ndarray, beyond: np.ndarray, depth: int | None
) -> tuple[list[str], np.ndarray]:
    """A label per node: `0` … `n`, `beyond the export`, `unreachable`; returns labels and codes."""
    import numpy as np

    reach = click[click >= 0]
    top = depth if depth is not None else (int(reach.max()) if len(reach) else 0)
    labels = [str(d) for d in range(top + 1)] + [BEYOND, UNREACHABLE]
    codes = np.where(click < 0, top + 2, np.minimum(click, top + 1)).astype(np.int64)
    codes[beyond & (click >= 0)] = top + 1
    return labels, codes


def _depth_section(
    adjacency: Any,
    urls: list[str],
    meta: NodeTable | None,
    codes: np.ndarray,
    pagetypes: list[str],
    depth: int | None,
    start_url: str | None,
    notes: list[str],
) -> tuple[np.ndarray, dict[str, Any]]:
    import numpy as np

    n = len(urls)
    inl = np.diff(adjacency.tocsc().indptr) if n else np.zeros(0, dtype=np.int64)
    outl = np.diff(adjacency.indptr) if n else np.zeros(0, dtype=np.int64)
    starts, start_info = _start_nodes(urls, meta, inl, outl, start_url, notes)
    click = algorithms.bfs_depth(adjacency.indptr, adjacency.indices, starts)
    botify_depth = meta.get("depth") if meta is not None else None
    if botify_depth is not None and depth is not None:
        beyond = np.nan_to_num(botify_depth, nan=-1) > depth
    elif depth is not None:
        beyond = click > depth
    else:
        beyond = np.zeros(n, dtype=bool)
    labels, bucket = _depth_buckets(click, beyond, depth)
    counts = np.bincount(bucket, minlength=len(labels)) if n else np.zeros(len(labels), int)
    histogram = [
        [label, int(c)] for label, c in zip(labels, counts, strict=True) if c or label.isdigit()
    ]
    section: dict[str, Any] = {
        "start": start_info,
        "click_histogram": histogram,
        "beyond_export": int(counts[-2]) if n else 0,
        "unreachable": int(counts[-1]) if n else 0,
        "note": "Click depth is counted along the exported links from the start page; pages at "
        "the export's depth + 1 are reached but their own links are not in the export, so they "
        f"form one '{BEYOND}' bucket.",
    }
    if botify_depth is not None:
        known = ~np.isnan(botify_depth)
        values = botify_depth[known].astype(np.int64)
        bins = np.bincount(values[values >= 0]) if len(values) else np.zeros(0, int)
        section["botify_histogram"] = [[str(d), int(c)] for d, c in enumerate(bins) if c]
        both = known & (click >= 0)
        section["differs_from_botify"] = int((botify_depth[both] != click[both]).sum())
        section["deeper_than_botify"] = int((click[both] > botify_depth[both]).sum())
    else:
        section["botify_histogram"] = None
        section["missing_botify"] = _missing_text(["depth"], meta)
    # Per pagetype: one row of bucket counts each.
    k = len(pagetypes)
    matrix = np.zeros((k, len(labels)), dtype=np.int64)
    if n:
        np.add.at(matrix, (codes, bucket), 1)
    section["by_pagetype"] = {
        "columns": labels,
        "rows": [[pagetypes[i], *map(int, matrix[i])] for i in range(k) if matrix[i].sum()],
    }
    compliant = meta.get("is_compliant") if meta is not None else None
    if compliant is None:
        section["compliant_deeper"] = {"missing": _missing_text(["is_compliant"], meta)}
    else:
        pool = (compliant == 1) & (click >= 0)
        total = int(pool.sum())
        section["compliant_deeper"] = {
            "missing": None,
            "compliant_pages": total,
            "deeper_than_3": _share(int((pool & (click > 3)).sum()), total),
            "deeper_than_4": _share(int((pool & (click > 4)).sum()), total),
            "unreachable": int(((compliant == 1) & (click < 0)).sum()),
        }
    return click, section


# --- 3. Weakly linked pages --------------------------------------------------------------------


def _weak_section(
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
        section["candidates"] = {"missing": _missing_text(["impressions"], meta), "rows": []}
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


# --- 4. Leaks -----------------------------------------------------------------------------------

LEAK_KINDS = ("3xx", "4xx", "5xx", "non-compliant", "canonicalised elsewhere")


def _leak_targets(
    urls: list[str], meta: NodeTable | None
) -> tuple[dict[str, np.ndarray], list[str]]:
    import numpy as np

    kinds: dict[str, np.ndarray] = {}
    missing: list[str] = []
    code = meta.get("http_code") if meta is not None else None
    if code is None:
        missing.append("http_code")
    else:
        code = np.nan_to_num(code, nan=0)
        kinds["3xx"] = (code >= 300) & (code < 400)
        kinds["4xx"] = (code >= 400) & (code < 500)
        kinds["5xx"] = code >= 500
    compliant = meta.get("is_compliant") if meta is not None else None
    if compliant is None:
        missing.append("is_compliant")
    else:
        kinds["non-compliant"] = compliant == 0
    canonical_self = meta.get("canonical_is_self") if meta is not None else None
    canonical_to = meta.get("canonical_to") if meta is not None else None
    if canonical_self is None and canonical_to is None:
        missing.append("canonical_is_self")
    else:
        elsewhere = np.zeros(len(urls), dtype=bool)
        if canonical_self is not None:
            elsewhere |= canonical_self == 0
        if canonical_to is not None:
            url_array = np.asarray(urls, dtype=object)
            to = np.asarray(canonical_to, dtype=object)
            elsewhere |= (to != "") & (to != url_array)
        kinds["canonicalised elsewhere"] = elsewhere
    return kinds, missing


def _leaks_section(
    urls: list[str],
    meta: NodeTable | None,
    source: np.ndarray,
    target: np.ndarray,
    outlinks: np.ndarray,
    pr: np.ndarray,
    codes: np.ndarray,
    pagetypes: list[str],
) -> dict[str, Any]:
    import numpy as np

    kinds, missing = _leak_targets(urls, meta)
    section: dict[str, Any] = {
        "missing": _missing_text(missing, meta) if missing else None,
        "kinds": [name for name in LEAK_KINDS if name in kinds],
    }
    if not kinds:
        return section
    n = len(urls)
    any_leak = np.zeros(n, dtype=bool)
    for mask in kinds.values():
        any_leak |= mask
    passed = np.zeros(len(source))
    if len(source):
        passed = algorithms.DAMPING * pr[source] / outlinks[source]
    total_passed = float(passed.sum())
    leaking = any_leak[target] if len(target) else np.zeros(0, dtype=bool)
    section["links"] = int(leaking.sum())
    section["links_share"] = _share(int(leaking.sum()), len(target))
    section["target_pages"] = int(any_leak.sum())
    section["pagerank_into_leaks"] = float(passed[leaking].sum())
    section["pagerank_into_leaks_share"] = _share(float(passed[leaking].sum()), total_passed)
    section["pagerank_held_by_leak_targets"] = float(pr[any_leak].sum())
    section["by_kind"] = [
        [
            name,
            int(mask[target].sum()),
            int(mask.sum()),
            float(passed[mask[target]].sum()) if len(target) else 0.0,
        ]
        for name, mask in kinds.items()
    ]
    k = len(pagetypes)
    source_type = codes[source] if len(source) else np.zeros(0, dtype=np.int64)
    totals = np.bincount(source_type, minlength=k)
    rows = []
    per_kind = {
        name: np.bincount(source_type, weights=mask[target], minlength=k)
        for name, mask in kinds.items()
    }
    leak_by_type = np.bincount(source_type, weights=leaking, minlength=k)
    pr_by_type = np.bincount(source_type, weights=passed * leaking, minlength=k)
    for i in np.argsort(-leak_by_type, kind="stable"):
        if totals[i] == 0:
            continue
        rows.append(
            [
                pagetypes[i],
                int(totals[i]),
                int(leak_by_type[i]),
                _share(leak_by_type[i], totals[i]),
                float(pr_by_type[i]),
                *[int(per_kind[name][i]) for name in kinds],
            ]
        )
    section["by_source_pagetype"] = {
        "columns": ["pagetype", "links", "leaking", "share", "pagerank_passed", *kinds],
        "rows": rows,
    }
    per_source = np.bincount(source[leaking], minlength=n) if len(source) else np.zeros(n)
    pr_per_source = (
        np.bincount(source[leaking], weights=passed[leaking], minlength=n)
        if len(source)
        else np.zeros(n)
    )
    order = np.flatnonzero(per_source)
    order = order[np.lexsort((-pr_per_source[order], -per_source[order]))][:TOP_N]
    section["top_sources"] = {
        "columns": ["url", "pagetype", "leaking_links", "outlinks", "pagerank_passed"],
        "rows": [
            [
                urls[i],
                pagetypes[codes[i]],
                int(per_source[i]),
                int(outlinks[i]),
                float(pr_per_source[i]),
            ]
            for i in order
        ],
    }
    return section


# --- 5. Link flow -------------------------------------------------------------------------------


def _flow_section(
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
            "share": _share(largest, n),
            "components": components,
        },
    }

"""Section 2, click depth: from the start pages, in buckets, against Botify's depth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NodeTable
from botifython_tui.core.analytics.sections.shared import SHORT_N, missing_text, share

if TYPE_CHECKING:
    import numpy as np


BEYOND = "beyond the export"
UNREACHABLE = "unreachable"


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


def depth_section(
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
        section["missing_botify"] = missing_text(["depth"], meta)
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
        section["compliant_deeper"] = {"missing": missing_text(["is_compliant"], meta)}
    else:
        pool = (compliant == 1) & (click >= 0)
        total = int(pool.sum())
        section["compliant_deeper"] = {
            "missing": None,
            "compliant_pages": total,
            "deeper_than_3": share(int((pool & (click > 3)).sum()), total),
            "deeper_than_4": share(int((pool & (click > 4)).sum()), total),
            "unreachable": int(((compliant == 1) & (click < 0)).sum()),
        }
    return click, section

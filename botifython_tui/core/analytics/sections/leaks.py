"""Section 4, leaks: links into redirects, errors, non-compliant and canonicalised pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.loading import NodeTable
from botifython_tui.core.analytics.sections.shared import TOP_N, missing_text, share

if TYPE_CHECKING:
    import numpy as np


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


def leaks_section(
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
        "missing": missing_text(missing, meta) if missing else None,
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
    section["links_share"] = share(int(leaking.sum()), len(target))
    section["target_pages"] = int(any_leak.sum())
    section["pagerank_into_leaks"] = float(passed[leaking].sum())
    section["pagerank_into_leaks_share"] = share(float(passed[leaking].sum()), total_passed)
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
                share(leak_by_type[i], totals[i]),
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

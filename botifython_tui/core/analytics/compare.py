"""Two exports of one project side by side: pages gained and lost, PageRank and depth movers,
pagetypes whose share changed most."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.analytics.files import ExportAnalysis
from botifython_tui.core.analytics.report import ReportTable, _num, _pct, _score, _text

SAMPLE = 20


def _label(analysis: ExportAnalysis) -> str:
    return analysis.files.links.name


def compare(a: ExportAnalysis, b: ExportAnalysis) -> dict[str, Any]:
    """What changed from export A (before) to export B (after)."""
    import numpy as np
    import pandas as pd

    notes: list[str] = []
    index_a = pd.Index(a.urls)
    in_a = index_a.get_indexer(b.urls)  # for each page of B, its id in A or -1
    common_b = np.flatnonzero(in_a >= 0)
    common_a = in_a[common_b]
    gained = np.flatnonzero(in_a < 0)
    in_b = pd.Index(b.urls).get_indexer(a.urls)
    lost = np.flatnonzero(in_b < 0)
    if a.files.depth != b.files.depth:
        notes.append(
            f"The exports are cut at different depths ({a.files.depth} and {b.files.depth}): "
            "pages gained or lost include the pages of the extra depth."
        )
    if len(common_b) == 0 and a.urls and b.urls:
        notes.append("The two exports share no page: are they of the same project?")

    pr_a, pr_b = a.nodes["pagerank"], b.nodes["pagerank"]
    delta = pr_b[common_b] - pr_a[common_a]
    movers_up = np.argsort(-delta, kind="stable")[:SAMPLE]
    movers_down = np.argsort(delta, kind="stable")[:SAMPLE]

    def pr_rows(order: np.ndarray, sign: int) -> list[list[Any]]:
        return [
            [
                b.urls[common_b[i]],
                float(pr_a[common_a[i]]),
                float(pr_b[common_b[i]]),
                float(delta[i]),
            ]
            for i in order
            if sign * delta[i] > 0
        ]

    depth_a = a.nodes["click_depth"][common_a].astype(np.int64)
    depth_b = b.nodes["click_depth"][common_b].astype(np.int64)
    known = (depth_a >= 0) & (depth_b >= 0)
    depth_delta = np.where(known, depth_b - depth_a, 0)
    deeper = np.argsort(-depth_delta, kind="stable")[:SAMPLE]
    shallower = np.argsort(depth_delta, kind="stable")[:SAMPLE]

    def depth_rows(order: np.ndarray, sign: int) -> list[list[Any]]:
        return [
            [b.urls[common_b[i]], int(depth_a[i]), int(depth_b[i]), int(depth_delta[i])]
            for i in order
            if sign * depth_delta[i] > 0
        ]

    return {
        "a": _summary(a),
        "b": _summary(b),
        "notes": notes,
        "pages": {
            "common": int(len(common_b)),
            "gained": int(len(gained)),
            "lost": int(len(lost)),
            "gained_sample": [b.urls[i] for i in gained[:SAMPLE]],
            "lost_sample": [a.urls[i] for i in lost[:SAMPLE]],
        },
        "pagerank_movers": {
            "columns": ["url", "pagerank_a", "pagerank_b", "change"],
            "up": pr_rows(movers_up, 1),
            "down": pr_rows(movers_down, -1),
        },
        "depth_movers": {
            "columns": ["url", "click_depth_a", "click_depth_b", "change"],
            "deeper": depth_rows(deeper, 1),
            "shallower": depth_rows(shallower, -1),
            "pages_deeper": int((depth_delta > 0).sum()),
            "pages_shallower": int((depth_delta < 0).sum()),
        },
        "pagetypes": _pagetype_shares(a, b),
    }


def _summary(analysis: ExportAnalysis) -> dict[str, Any]:
    graph = analysis.analytics.get("graph") or {}
    return {
        "links_path": str(analysis.files.links),
        "depth": analysis.files.depth,
        "pages": graph.get("nodes"),
        "edges": graph.get("edges"),
    }


def _pagetype_shares(a: ExportAnalysis, b: ExportAnalysis) -> dict[str, Any]:
    def shares(analysis: ExportAnalysis) -> dict[str, tuple[float, float]]:
        rows = (analysis.analytics.get("pagerank") or {}).get("by_pagetype", {}).get("rows") or []
        total = sum(int(r.get("pages") or 0) for r in rows) or 1
        return {
            str(r["pagetype"]): (int(r.get("pages") or 0) / total, float(r["pagerank_share"]))
            for r in rows
        }

    before, after = shares(a), shares(b)
    rows = []
    for name in sorted(set(before) | set(after)):
        pages_a, pr_a = before.get(name, (0.0, 0.0))
        pages_b, pr_b = after.get(name, (0.0, 0.0))
        rows.append([name, pages_a, pages_b, pr_a, pr_b, pr_b - pr_a])
    rows.sort(key=lambda r: -abs(r[5]))
    return {
        "columns": [
            "pagetype",
            "pages_share_a",
            "pages_share_b",
            "pagerank_share_a",
            "pagerank_share_b",
            "pagerank_change",
        ],
        "rows": rows,
    }


def comparison_tables(result: dict[str, Any]) -> list[ReportTable]:
    """The comparison as titled tables (terminal, clipboard, TUI)."""
    section = "Compare"
    pages = result.get("pages") or {}
    a, b = result.get("a") or {}, result.get("b") or {}
    overview = ReportTable(
        "compare.pages",
        section,
        "Pages gained and lost (A → B)",
        ["what", "A", "B"],
        numeric=[False, True, True],
        note=_text(" ".join(result.get("notes") or [])),
    )
    overview.rows = [
        [
            "export",
            _text(a.get("links_path", "")).rsplit("/", 1)[-1],
            _text(b.get("links_path", "")).rsplit("/", 1)[-1],
        ],
        ["depth", _num(a.get("depth")), _num(b.get("depth"))],
        ["pages", _num(a.get("pages")), _num(b.get("pages"))],
        ["links", _num(a.get("edges")), _num(b.get("edges"))],
        ["pages in both", _num(pages.get("common")), _num(pages.get("common"))],
        ["pages lost / gained", _num(pages.get("lost")), _num(pages.get("gained"))],
    ]
    tables = [overview]
    for key, title in (
        ("lost_sample", "Pages lost (first 20)"),
        ("gained_sample", "Pages gained (first 20)"),
    ):
        table = ReportTable(f"compare.{key}", section, title, ["URL"])
        table.rows = [[_text(u)] for u in pages.get(key) or []]
        tables.append(table)
    movers = result.get("pagerank_movers") or {}
    for key, title in (("up", "Biggest PageRank gains"), ("down", "Biggest PageRank losses")):
        table = ReportTable(
            f"compare.pagerank_{key}",
            section,
            title,
            ["URL", "PageRank A", "PageRank B", "change"],
            numeric=[False, True, True, True],
        )
        table.rows = [
            [_text(r[0]), _score(r[1]), _score(r[2]), _score(r[3])] for r in movers.get(key) or []
        ]
        tables.append(table)
    depth = result.get("depth_movers") or {}
    for key, title in (("deeper", "Pages now deeper"), ("shallower", "Pages now shallower")):
        table = ReportTable(
            f"compare.depth_{key}",
            section,
            title,
            ["URL", "depth A", "depth B", "change"],
            numeric=[False, True, True, True],
            note=f"{_num(depth.get('pages_' + key))} pages {key} in clicks from the start page.",
        )
        table.rows = [
            [_text(r[0]), _num(r[1]), _num(r[2]), f"{int(r[3]):+d}"] for r in depth.get(key) or []
        ]
        tables.append(table)
    shares = result.get("pagetypes") or {}
    table = ReportTable(
        "compare.pagetypes",
        section,
        "Pagetypes whose share changed most",
        ["pagetype", "pages A", "pages B", "PageRank A", "PageRank B", "change"],
        numeric=[False, True, True, True, True, True],
    )
    for r in shares.get("rows") or []:
        table.rows.append(
            [_text(r[0]), _pct(r[1]), _pct(r[2]), _pct(r[3]), _pct(r[4]), f"{r[5] * 100:+.1f} pt"]
        )
        table.chart.append((_text(r[0]), abs(float(r[5]))))
    tables.append(table)
    return tables

"""The analytics as titled tables: one source for the Markdown report, the CLI and the TUI.

`tables(analytics)` turns the dict into `ReportTable`s (strings only); `markdown(...)` and
`plain_text(...)` render them. Outside text (URLs, pagetypes) is neutralised here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botifython_tui.core.text import single_line


@dataclass
class ReportTable:
    """A titled table of strings; `numeric` marks right-aligned columns."""

    key: str
    section: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)
    note: str = ""
    chart: list[tuple[str, float]] = field(default_factory=list)  # label, value: a bar chart

    def __post_init__(self) -> None:
        if not self.numeric:
            self.numeric = [False] * len(self.columns)


def _pct(value: Any) -> str:
    if value is None:
        return "–"
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "–"


def _num(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "–"


def _score(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.3g}" if abs(number) >= 1 else f"{number:.2e}"


def _text(value: Any) -> str:
    return single_line(str(value))


def _get(data: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return default
        data = data.get(key)
    return default if data is None else data


def tables(analytics: dict[str, Any]) -> list[ReportTable]:
    """Every table of the analytics, in report order."""
    out: list[ReportTable] = []
    graph = analytics.get("graph") or {}
    overview = ReportTable(
        "overview", "Overview", "The export", ["what", "value"], numeric=[False, True]
    )
    overview.rows = [
        ["pages", _num(graph.get("nodes"))],
        ["links (distinct)", _num(graph.get("edges"))],
        ["rows in the links file", _num(graph.get("rows"))],
        ["self-links left out", _num(graph.get("self_loops"))],
        ["duplicate links counted once", _num(graph.get("duplicate_edges"))],
    ]
    if graph.get("export_depth") is not None:
        overview.rows.append(["export depth", _num(graph.get("export_depth"))])
    meta = graph.get("meta")
    if meta:
        overview.rows.append(["pages with node attributes", _pct(meta.get("coverage"))])
        if meta.get("missing_columns"):
            overview.rows.append(
                ["node columns missing", _text(", ".join(meta["missing_columns"]))]
            )
    else:
        overview.rows.append(["node attributes", "no file"])
    out.append(overview)

    out.extend(_pagerank_tables(analytics.get("pagerank") or {}))
    out.extend(_depth_tables(analytics.get("depth") or {}))
    out.extend(_weak_tables(analytics.get("weak") or {}))
    out.extend(_leak_tables(analytics.get("leaks") or {}))
    out.extend(_flow_tables(analytics.get("flow") or {}))
    return out


def _pagerank_tables(pr: dict[str, Any]) -> list[ReportTable]:
    out = []
    top = ReportTable(
        "pagerank.top",
        "1. Internal PageRank",
        "Top 20 pages by internal PageRank",
        ["#", "PageRank", "URL"],
        numeric=[True, True, False],
        note=_text(pr.get("note", "")),
    )
    top.rows = [[str(i), _score(s), _text(u)] for i, (u, s) in enumerate(pr.get("top") or [], 1)]
    out.append(top)
    conc = ReportTable(
        "pagerank.concentration",
        "1. Internal PageRank",
        "Concentration",
        ["what", "value"],
        numeric=[False, True],
    )
    conc.rows = [
        [
            f"share held by the top 1% ({_num(pr.get('top_1pct_pages'))} pages)",
            _pct(pr.get("top_1pct_share")),
        ],
        ["iterations", _num(pr.get("iterations"))],
    ]
    out.append(conc)
    by = _get(pr, "by_pagetype", default={})
    table = ReportTable(
        "pagerank.by_pagetype",
        "1. Internal PageRank",
        "Share of PageRank by pagetype, next to Search Console",
        ["pagetype", "pages", "PageRank", "clicks", "impressions"],
        numeric=[False, True, True, True, True],
        note=_text(
            "; ".join(x for x in (by.get("missing"), by.get("search_console")) if x and x != "ok")
        ),
    )
    for row in by.get("rows") or []:
        table.rows.append(
            [
                _text(row.get("pagetype")),
                _num(row.get("pages")),
                _pct(row.get("pagerank_share")),
                _pct(row.get("clicks_share")),
                _pct(row.get("impressions_share")),
            ]
        )
        table.chart.append((_text(row.get("pagetype")), float(row.get("pagerank_share") or 0)))
    out.append(table)
    botify = pr.get("botify") or {}
    rho = botify.get("spearman")
    note = (
        botify["missing"]
        if botify.get("missing")
        else f"Spearman rank correlation with Botify's PageRank: {rho:.3f} over "
        f"{_num(botify.get('pages'))} pages."
        if rho is not None
        else "The rank correlation is undefined (one side is constant)."
    )
    for key, title in (
        ("higher_here", "Ranked higher here than in Botify (the export's cut favours them)"),
        ("higher_in_botify", "Ranked higher in Botify than here (the cut starves them)"),
    ):
        table = ReportTable(
            f"pagerank.{key}",
            "1. Internal PageRank",
            title,
            ["URL", "PageRank", "position", "Botify PR", "Botify position"],
            numeric=[False, True, True, True, True],
            note=_text(note),
        )
        table.rows = [
            [_text(r[0]), _score(r[1]), _num(r[2]), _score(r[3]), _num(r[4])]
            for r in botify.get(key) or []
        ]
        out.append(table)
    return out


def _depth_tables(depth: dict[str, Any]) -> list[ReportTable]:
    out = []
    start = depth.get("start") or {}
    histogram = ReportTable(
        "depth.histogram",
        "2. Click depth",
        "Pages by click depth (from the start page) and by Botify's depth",
        ["depth", "click depth", "Botify depth"],
        numeric=[False, True, True],
        note=_text(
            f"Start: {', '.join(start.get('urls') or []) or 'none'} ({start.get('how', '')}). "
            + depth.get("note", "")
        ),
    )
    botify = {label: count for label, count in depth.get("botify_histogram") or []}
    for label, count in depth.get("click_histogram") or []:
        histogram.rows.append(
            [_text(label), _num(count), _num(botify.pop(label)) if label in botify else "–"]
        )
        histogram.chart.append((_text(label), float(count)))
    for label, count in botify.items():
        histogram.rows.append([_text(label), "–", _num(count)])
    out.append(histogram)
    by = depth.get("by_pagetype") or {}
    columns = list(by.get("columns") or [])
    per = ReportTable(
        "depth.by_pagetype",
        "2. Click depth",
        "Click depth per pagetype",
        ["pagetype", *columns],
        numeric=[False] + [True] * len(columns),
    )
    per.rows = [[_text(r[0]), *[_num(v) for v in r[1:]]] for r in by.get("rows") or []]
    out.append(per)
    deeper = depth.get("compliant_deeper") or {}
    table = ReportTable(
        "depth.compliant",
        "2. Click depth",
        "Compliant pages buried deep",
        ["what", "value"],
        numeric=[False, True],
        note=_text(deeper.get("missing") or ""),
    )
    if not deeper.get("missing"):
        table.rows = [
            ["compliant pages reached", _num(deeper.get("compliant_pages"))],
            ["deeper than 3 clicks", _pct(deeper.get("deeper_than_3"))],
            ["deeper than 4 clicks", _pct(deeper.get("deeper_than_4"))],
            ["compliant but unreachable", _num(deeper.get("unreachable"))],
        ]
    if depth.get("differs_from_botify") is not None:
        table.rows.append(["click depth ≠ Botify depth", _num(depth.get("differs_from_botify"))])
    out.append(table)
    return out


def _weak_tables(weak: dict[str, Any]) -> list[ReportTable]:
    out = []
    histogram = ReportTable(
        "weak.inlinks",
        "3. Weakly linked pages",
        "Pages by inlink count",
        ["inlinks", "pages"],
        numeric=[False, True],
        note=_text(
            f"{_num(weak.get('no_inlinks'))} pages without inlinks, "
            f"{_num(weak.get('one_or_two_inlinks'))} with 1–2"
            + (
                f" ({_num(weak.get('one_or_two_inlinks_compliant'))} of them compliant)"
                if weak.get("one_or_two_inlinks_compliant") is not None
                else ""
            )
            + ". "
            + weak.get("note", "")
        ),
    )
    for label, count in weak.get("inlink_histogram") or []:
        histogram.rows.append([_text(label), _num(count)])
        histogram.chart.append((_text(label), float(count)))
    out.append(histogram)
    candidates = weak.get("candidates") or {}
    table = ReportTable(
        "weak.candidates",
        "3. Weakly linked pages",
        "Pages with impressions but few inlinks or low PageRank: link to these first",
        ["URL", "impressions", "inlinks", "PageRank", "percentile"],
        numeric=[False, True, True, True, True],
        note=_text(
            candidates.get("missing")
            or f"{_num(candidates.get('pages'))} pages match: {candidates.get('rule', '')}; "
            f"inlinks from {candidates.get('inlinks_from', '')}."
        ),
    )
    table.rows = [
        [_text(r[0]), _num(r[1]), _num(r[2]), _score(r[3]), _pct(r[4])]
        for r in candidates.get("rows") or []
    ]
    out.append(table)
    return out


def _leak_tables(leaks: dict[str, Any]) -> list[ReportTable]:
    out = []
    kinds = ReportTable(
        "leaks.kinds",
        "4. Leaks",
        "Links into redirects, errors, non-compliant and canonicalised pages",
        ["target", "links", "target pages", "PageRank passed"],
        numeric=[False, True, True, True],
        note=_text(
            "; ".join(
                x
                for x in (
                    leaks.get("missing"),
                    f"{_num(leaks.get('links'))} links ({_pct(leaks.get('links_share'))}) lead "
                    f"to such pages, passing {_pct(leaks.get('pagerank_into_leaks_share'))} of "
                    "the PageRank passed along links"
                    if "links" in leaks
                    else "",
                )
                if x
            )
        ),
    )
    for name, links, pages, passed in leaks.get("by_kind") or []:
        kinds.rows.append([_text(name), _num(links), _num(pages), _score(passed)])
        kinds.chart.append((_text(name), float(links)))
    out.append(kinds)
    by = leaks.get("by_source_pagetype") or {}
    columns = list(by.get("columns") or [])
    if columns:
        table = ReportTable(
            "leaks.by_source_pagetype",
            "4. Leaks",
            "Leaking links by source pagetype",
            [c.replace("_", " ") for c in columns],
            numeric=[False] + [True] * (len(columns) - 1),
        )
        for r in by.get("rows") or []:
            table.rows.append(
                [_text(r[0]), _num(r[1]), _num(r[2]), _pct(r[3]), _score(r[4])]
                + [_num(v) for v in r[5:]]
            )
        out.append(table)
    top = leaks.get("top_sources") or {}
    table = ReportTable(
        "leaks.top_sources",
        "4. Leaks",
        "Top 20 pages to fix (most leaking links)",
        ["URL", "pagetype", "leaking", "outlinks", "PageRank passed"],
        numeric=[False, False, True, True, True],
    )
    table.rows = [
        [_text(r[0]), _text(r[1]), _num(r[2]), _num(r[3]), _score(r[4])]
        for r in top.get("rows") or []
    ]
    out.append(table)
    return out


def _flow_tables(flow: dict[str, Any]) -> list[ReportTable]:
    out = []
    names = [_text(p) for p in flow.get("pagetypes") or []]
    for key, title, fmt in (
        ("links", "Links from pagetype (rows) to pagetype (columns)", _num),
        (
            "pagerank",
            "Share of the PageRank passed, from pagetype (rows) to pagetype (columns)",
            _pct,
        ),
    ):
        table = ReportTable(
            f"flow.{key}",
            "5. Link flow between templates",
            title,
            ["from \\ to", *names],
            numeric=[False] + [True] * len(names),
        )
        for name, row in zip(names, flow.get(key) or [], strict=False):
            table.rows.append([name, *[fmt(v) for v in row]])
        out.append(table)
    for key, title in (
        ("hubs", "Hubs (HITS): top 10"),
        ("authorities", "Authorities (HITS): top 10"),
    ):
        table = ReportTable(
            f"flow.{key}",
            "5. Link flow between templates",
            title,
            ["#", "score", "URL"],
            numeric=[True, True, False],
        )
        table.rows = [
            [str(i), _score(s), _text(u)] for i, (u, s) in enumerate(flow.get(key) or [], 1)
        ]
        out.append(table)
    scc = flow.get("scc") or {}
    table = ReportTable(
        "flow.scc",
        "5. Link flow between templates",
        "Strongly connected",
        ["what", "value"],
        numeric=[False, True],
    )
    table.rows = [
        ["pages in the largest strongly connected component", _num(scc.get("largest"))],
        ["share of all pages", _pct(scc.get("share"))],
        ["components", _num(scc.get("components"))],
    ]
    out.append(table)
    return out


# --- rendering ----------------------------------------------------------------------------------


def _md_cell(text: str, url: bool) -> str:
    text = text.replace("|", "\\|")
    if url and text:
        return "`" + text.replace("`", "%60") + "`"
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")


def markdown_table(table: ReportTable) -> str:
    """One table as GitHub-flavoured Markdown (URLs as code spans, pipes escaped)."""
    lines = [f"### {_md_cell(table.title, False)}", ""]
    if table.note:
        lines += [_md_cell(table.note, False), ""]
    if not table.rows:
        lines.append("_No rows._")
        return "\n".join(lines)
    is_url = [column in ("URL", "url") for column in table.columns]
    lines.append("| " + " | ".join(_md_cell(c, False) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in table.numeric) + "|")
    for row in table.rows:
        cells = [
            _md_cell(cell, is_url[i] if i < len(is_url) else False) for i, cell in enumerate(row)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(analytics: dict[str, Any], *, title: str) -> str:
    """The whole report: notes and warnings first, then every table under its section."""
    lines = [f"# {_md_cell(single_line(title), False)}", ""]
    for warning in analytics.get("warnings") or []:
        lines.append(f"- **Warning:** {_md_cell(single_line(warning), False)}")
    for note in analytics.get("notes") or []:
        lines.append(f"- {_md_cell(single_line(note), False)}")
    lines.append("")
    section = None
    for table in tables(analytics):
        if table.section != section:
            section = table.section
            lines += [f"## {section}", ""]
        lines += [markdown_table(table), ""]
    return "\n".join(lines)


def plain_text(table: ReportTable, *, max_width: int = 0) -> str:
    """A table as aligned plain text (for the terminal and the clipboard)."""
    lines = [table.title]
    if table.note:
        lines.append(table.note)
    if not table.rows:
        lines.append("(no rows)")
        return "\n".join(lines)
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    if max_width:
        # Shrink the widest text column (URLs) first so a row fits.
        total = sum(widths) + 2 * (len(widths) - 1)
        if total > max_width:
            text_columns = [i for i, numeric in enumerate(table.numeric) if not numeric]
            if text_columns:
                widest = max(text_columns, key=lambda i: widths[i])
                widths[widest] = max(12, widths[widest] - (total - max_width))

    def fit(cell: str, i: int) -> str:
        if len(cell) > widths[i]:
            cell = cell[: widths[i] - 1] + "…"
        return cell.rjust(widths[i]) if table.numeric[i] else cell.ljust(widths[i])

    lines.append("  ".join(fit(c, i) for i, c in enumerate(table.columns)).rstrip())
    for row in table.rows:
        lines.append("  ".join(fit(c, i) for i, c in enumerate(row[: len(widths)])).rstrip())
    return "\n".join(lines)

"""Write the two export files (links and node attributes) of a SyntheticGraph straight to disk.

The analytics read files, not Botify: tests and the analytics benchmark need the files an export
would leave, at any size, without running an export. Names and columns follow the export's
contract: `{base}_linkgraph_depth-{n}.csv` (`source,target`) and `{base}_depth-{n}_meta.csv`
(`id,depth,pagetype,http_code,is_compliant,canonical_is_self,canonical_to,in_sitemap,inlinks,
outlinks,pagerank_botify,pagerank_botify_position[,impressions,clicks]`) with rows to depth n + 1.
"""

from __future__ import annotations

import math
from pathlib import Path

from tests.fakes.botify_server import SyntheticGraph

META_COLUMNS = [
    "id",
    "depth",
    "pagetype",
    "http_code",
    "is_compliant",
    "canonical_is_self",
    "canonical_to",
    "in_sitemap",
    "inlinks",
    "outlinks",
    "pagerank_botify",
    "pagerank_botify_position",
]


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_export(
    graph: SyntheticGraph,
    folder: Path,
    depth: int,
    *,
    base: str = "acme-org_example.com_20241108",
    search_console: bool = True,
) -> tuple[Path, Path]:
    """Write the links (sources to `depth`) and the node rows (to `depth + 1`); return both paths."""
    graph.build()
    folder.mkdir(parents=True, exist_ok=True)
    links = folder / f"{base}_linkgraph_depth-{depth}.csv"
    meta = folder / f"{base}_depth-{depth}_meta.csv"
    urls = graph.urls()
    offsets, targets = graph._offsets, graph._targets  # noqa: SLF001 - the fake's own storage
    end = graph.url_count(depth)
    with links.open("w", encoding="utf-8", newline="") as out:
        out.write("source,target\n")
        for i in range(end):
            source = _csv_field(urls[i])
            block = [
                f"{source},{_csv_field(urls[t])}\n" for t in targets[offsets[i] : offsets[i + 1]]
            ]
            out.write("".join(block))

    # Botify's PageRank (0-10) is of the whole crawl: a function of the whole graph's inlinks.
    inlinks = graph._ensure_inlinks()  # noqa: SLF001
    peak = math.log1p(max(inlinks) if len(inlinks) else 1)
    rows_end = graph.url_count(depth + 1)
    scores = [
        round(10 * math.log1p(inlinks[i]) / peak * (0.9 + 0.1 * graph._u(i, 9)), 4)  # noqa: SLF001
        for i in range(rows_end)
    ]
    order = sorted(range(rows_end), key=lambda i: -scores[i])
    position = [0] * rows_end
    for rank, i in enumerate(order, start=1):
        position[i] = rank
    columns = META_COLUMNS + (["impressions", "clicks"] if search_console else [])
    with meta.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(columns) + "\n")
        lines = []
        for i in range(rows_end):
            canonical_self = graph.canonical_equal(i)
            row = [
                _csv_field(urls[i]),
                str(graph.depth(i)),
                graph.pagetype(i),
                str(graph.http_code(i)),
                str(graph.is_compliant(i)),
                str(canonical_self),
                "" if canonical_self else _csv_field(urls[0]),
                str(graph.in_sitemap(i)),
                str(inlinks[i]),
                str(graph.out_degree_of(i)),
                str(scores[i]),
                str(position[i]),
            ]
            if search_console:
                row += [str(graph.gsc_impressions(i)), str(graph.gsc_clicks(i))]
            lines.append(",".join(row) + "\n")
            if len(lines) >= 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return links, meta

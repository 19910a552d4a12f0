"""Link-graph statistics computed while the export streams in, never by loading the file."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TOP_N = 10
SAMPLE_N = 10


def degree_buckets(degrees: Counter[Any], nodes: int) -> list[tuple[str, int]]:
    """How many URLs have 0, 1, 2–3, 4–7, … links: a log-scale histogram for a bar chart."""
    counts: Counter[int] = Counter()
    for degree in degrees.values():
        counts[degree.bit_length()] += 1  # 1 -> 1, 2-3 -> 2, 4-7 -> 3, …
    zero = nodes - sum(counts.values())
    buckets: list[tuple[str, int]] = [("0", zero)] if zero > 0 else []
    for bits in sorted(counts):
        low, high = 1 << (bits - 1), (1 << bits) - 1
        buckets.append((str(low) if low == high else f"{low}–{high}", counts[bits]))
    return buckets


@dataclass
class LinkGraphStats:
    """Accumulates degrees from edge rows and depths from node rows, chunk by chunk."""

    out_degree: Counter[bytes] = field(default_factory=Counter)
    in_degree: Counter[bytes] = field(default_factory=Counter)
    depths: dict[bytes, int] = field(default_factory=dict)
    edges: int = 0
    skipped_rows: int = 0

    def add_edge_block(self, block: bytes) -> bool:
        """Count a whole block of plain `source,target` lines at once, if it is that simple.

        True when counted (the block is written as it is); False sends it down the per-line path
        (quotes, empty fields, odd lines). One split over the block is ~2× faster than lines.
        """
        if b'"' in block:
            return False
        lines = block.count(b"\n") + 1
        if block.count(b",") != lines:
            return False
        fields = block.replace(b"\n", b",").split(b",")
        sources, targets = fields[0::2], fields[1::2]
        if b"" in sources or b"" in targets:
            return False
        self.out_degree.update(sources)
        self.in_degree.update(targets)
        self.edges += lines
        return True

    def add_edge_lines(self, lines: list[bytes]) -> list[bytes]:
        """Count the edges in raw CSV lines (`source,target`); returns the lines to keep."""
        if any(b'"' in line for line in lines):
            return self._add_quoted_edge_lines(lines)
        pairs = [line.partition(b",") for line in lines]
        keep = [
            line
            for line, (source, _, target) in zip(lines, pairs, strict=True)
            if source and target
        ]
        if len(keep) != len(lines):
            self.skipped_rows += len(lines) - len(keep)
            pairs = [pair for pair in pairs if pair[0] and pair[2]]
        self.out_degree.update([pair[0] for pair in pairs])
        self.in_degree.update([pair[2] for pair in pairs])
        self.edges += len(pairs)
        return keep

    def _add_quoted_edge_lines(self, lines: list[bytes]) -> list[bytes]:
        keep = []
        text = io.StringIO(b"\n".join(lines).decode("utf-8", errors="replace"))
        for row in csv.reader(text):
            if len(row) < 2 or not row[0] or not row[1]:
                self.skipped_rows += 1
                continue
            source, target = row[0].encode(), row[1].encode()
            self.out_degree[source] += 1
            self.in_degree[target] += 1
            self.edges += 1
            keep.append(_csv_line(row[:2]))
        return keep

    def add_node_rows(self, rows: list[list[str]], depth_column: int | None) -> None:
        """Node attribute rows (first column the URL) give the depth of each URL."""
        for row in rows:
            if not row or not row[0]:
                continue
            depth = -1
            if depth_column is not None and depth_column < len(row):
                try:
                    depth = int(float(row[depth_column]))
                except ValueError:
                    depth = -1
            self.depths[row[0].encode()] = depth

    def summary(self) -> dict[str, Any]:
        nodes = set(self.out_degree) | set(self.in_degree) | set(self.depths)
        without_inlinks = sorted(url for url in nodes if self.in_degree.get(url, 0) == 0)
        depth_histogram = Counter(self.depths.values())
        return {
            "urls": len(nodes),
            "edges": self.edges,
            "skipped_rows": self.skipped_rows,
            "depth_histogram": [
                [depth, depth_histogram[depth]] for depth in sorted(depth_histogram) if depth >= 0
            ],
            "unknown_depth": depth_histogram.get(-1, 0),
            "out_degree": degree_buckets(self.out_degree, len(nodes)),
            "in_degree": degree_buckets(self.in_degree, len(nodes)),
            "top_hubs": [
                [url.decode(errors="replace"), n] for url, n in self.out_degree.most_common(TOP_N)
            ],
            "top_linked": [
                [url.decode(errors="replace"), n] for url, n in self.in_degree.most_common(TOP_N)
            ],
            "without_inlinks": len(without_inlinks),
            "without_inlinks_sample": [
                u.decode(errors="replace") for u in without_inlinks[:SAMPLE_N]
            ],
        }


def _csv_line(values: list[str]) -> bytes:
    # The writer quotes a field only for the characters of its line terminator: with "" a
    # field holding a newline would be written bare and split the record in two.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2].encode()

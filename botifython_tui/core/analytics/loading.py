"""Read the two export files into arrays: int32 node ids, one CSR matrix, per-node attributes.

Plain files (one comma a line, no quotes) are parsed without a Python object per field: each field
is hashed with numpy over the raw bytes and the hashes are factorised, so 1,000,000 edges load in
well under a second. Anything else (quotes, CR LF, odd lines) goes through the csv module.
numpy is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Bytes per chunk of the hashing pass: bounds its temporaries to ~100 MB at any file size.
_CHUNK_BYTES = 1 << 20
_HASH_BASE = 0x100000001B3 * 2 + 1  # odd
_POLYNOMIAL_MAX_FIELD = 1024

BOOLEAN_COLUMNS = ("is_compliant", "canonical_is_self", "in_sitemap")
NUMBER_COLUMNS = (
    "depth",
    "http_code",
    "inlinks",
    "outlinks",
    "pagerank_botify",
    "pagerank_botify_position",
    "impressions",
    "clicks",
)
TEXT_COLUMNS = ("pagetype", "canonical_to")
NO_PAGETYPE = "(no pagetype)"
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
_DEPTH_IN_NAME = re.compile(r"_depth-(\d+)")


class ExportReadError(Exception):
    """An export file cannot be read; the message names the file and the fix."""


@dataclass
class LinkGraph:
    """The deduplicated edges as int32 ids into `urls`, with what was dropped on the way."""

    urls: list[str]
    source: np.ndarray  # int32, one row per distinct edge, self-loops removed
    target: np.ndarray
    rows: int = 0  # data rows in the file
    self_loops: int = 0
    duplicates: int = 0
    skipped_rows: int = 0  # empty fields, lines without two columns

    @property
    def n(self) -> int:
        return len(self.urls)

    def csr(self) -> Any:
        """Adjacency (row = source) as one scipy CSR matrix of ones."""
        import numpy as np
        from scipy import sparse

        data = np.ones(len(self.source), dtype=np.float64)
        return sparse.csr_matrix((data, (self.source, self.target)), shape=(self.n, self.n))


@dataclass
class NodeTable:
    """Node attributes aligned to the graph's ids; a column absent from the file is absent here."""

    columns: dict[str, Any] = field(default_factory=dict)  # name -> np.ndarray (len n)
    present: list[str] = field(default_factory=list)  # columns the file had
    rows: int = 0
    matched: int = 0  # rows whose URL is a node of the graph
    outside: int = 0  # rows naming a URL with no link in the export
    bad_values: dict[str, int] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.columns

    def get(self, name: str) -> Any:
        return self.columns.get(name)


def depth_from_name(path: Path) -> int | None:
    """The `n` of `…_linkgraph_depth-{n}.csv`, if the name says it."""
    found = _DEPTH_IN_NAME.findall(path.name)
    return int(found[-1]) if found else None


def read_links(path: Path) -> LinkGraph:
    """The links CSV (`source,target`, header optional) as a deduplicated int32 edge list."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ExportReadError(
            f"Could not read the links file {path}: {exc.strerror or exc}. Check the path, or "
            "export the analysis again."
        ) from exc
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    first_end = raw.find(b"\n", start)
    first = raw[start : first_end if first_end >= 0 else len(raw)]
    if first.strip().lower().replace(b'"', b"") == b"source,target":
        start = first_end + 1 if first_end >= 0 else len(raw)
    if not raw.endswith(b"\n") and len(raw) > start:
        raw += b"\n"
    parsed = _parse_plain(raw, start)
    if parsed is None:
        parsed = _parse_csv(raw[start:])
    urls, codes, rows, skipped = parsed
    return _dedupe(urls, codes, rows, skipped)


def _positions(buf: np.ndarray, byte: int, scratch: np.ndarray) -> np.ndarray:
    """Offsets of `byte` in `buf`, found chunk by chunk in one reused buffer (no page faults)."""
    import numpy as np

    found = []
    step = len(scratch)
    for begin in range(0, len(buf), step):
        part = buf[begin : begin + step]
        mask = scratch[: len(part)]
        np.equal(part, byte, out=mask)
        found.append(np.flatnonzero(mask) + begin)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _parse_plain(body: bytes, offset: int = 0) -> tuple[list[str], np.ndarray, int, int] | None:
    """Fast path: hash each field's bytes with numpy and factorise the hashes.

    Every pass works on ~1 MB slices through buffers allocated once: fresh memory costs a page
    fault per 4 KB, which on a busy machine costs more than the arithmetic.
    """
    import numpy as np
    import pandas as pd

    if body.find(b'"', offset) >= 0 or body.find(b"\r", offset) >= 0:
        return None
    buf = np.frombuffer(body, dtype=np.uint8)[offset:]  # a view: the file is not copied
    scratch = np.empty(min(_CHUNK_BYTES, max(len(buf), 1)), dtype=bool)
    newlines = _positions(buf, 10, scratch)
    commas = _positions(buf, 44, scratch)
    lines = len(newlines)
    if lines == 0:
        return [], np.zeros(0, dtype=np.int64), 0, 0
    if len(commas) != lines:
        return None
    line_starts = np.empty(lines, dtype=np.int64)
    line_starts[0] = 0
    line_starts[1:] = newlines[:-1] + 1
    if np.any(commas < line_starts) or np.any(commas > newlines):
        return None  # a line without its comma and another with two
    # Segments tile the buffer: each field with the separator after it.
    seg_start = np.empty(2 * lines, dtype=np.int64)
    seg_start[0::2] = line_starts
    seg_start[1::2] = commas + 1
    seg_end = np.empty(2 * lines, dtype=np.int64)  # exclusive, without the separator
    seg_end[0::2] = commas
    seg_end[1::2] = newlines
    lengths = seg_end - seg_start
    max_len = int(lengths.max()) + 1
    if max_len > _POLYNOMIAL_MAX_FIELD:
        return None  # very long fields: the csv module's exact path
    hashes = np.empty(2 * lines, dtype=np.uint64)
    # A polynomial hash mod 2**64: byte k of a chunk weighs BASE**k, so a field's hash is the
    # sum over its bytes times BASE**-start (BASE is odd, hence invertible). The weights are a
    # contiguous table: no gather. Fields stay far shorter than the 2**11 bytes that the known
    # equal-hash strings for this modulus need.
    capacity = _CHUNK_BYTES + 2 * max_len + 2
    powers = np.empty(capacity, dtype=np.uint64)
    powers[0] = 1
    powers[1:] = np.uint64(_HASH_BASE)
    np.cumprod(powers, out=powers)
    inverse = np.empty(capacity, dtype=np.uint64)
    inverse[0] = 1
    inverse[1:] = np.uint64(pow(_HASH_BASE, -1, 1 << 64))
    np.cumprod(inverse, out=inverse)
    values = np.empty(capacity, dtype=np.uint64)
    total_segments = 2 * lines
    seg_index = 0
    while seg_index < total_segments:  # whole lines per chunk
        byte_start = int(seg_start[seg_index])
        limit = int(np.searchsorted(seg_start, byte_start + _CHUNK_BYTES, side="left"))
        seg_stop = max(limit, seg_index + 2)
        seg_stop = min(seg_stop + (seg_stop - seg_index) % 2, total_segments)
        byte_stop = int(newlines[seg_stop // 2 - 1]) + 1
        size = byte_stop - byte_start
        starts = seg_start[seg_index:seg_stop] - byte_start
        value = values[:size]
        value[:] = buf[byte_start:byte_stop]
        value[seg_end[seg_index:seg_stop] - byte_start] = 0  # the separators
        np.multiply(value, powers[:size], out=value)
        hashes[seg_index:seg_stop] = np.add.reduceat(value, starts) * inverse[starts]
        seg_index = seg_stop
    hashes += lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    empty = (lengths[0::2] == 0) | (lengths[1::2] == 0)
    skipped = int(empty.sum())
    if skipped:
        keep = np.repeat(~empty, 2)
        hashes, seg_start, seg_end = hashes[keep], seg_start[keep], seg_end[keep]
        lengths = lengths[keep]
    # Ids in order of first appearance (a hash table, no sort), so the first page is node 0.
    codes, unique = pd.factorize(hashes)
    codes = codes.astype(np.int64)
    first = np.empty(len(unique), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    # Two different URLs with one 64-bit hash would merge; a length mismatch would show it.
    if np.any(lengths != lengths[first[codes]]):
        return None
    urls = [
        body[start:end].decode("utf-8", errors="replace")
        for start, end in zip(
            (seg_start[first] + offset).tolist(), (seg_end[first] + offset).tolist(), strict=True
        )
    ]
    return urls, codes, lines - skipped, skipped


def _parse_csv(body: bytes) -> tuple[list[str], np.ndarray, int, int]:
    """Slow path for quoted fields, CR LF and odd lines: the csv module and a dict."""
    import numpy as np

    text = io.StringIO(body.decode("utf-8", errors="replace"), newline="")
    ids: dict[str, int] = {}
    codes: list[int] = []
    rows = skipped = 0
    for row in csv.reader(text):
        if not row:
            continue
        if len(row) < 2 or not row[0] or not row[1]:
            skipped += 1
            continue
        rows += 1
        codes.append(ids.setdefault(row[0], len(ids)))
        codes.append(ids.setdefault(row[1], len(ids)))
    return list(ids), np.asarray(codes, dtype=np.int64), rows, skipped


def _dedupe(urls: list[str], codes: np.ndarray, rows: int, skipped: int) -> LinkGraph:
    import numpy as np

    source = codes[0::2]
    target = codes[1::2]
    loops = source == target
    self_loops = int(loops.sum())
    if self_loops:
        source, target = source[~loops], target[~loops]
    n = len(urls)
    key = source.astype(np.int64) * max(n, 1) + target
    key.sort()
    unique_keys = key[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else key
    duplicates = len(key) - len(unique_keys)
    return LinkGraph(
        urls=urls,
        source=(unique_keys // max(n, 1)).astype(np.int32),
        target=(unique_keys % max(n, 1)).astype(np.int32),
        rows=rows,
        self_loops=self_loops,
        duplicates=duplicates,
        skipped_rows=skipped,
    )


_BOOLEAN_VALUES = {"true": 1, "1": 1, "yes": 1, "t": 1, "y": 1, "1.0": 1}
_BOOLEAN_VALUES |= {"false": 0, "0": 0, "no": 0, "f": 0, "n": 0, "0.0": 0}
_UNKNOWN = {"", "none", "null", "nan"}


def _boolean(series: Any) -> tuple[np.ndarray, int]:
    """1 true, 0 false, -1 unknown (empty or unreadable)."""
    import numpy as np

    if series.dtype == bool:
        return series.to_numpy().astype(np.int8), 0
    text = series.astype(str).str.strip().str.lower()
    mapped = text.map(_BOOLEAN_VALUES)
    bad = int((mapped.isna() & ~text.isin(_UNKNOWN)).sum())
    return mapped.fillna(-1).to_numpy().astype(np.int8), bad


def _number(series: Any) -> tuple[np.ndarray, int]:
    """Floats; NaN for empty or unreadable cells."""
    import numpy as np
    import pandas as pd

    if series.dtype.kind in "iufb":
        return series.to_numpy().astype(np.float64), 0
    numbers = pd.to_numeric(series, errors="coerce")
    text = series.astype(str).str.strip().str.lower()
    bad = int((numbers.isna() & ~text.isin(_UNKNOWN)).sum())
    return numbers.to_numpy().astype(np.float64), bad


def read_meta(path: Path, graph: LinkGraph) -> NodeTable:
    """The node attribute CSV, aligned to the graph's node ids (unknown cells NaN, -1 or "")."""
    import numpy as np
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            dtype={name: object for name in ("id", "url", *TEXT_COLUMNS)},
            keep_default_na=False,
            na_values={name: [""] for name in NUMBER_COLUMNS},
            index_col=False,
            encoding="utf-8-sig",
            encoding_errors="replace",
            on_bad_lines="skip",
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return NodeTable()
    except (OSError, UnicodeError) as exc:
        raise ExportReadError(
            f"Could not read the node attributes file {path}: {getattr(exc, 'strerror', '') or exc}."
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise ExportReadError(
            f"The node attributes file {path} is not a readable CSV ({exc}). Export the analysis "
            "again, or move the file away to run the analytics without it."
        ) from exc
    frame.columns = [str(name).strip().lower() for name in frame.columns]
    if frame.shape[1] == 0:
        return NodeTable()
    urls = frame.iloc[:, 0].astype(str)
    frame = frame[(urls != "") & (urls != "nan")]
    urls = frame.iloc[:, 0].astype(str).to_numpy(dtype=object)
    if graph.n == 0:  # no links at all: the node rows are the graph (an export of one page)
        graph.urls.extend(dict.fromkeys(urls))
    n = graph.n
    nodes = pd.Index(graph.urls).get_indexer(urls)
    inside = nodes >= 0
    table = NodeTable(
        present=[name for name in frame.columns[1:]],
        rows=len(frame),
        outside=int((~inside).sum()),
    )
    node_of_row = nodes[inside]
    table.matched = int(len(np.unique(node_of_row)))
    frame = frame[inside]
    for name in frame.columns[1:]:
        if name in table.columns or name not in BOOLEAN_COLUMNS + NUMBER_COLUMNS + TEXT_COLUMNS:
            continue
        series = frame[name]
        if name in BOOLEAN_COLUMNS:
            parsed, bad = _boolean(series)
            column = np.full(n, -1, dtype=np.int8)
        elif name in NUMBER_COLUMNS:
            parsed, bad = _number(series)
            column = np.full(n, np.nan)
        else:
            parsed, bad = series.fillna("").astype(str).to_numpy(dtype=object), 0
            column = np.full(n, "", dtype=object)
        # The last row for a URL wins.
        column[node_of_row] = parsed
        table.columns[name] = column
        if bad:
            table.bad_values[name] = bad
    return table

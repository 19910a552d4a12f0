"""One export's files on disk: the two inputs, the cache, the nodes file and the report.

`analyse_export(files)` is what the CLI, the TUI worker, the notebook and the post-export hook
call: it answers from the cache when the inputs are unchanged, otherwise reads, computes, and
writes the cache, `…_nodes.csv` and `…_report.md` atomically (temporary name, then rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botifython_tui.core.analytics.loading import (
    ExportReadError,
    NodeTable,
    depth_from_name,
    read_links,
    read_meta,
)

CACHE_VERSION = 1
_LINKS_NAME = re.compile(r"^(?P<base>.+)_linkgraph_depth-(?P<depth>\d+)\.csv$")


@dataclass(frozen=True)
class ExportFiles:
    """Where an export's inputs are and where its derived files go."""

    links: Path
    meta: Path | None
    depth: int | None
    stem: Path  # folder / "{base}_depth-{n}": the derived files add a suffix

    @property
    def nodes(self) -> Path:
        return self.stem.with_name(self.stem.name + "_nodes.csv")

    @property
    def report(self) -> Path:
        return self.stem.with_name(self.stem.name + "_report.md")

    @property
    def cache_json(self) -> Path:
        return self.stem.with_name(self.stem.name + "_analytics.json")

    @property
    def cache_npz(self) -> Path:
        return self.stem.with_name(self.stem.name + "_analytics.npz")


def export_files(
    links: str | Path, meta: str | Path | None = None, depth: int | None = None
) -> ExportFiles:
    """The files of the export whose links CSV is `links` (meta found beside it when not given)."""
    links = Path(links)
    match = _LINKS_NAME.match(links.name)
    if depth is None:
        depth = int(match["depth"]) if match else depth_from_name(links)
    if match:
        stem = links.with_name(f"{match['base']}_depth-{int(match['depth'])}")
    else:
        stem = links.with_name(links.stem if depth is None else f"{links.stem}_depth-{depth}")
    meta_path = Path(meta) if meta else None
    if meta_path is None and match:
        for candidate in (
            links.with_name(f"{match['base']}_depth-{int(match['depth'])}_meta.csv"),
            links.with_name(f"{match['base']}_meta.csv"),  # the older name
        ):
            if candidate.is_file():
                meta_path = candidate
                break
    return ExportFiles(links=links, meta=meta_path, depth=depth, stem=stem)


@dataclass
class ExportAnalysis:
    """The analytics of one export, and the per-node columns (loaded lazily from the cache)."""

    files: ExportFiles
    analytics: dict[str, Any]
    urls: list[str]
    nodes: dict[str, Any]
    pagetypes: list[str]
    from_cache: bool = False
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    meta: NodeTable | None = field(default=None, repr=False)


# --- fingerprints -------------------------------------------------------------------------------


def fingerprint(path: Path, *, digest: bool = True) -> dict[str, Any]:
    stat = path.stat()
    found: dict[str, Any] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if digest:
        sha = hashlib.sha1(usedforsecurity=False)
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                sha.update(block)
        found["sha1"] = sha.hexdigest()
    return found


def _same_file(recorded: dict[str, Any] | None, path: Path | None) -> tuple[bool, dict | None]:
    """(unchanged?, fresh fingerprint or None): size and mtime first, the digest if they moved."""
    if path is None or not path.is_file():
        return recorded is None, None
    if recorded is None:
        return False, None
    stat = path.stat()
    if stat.st_size == recorded.get("size") and stat.st_mtime_ns == recorded.get("mtime_ns"):
        return True, recorded
    if stat.st_size != recorded.get("size"):
        return False, None
    now = fingerprint(path)
    return now.get("sha1") == recorded.get("sha1"), now


# --- atomic writes ------------------------------------------------------------------------------


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.part-{os.getpid()}-{time.monotonic_ns()}")


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a hidden temporary name beside `path`, then rename: never a partial file.

    Created 0600 like the export files: the pages of a client's site are nobody else's business.
    """
    temporary = _temporary(path)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


# --- cache --------------------------------------------------------------------------------------


def _save_cache(result: ExportAnalysis, prints: dict[str, Any]) -> list[Path]:
    import io

    import numpy as np

    blob = "\n".join(result.urls).encode("utf-8", errors="replace")
    breaks = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 10)
    if len(breaks) == max(len(result.urls) - 1, 0):  # no URL holds a line break: one pass
        ends = np.append(breaks, len(blob))
        lengths = ends - np.concatenate(([0], breaks + 1))
    else:
        lengths = np.fromiter(
            (len(u.encode("utf-8", errors="replace")) for u in result.urls), dtype=np.int64
        )
    arrays = {f"node_{name}": np.asarray(value) for name, value in result.nodes.items()}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        urls_blob=np.frombuffer(blob, dtype=np.uint8),
        urls_lengths=lengths,
        **arrays,
    )
    files = result.files
    write_atomic(files.cache_npz, buffer.getvalue())
    document = {
        "version": CACHE_VERSION,
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": prints,
        "pagetypes": result.pagetypes,
        "analytics": result.analytics,
    }
    write_atomic(files.cache_json, json.dumps(document, ensure_ascii=False))
    return [files.cache_npz, files.cache_json]


def _read_cache_json(files: ExportFiles) -> dict[str, Any] | None:
    try:
        document = json.loads(files.cache_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("version") != CACHE_VERSION:
        return None
    return document


def load_nodes(files: ExportFiles) -> tuple[list[str], dict[str, Any]] | None:
    """The URLs and per-node columns from the cache, or None when it is missing or damaged."""
    import numpy as np

    try:
        with np.load(files.cache_npz, allow_pickle=False) as data:
            blob = bytes(data["urls_blob"])
            lengths = data["urls_lengths"]
            nodes = {
                key.removeprefix("node_"): data[key]
                for key in data.files
                if key.startswith("node_")
            }
    except (OSError, ValueError, KeyError):
        return None
    urls = []
    at = 0
    for length in lengths.tolist():
        urls.append(blob[at : at + length].decode("utf-8", errors="replace"))
        at += length + 1
    return urls, nodes


# --- outputs ------------------------------------------------------------------------------------


def _csv_text(values: Any) -> list[str]:
    """Strings as CSV fields: quoted only when they hold a comma, quote or line break."""
    out = [str(v) for v in values]
    for i, text in enumerate(out):
        if "," in text or '"' in text or "\n" in text or "\r" in text:
            out[i] = '"' + text.replace('"', '""') + '"'
    return out


def _csv_floats(values: Any) -> list[str]:
    return ["" if v != v else f"{v:.6g}" for v in values.tolist()]  # v != v: NaN


def _csv_ints(values: Any) -> list[str]:
    """Whole numbers (NaN or negative-for-unknown as empty cells)."""
    import numpy as np

    values = np.asarray(values)
    if values.dtype.kind == "f":
        unknown = np.isnan(values)
        whole = np.where(unknown, -1, values).astype(np.int64)
    else:
        whole = values.astype(np.int64)
        unknown = None
    out = list(map(str, whole.tolist()))
    if unknown is not None:
        for i in np.flatnonzero(unknown).tolist():
            out[i] = ""
    return out


def _csv_booleans(values: Any) -> list[str]:
    import numpy as np

    names = np.array(["", "False", "True"], dtype=object)  # -1 unknown, 0, 1
    return names[np.clip(np.asarray(values, dtype=np.int64), -1, 1) + 1].tolist()


def nodes_csv(result: ExportAnalysis, meta: NodeTable | None) -> str:
    """The per-node file: the contract's columns first, then what the node attributes add."""
    import numpy as np

    nodes = result.nodes
    n = len(result.urls)
    empty = [""] * n

    def from_meta(name: str, kind: str) -> list[str]:
        column = meta.get(name) if meta is not None else None
        if column is None:
            return empty
        if kind == "float":
            return _csv_floats(column)
        if kind == "int":
            return _csv_ints(column)
        if kind == "bool":
            return _csv_booleans(column)
        return _csv_text(column)

    click = np.asarray(nodes["click_depth"]).astype(np.float64)
    click[click < 0] = np.nan
    columns: dict[str, list[str]] = {
        "id": _csv_text(result.urls),
        "pagerank": _csv_floats(nodes["pagerank"]),
        "pagerank_botify": from_meta("pagerank_botify", "float"),
        "inlinks": _csv_ints(nodes["inlinks"]),
        "outlinks": _csv_ints(nodes["outlinks"]),
        "depth": from_meta("depth", "int"),
        "click_depth": _csv_ints(click),
        "pagetype": from_meta("pagetype", "text"),
    }
    for name, kind, label in (
        ("http_code", "int", "http_code"),
        ("is_compliant", "bool", "is_compliant"),
        ("canonical_is_self", "bool", "canonical_is_self"),
        ("in_sitemap", "bool", "in_sitemap"),
        ("inlinks", "int", "inlinks_botify"),
        ("impressions", "int", "impressions"),
        ("clicks", "int", "clicks"),
    ):
        if meta is not None and meta.has(name):
            columns[label] = from_meta(name, kind)
    columns["hub"] = _csv_floats(nodes["hub"])
    columns["authority"] = _csv_floats(nodes["authority"])
    lines = [",".join(columns)]
    lines.extend(map(",".join, zip(*columns.values(), strict=True)))
    lines.append("")
    return "\n".join(lines)


def _write_outputs(result: ExportAnalysis, meta: NodeTable | None, title: str) -> list[Path]:
    from botifython_tui.core.analytics.report import markdown

    files = result.files
    write_atomic(files.nodes, nodes_csv(result, meta))
    write_atomic(files.report, markdown(result.analytics, title=title))
    return [files.nodes, files.report]


def report_title(files: ExportFiles) -> str:
    depth = f", depth {files.depth}" if files.depth is not None else ""
    return f"Link-graph analytics: {files.links.name}{depth}"


# --- the entry point ----------------------------------------------------------------------------


def analyse_export(
    files: ExportFiles,
    *,
    expected_rows: int | None = None,
    use_cache: bool = True,
    fresh_export: bool = False,
    write: bool = True,
    start_url: str | None = None,
) -> ExportAnalysis:
    """The analytics of one export: from the cache when its inputs are unchanged.

    `expected_rows` is the edge count the export recorded: a different row count means the
    links file was edited since. `fresh_export` (right after a download) drops an older cache
    without reporting a change.
    """
    started = time.perf_counter()
    if not files.links.is_file():
        raise ExportReadError(
            f"The links file {files.links} is not there any more: export the analysis again "
            "from Botify (F4, or botifython linkgraph)."
        )
    changed: list[str] = []
    cached = _read_cache_json(files) if (use_cache or not fresh_export) else None
    if cached is not None and not fresh_export:
        inputs = cached.get("inputs") or {}
        links_same, links_now = _same_file(inputs.get("links"), files.links)
        meta_same, meta_now = _same_file(inputs.get("meta"), files.meta)
        outputs = not write or (files.nodes.is_file() and files.report.is_file())
        if use_cache and links_same and meta_same and outputs:
            loaded = load_nodes(files)
            if loaded is not None:
                urls, nodes = loaded
                if links_now is not inputs.get("links") or meta_now is not inputs.get("meta"):
                    # Touched but identical: remember the new times so the next check is quick.
                    with contextlib.suppress(OSError):
                        _refresh_times(files, cached)
                return ExportAnalysis(
                    files=files,
                    analytics=cached["analytics"],
                    urls=urls,
                    nodes=nodes,
                    pagetypes=list(cached.get("pagetypes") or []),
                    from_cache=True,
                    seconds=time.perf_counter() - started,
                )
        when = str(cached.get("computed_at", ""))[:16].replace("T", " ")
        old = inputs.get("links") or {}
        if not links_same:
            size = files.links.stat().st_size
            changed.append(
                f"The links file changed since it was analysed on {when} UTC ({old.get('size', 0):,} "
                f"→ {size:,} bytes): edited by hand, or exported again?"
            )
        if not meta_same and (inputs.get("meta") is not None or files.meta is not None):
            changed.append(
                f"The node attributes file changed since the analysis of {when} UTC (edited, "
                "added or removed)."
            )
    result = compute_export(files, start_url=start_url)
    warnings = result.analytics["warnings"]
    warnings.extend(changed)
    rows = result.analytics["graph"]["rows"]
    if expected_rows is not None and expected_rows != rows:
        warnings.append(
            f"The links file has {rows:,} rows but the export recorded {expected_rows:,}: it was "
            "edited since the export. Export the analysis again for Botify's data."
        )
    if write:
        clock = time.perf_counter()
        prints = {
            "links": fingerprint(files.links),
            "meta": fingerprint(files.meta) if files.meta and files.meta.is_file() else None,
        }
        try:
            result.written = _save_cache(result, prints)
            result.written += _write_outputs(result, result.meta, report_title(files))
        except OSError as exc:  # a full disk or a read-only folder: the answers still show
            where = exc.filename or files.links.parent
            warnings.append(
                f"Could not write the analytics files beside the CSVs ({where}: "
                f"{exc.strerror or exc}); free some space or make the folder writable."
            )
        result.analytics["timings"]["write"] = round(time.perf_counter() - clock, 4)
    result.seconds = time.perf_counter() - started
    result.analytics.setdefault("timings", {})["total"] = round(result.seconds, 4)
    return result


def _refresh_times(files: ExportFiles, cached: dict[str, Any]) -> None:
    cached["inputs"] = {
        "links": fingerprint(files.links),
        "meta": fingerprint(files.meta) if files.meta and files.meta.is_file() else None,
    }
    write_atomic(files.cache_json, json.dumps(cached, ensure_ascii=False))


def compute_export(files: ExportFiles, *, start_url: str | None = None) -> ExportAnalysis:
    """Read both files and compute every section (no cache, nothing written)."""
    from botifython_tui.core.analytics.sections import compute

    clock = time.perf_counter()
    graph = read_links(files.links)
    read_links_s = time.perf_counter() - clock
    meta = None
    if files.meta is not None and files.meta.is_file():
        meta = read_meta(files.meta, graph)
    read_meta_s = time.perf_counter() - clock - read_links_s
    analysis = compute(graph, meta, depth=files.depth, start_url=start_url)
    analysis.analytics["timings"] = {
        "read_links": round(read_links_s, 4),
        "read_meta": round(read_meta_s, 4),
        **analysis.analytics["timings"],
    }
    analysis.analytics["files"] = {
        "links": str(files.links),
        "meta": str(files.meta) if meta is not None else None,
        "nodes": str(files.nodes),
        "report": str(files.report),
    }
    result = ExportAnalysis(
        files=files,
        analytics=analysis.analytics,
        urls=analysis.urls,
        nodes=analysis.nodes,
        pagetypes=analysis.pagetypes,
        meta=meta,
    )
    return result

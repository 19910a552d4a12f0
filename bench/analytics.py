#!/usr/bin/env python3
"""Link-graph analytics benchmark: every analytic of a ~1,000,000-edge export, against networkx.

Not a test: a measurement to run by hand and paste into BENCHMARKS.md.

    python bench/analytics.py                    # 1,000,000 edges, 3 measured runs
    python bench/analytics.py --edges 200000 --runs 1 --json

Method:
  * The two export files (links `source,target`, node attributes to depth n + 1 with the
    contract's columns and Search Console) of SyntheticGraph.for_edge_count(EDGES) (the fake
    Botify's graph, 4 levels) are written once into a temporary folder (not timed).
  * Each run is a fresh process (`analyse_export(..., use_cache=False)`): import numpy, scipy and
    pandas, read both files, PageRank, click depth, weak pages, leaks, link flow, HITS, SCC, and
    write the cache, the nodes file and the report. Wall time is measured inside the process from
    before the imports to after the last file is renamed; peak memory is the process's own
    ru_maxrss (os.wait4). Reopening (from the cache) is timed as well.
  * The baseline is networkx in its own process on the same links file: the graph is built
    with `nx.DiGraph` from the csv module's rows, then `nx.pagerank` (d = 0.85, the same L1
    tolerance as ours: N × 1e-8 / N) is timed alone; the two PageRank vectors are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 3.0
GOAL_PEAK_MB = 600.0

ANALYSE = r"""
import json, sys, time
started = time.perf_counter()
from botifython_tui.core.analytics.files import analyse_export, export_files
files = export_files(sys.argv[1])
result = analyse_export(files, use_cache=False)
total = time.perf_counter() - started
reopen_started = time.perf_counter()
again = analyse_export(files)
reopen = time.perf_counter() - reopen_started
assert again.from_cache
print(json.dumps({"seconds": total, "reopen_seconds": reopen, "timings": result.analytics["timings"],
                  "nodes": len(result.urls), "edges": result.analytics["graph"]["edges"]}))
"""

NETWORKX = r"""
import csv, json, sys, time
import numpy as np
started = time.perf_counter()
import networkx as nx
graph = nx.DiGraph()
with open(sys.argv[1], newline="") as handle:
    rows = csv.reader(handle)
    next(rows)
    graph.add_edges_from((a, b) for a, b in rows if a != b)
built = time.perf_counter() - started
clock = time.perf_counter()
scores = nx.pagerank(graph, alpha=0.85, tol=1e-8 / graph.number_of_nodes())
pagerank = time.perf_counter() - clock
from botifython_tui.core.analytics.files import load_nodes, export_files
urls, nodes = load_nodes(export_files(sys.argv[1]))
ours = dict(zip(urls, nodes["pagerank"].tolist()))
diff = max(abs(ours[u] - s) for u, s in scores.items())
print(json.dumps({"build_seconds": built, "pagerank_seconds": pagerank, "max_abs_diff": diff}))
"""


def run_child(code: str, *args: str) -> tuple[dict, float]:
    """Run `code` in a fresh interpreter; its JSON line (plus its CPU seconds) and peak RSS in MB.

    CPU seconds (user + system) are reported beside wall time: on a machine shared with other
    work, a single-threaded process's CPU time is close to what its wall time would be alone.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, env=env, cwd=ROOT
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed with status {status}")
    found = json.loads(out.decode().strip().splitlines()[-1])
    found["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return found, usage.ru_maxrss / 1024


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-networkx", action="store_true", help="skip the baseline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tests.fakes.botify_server import SyntheticGraph
    from tests.fakes.export_files import write_export

    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as folder:
        graph = SyntheticGraph.for_edge_count(args.edges)
        clock = time.perf_counter()
        links, meta = write_export(graph, Path(folder), graph.max_depth)
        generated = time.perf_counter() - clock
        print(
            f"graph: {graph.depth_sizes}, {graph.edge_count():,} edges; files written in "
            f"{generated:.1f} s ({links.stat().st_size / 1e6:.0f} MB links, "
            f"{meta.stat().st_size / 1e6:.0f} MB meta)",
            file=sys.stderr,
        )
        runs = []
        for index in range(args.runs):
            load = load_average()
            result, peak = run_child(ANALYSE, str(links))
            result.update(peak_mb=peak, load_before=load)
            runs.append(result)
            print(
                f"run {index + 1}: {result['seconds']:.2f} s wall ({result['cpu_seconds']:.2f} s CPU "
                "for the whole process, imports and the reopen included), "
                f"peak {peak:.0f} MB, reopen "
                f"{result['reopen_seconds'] * 1000:.0f} ms (load {load})",
                file=sys.stderr,
            )
        baseline = None
        if not args.no_networkx:
            load = load_average()
            baseline, peak = run_child(NETWORKX, str(links))
            baseline.update(peak_mb=peak, load_before=load)
            print(
                f"networkx: ({baseline['cpu_seconds']:.1f} s CPU in all) build "
                f"{baseline['build_seconds']:.1f} s, pagerank alone "
                f"{baseline['pagerank_seconds']:.1f} s, peak {peak:.0f} MB, max |Δ| "
                f"{baseline['max_abs_diff']:.1e} (load {load})",
                file=sys.stderr,
            )
    seconds = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    report = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        },
        "edges": runs[0]["edges"],
        "nodes": runs[0]["nodes"],
        "median_seconds": seconds,
        "median_cpu_seconds": cpu,
        "peak_mb": peak,
        "runs": runs,
        "networkx": baseline,
        "goal": {"seconds": GOAL_SECONDS, "peak_mb": GOAL_PEAK_MB},
        "met": seconds <= GOAL_SECONDS and peak <= GOAL_PEAK_MB,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"analytics: median {seconds:.2f} s wall, {cpu:.2f} s CPU (goal ≤ {GOAL_SECONDS} s), "
            f"peak {peak:.0f} MB "
            f"(goal ≤ {GOAL_PEAK_MB:.0f} MB): {'met' if report['met'] else 'NOT met'}"
        )
        print("median step timings (s):")
        for key in runs[0]["timings"]:
            print(f"  {key:<16} {statistics.median(r['timings'].get(key, 0) for r in runs):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

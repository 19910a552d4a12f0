"""Every analytic of one export, as a JSON-ready dict plus per-node arrays.

`compute(graph, meta, depth=…)` (in `compute.py`) is the one entry point. A section that needs a
node attribute the meta file lacks says so under its `missing` key; the other sections still run.
One module per section, in the order of the report: graph, pagerank, depth, weak, leaks, flow.
"""

from botifython_tui.core.analytics.sections.compute import VERSION, Analysis, compute

__all__ = ["VERSION", "Analysis", "compute"]

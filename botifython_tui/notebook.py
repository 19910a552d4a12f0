"""Start a notebook from the answers: `load_export(EXPORT)` returns the edges, the nodes and the
analytics of one link-graph export as pandas DataFrames and a dict.

    from botifython_tui.notebook import load_export
    export = load_export(3)              # an id from `botifython exports`, or a links CSV path
    export.analytics["pagerank"]["top"]  # the same dict as `botifython summary 3 --json`
    export.nodes.nlargest(10, "pagerank")
    graph = export.to_networkx()         # for small graphs, when networkx is installed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETWORKX_LIMIT = 2_000_000  # edges: beyond this a networkx graph needs gigabytes


@dataclass
class LoadedExport:
    """One export: `.edges` (source, target URLs), `.nodes` (the nodes file), `.analytics`."""

    links_path: Path
    nodes_path: Path
    analytics: dict[str, Any]
    _edges: Any = field(default=None, repr=False)
    _nodes: Any = field(default=None, repr=False)

    @property
    def edges(self) -> Any:
        """The links CSV as a DataFrame with the columns `source` and `target`."""
        if self._edges is None:
            import pandas as pd

            frame = pd.read_csv(
                self.links_path, dtype=str, keep_default_na=False, encoding_errors="replace"
            )
            frame.columns = ["source", "target", *frame.columns[2:]]
            self._edges = frame
        return self._edges

    @property
    def nodes(self) -> Any:
        """One row per page: id, pagerank, pagerank_botify, inlinks, outlinks, depth, …"""
        if self._nodes is None:
            import pandas as pd

            self._nodes = pd.read_csv(
                self.nodes_path, keep_default_na=True, encoding_errors="replace"
            )
        return self._nodes

    def to_networkx(self) -> Any:
        """A networkx DiGraph with the node attributes (networkx is an optional package)."""
        try:
            import networkx as nx
        except ImportError:
            raise ImportError(
                "to_networkx() needs networkx, which is not installed: pip install networkx "
                "(or work from .edges and .nodes, which need only pandas)."
            ) from None
        edges = self.edges
        if len(edges) > NETWORKX_LIMIT:
            raise ValueError(
                f"This export has {len(edges):,} links: a networkx graph of it would need "
                "gigabytes. Use .edges, .nodes and .analytics instead."
            )
        graph = nx.DiGraph()
        nodes = self.nodes
        records = nodes.set_index("id").to_dict("index")
        graph.add_nodes_from(records.items())
        graph.add_edges_from(
            (s, t) for s, t in zip(edges["source"], edges["target"], strict=True) if s != t
        )
        return graph


def load_export(export: int | str | Path, *, data_dir: str | Path | None = None) -> LoadedExport:
    """An export by id (this profile's, in the app's database) or by the path of its links CSV."""
    from botifython_tui.core.analytics.exports import resolve_export
    from botifython_tui.core.analytics.files import analyse_export

    store = None
    profile_id = None
    if isinstance(export, int) or (isinstance(export, str) and export.strip().isdigit()):
        from botifython_tui.config import Settings
        from botifython_tui.core.store import Store

        settings = Settings.resolve(data_dir=str(data_dir) if data_dir else None)
        store = Store(settings.db_path)
        profile_id = store.profiles.current().id
    try:
        files, record = resolve_export(str(export), store, profile_id)
    finally:
        if store is not None:
            store.close()
    result = analyse_export(
        files, expected_rows=(record.edges or None) if record is not None else None
    )
    return LoadedExport(links_path=files.links, nodes_path=files.nodes, analytics=result.analytics)

"""Cosmograph links."""

from __future__ import annotations

from botifython_tui.core.cosmograph import LOCAL_NETWORK_NOTE, cosmograph_url

# --- Cosmograph links ---------------------------------------------------------------------------


def test_cosmograph_url():
    links = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3.csv"
    meta = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3_meta.csv"
    assert cosmograph_url(links, meta) == (
        "https://cosmograph.app/run/"
        "?data=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3.csv"
        "&meta=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3_meta.csv"
        "&nodeColor=pagetype"
    )
    assert cosmograph_url("http://h:1/a b.csv", None) == (
        "https://cosmograph.app/run/?data=http%3A%2F%2Fh%3A1%2Fa%20b.csv"
    )
    # The nodes file sizes nodes by PageRank; without a meta file there is nothing to size by.
    assert cosmograph_url(links, meta, node_size="pagerank").endswith(
        "&nodeColor=pagetype&nodeSize=pagerank"
    )
    assert "nodeSize" not in cosmograph_url(links, None, node_size="pagerank")


def test_the_local_network_note_names_what_chrome_asks():
    assert "cosmograph.app" in LOCAL_NETWORK_NOTE and "127.0.0.1" in LOCAL_NETWORK_NOTE

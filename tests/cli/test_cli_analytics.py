"""`botifython exports`, `summary` and `compare`, run as separate processes; and the notebook API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from botifython_tui.core.store import Store
from tests.fakes.botify_server import SyntheticGraph
from tests.fakes.export_files import write_export

GRAPH = SyntheticGraph(depth_sizes=[1, 5, 30, 150], out_degree=(2, 5), seed=7)


def run(*args: str, data: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    return subprocess.run(
        [sys.executable, "-m", "botifython_tui", "--data-dir", str(data), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two exports (depth 1 and 2) of one project, recorded in the store as the export does."""
    root = tmp_path_factory.mktemp("cli-analytics")
    data, downloads = root / "data", root / "downloads"
    ids = []
    data.mkdir()
    store = Store(data / "botifython.db")
    try:
        profile = store.profiles.current()
        for depth in (1, 2):
            links, meta = write_export(GRAPH, downloads, depth)
            record = store.exports(profile.id).add(
                org="acme-org",
                project="example.com",
                analysis="20241108",
                depth=depth,
                edges=GRAPH.edge_count(depth),
                urls=GRAPH.url_count(depth + 1),
                links_path=str(links),
                meta_path=str(meta),
                summary={},
            )
            ids.append(record.id)
    finally:
        store.close()
    return root, data, downloads, ids


def test_exports_lists_the_ids(recorded):
    root, data, _, ids = recorded
    out = run("exports", "--json", data=data, cwd=root)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert sorted(row["id"] for row in rows) == sorted(ids)
    assert all(row["files_present"] for row in rows)
    plain = run("exports", data=data, cwd=root)
    assert plain.returncode == 0 and "acme-org/example.com" in plain.stdout


def test_summary_by_id_and_by_path_json(recorded):
    root, data, downloads, ids = recorded
    out = run("summary", str(ids[1]), "--json", data=data, cwd=root)
    assert out.returncode == 0, out.stderr
    analytics = json.loads(out.stdout)
    top = analytics["pagerank"]["top"]
    assert len(top) == 20 and all(isinstance(u, str) and isinstance(s, float) for u, s in top)
    assert top == sorted(top, key=lambda pair: -pair[1])
    assert analytics["graph"]["nodes"] == GRAPH.url_count(3)
    assert not analytics["warnings"]
    # The nodes file and the report were written beside the CSVs.
    stem = downloads / "acme-org_example.com_20241108_depth-2"
    assert Path(f"{stem}_nodes.csv").is_file() and Path(f"{stem}_report.md").is_file()
    # By path, the same answers (now from the cache).
    links = downloads / "acme-org_example.com_20241108_linkgraph_depth-2.csv"
    again = run("summary", str(links), "--json", data=data, cwd=root)
    assert json.loads(again.stdout)["pagerank"]["top"] == top
    text = run("summary", str(ids[1]), data=data, cwd=root)
    assert text.returncode == 0 and "Top 20 pages by internal PageRank" in text.stdout


def test_compare_json_and_text(recorded):
    root, data, _, ids = recorded
    out = run("compare", str(ids[0]), str(ids[1]), "--json", data=data, cwd=root)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["pages"]["gained"] == GRAPH.url_count(3) - GRAPH.url_count(2)
    assert result["pages"]["lost"] == 0
    text = run("compare", str(ids[0]), str(ids[1]), data=data, cwd=root)
    assert text.returncode == 0 and "Pages gained and lost" in text.stdout


def test_bad_export_arguments_exit_2_with_one_clear_line(recorded, tmp_path):
    root, data, _, _ = recorded
    out = run("summary", "999", data=data, cwd=root)
    assert out.returncode == 2
    assert out.stderr.startswith("botifython: error: ") and "botifython exports" in out.stderr
    assert "Traceback" not in out.stderr
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\xff" * 100)
    out = run("summary", str(garbage), "--json", data=data, cwd=root)
    assert out.returncode == 0  # an unreadable row is skipped and counted, not fatal
    assert json.loads(out.stdout)["graph"]["skipped_rows"] >= 1
    out = run("compare", "1", data=data, cwd=root)
    assert out.returncode == 2  # argparse: bad usage


def test_hand_edited_export_is_reported(recorded, tmp_path):
    root, data, downloads, ids = recorded
    store = Store(data / "botifython.db")
    try:
        record = store.exports(store.profiles.current().id).get(ids[0])
    finally:
        store.close()
    links = Path(record.links_path)
    original = links.read_bytes()
    try:
        links.write_bytes(original + b"https://example.com/,https://example.com/extra\n")
        out = run("summary", str(ids[0]), "--json", data=data, cwd=root)
        warnings = json.loads(out.stdout)["warnings"]
        assert any("edited since the export" in w for w in warnings)
    finally:
        links.write_bytes(original)


def test_notebook_load_export(recorded):
    pd = pytest.importorskip("pandas")
    from botifython_tui.notebook import load_export

    _, data, downloads, ids = recorded
    export = load_export(ids[1], data_dir=data)
    assert isinstance(export.edges, pd.DataFrame) and list(export.edges.columns[:2]) == [
        "source",
        "target",
    ]
    assert len(export.edges) == GRAPH.edge_count(2)
    nodes = export.nodes
    assert {"id", "pagerank", "pagerank_botify", "inlinks", "outlinks", "depth", "pagetype"} <= set(
        nodes.columns
    )
    assert export.analytics["pagerank"]["top"][0][0] == nodes.loc[nodes["pagerank"].idxmax(), "id"]
    graph = export.to_networkx()
    assert graph.number_of_edges() == GRAPH.edge_count(2)
    by_path = load_export(downloads / "acme-org_example.com_20241108_linkgraph_depth-2.csv")
    assert by_path.analytics["pagerank"]["top"] == export.analytics["pagerank"]["top"]


def test_notebook_to_networkx_without_networkx_says_how(recorded, monkeypatch):
    from botifython_tui.notebook import load_export

    _, data, _, ids = recorded
    export = load_export(str(ids[0]), data_dir=data)
    monkeypatch.setitem(sys.modules, "networkx", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install networkx"):
        export.to_networkx()

"""Link-graph analytics: the algorithms against networkx and known answers, bad input, the files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from botifython_tui.core.analytics import algorithms
from botifython_tui.core.analytics.compare import compare
from botifython_tui.core.analytics.files import analyse_export, export_files
from botifython_tui.core.analytics.loading import read_links, read_meta
from botifython_tui.core.analytics.report import markdown, tables
from tests.fakes.botify_server import SyntheticGraph
from tests.fakes.export_files import write_export

nx = pytest.importorskip("networkx")


def arrays(edges: list[tuple[int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    source = np.array([s for s, _ in edges], dtype=np.int32)
    target = np.array([t for _, t in edges], dtype=np.int32)
    return source, target


def csr(edges: list[tuple[int, int]], n: int):
    from scipy import sparse

    source, target = arrays(edges, n)
    return sparse.csr_matrix((np.ones(len(edges)), (source, target)), shape=(n, n))


def random_graph(seed: int, n: int, p: float) -> tuple[list[tuple[int, int]], int]:
    rng = random.Random(seed)
    edges = [(a, b) for a in range(n) for b in range(n) if a != b and rng.random() < p]
    return edges, n


def write_links(path: Path, rows: list[tuple[str, str]], header: str = "source,target") -> Path:
    lines = [header] if header else []
    lines += [f"{a},{b}" for a, b in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- algorithms against networkx ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_pagerank_matches_networkx_on_random_graphs(seed):
    edges, n = random_graph(seed, 40, 0.06)  # sparse: several dangling pages
    source, target = arrays(edges, n)
    ours = algorithms.pagerank(source, target, n)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    theirs = nx.pagerank(graph, alpha=0.85, tol=1e-12, max_iter=1000)
    assert ours.converged
    assert np.allclose(ours.scores, [theirs[i] for i in range(n)], atol=1e-6, rtol=0)
    assert ours.scores.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
def test_hits_matches_networkx_on_random_graphs(seed):
    edges, n = random_graph(100 + seed, 30, 0.12)
    hubs, authorities, _ = algorithms.hits(csr(edges, n), tol=1e-13)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    their_hubs, their_authorities = nx.hits(graph, max_iter=10_000, tol=1e-12)
    assert np.allclose(hubs, [their_hubs[i] for i in range(n)], atol=1e-6, rtol=0)
    assert np.allclose(authorities, [their_authorities[i] for i in range(n)], atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", range(6))
def test_bfs_depth_matches_networkx(seed):
    edges, n = random_graph(200 + seed, 50, 0.04)
    matrix = csr(edges, n)
    starts = [0, 7]
    ours = algorithms.bfs_depth(matrix.indptr, matrix.indices, starts)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    theirs = nx.multi_source_dijkstra_path_length(graph, starts)
    expected = [theirs.get(i, -1) for i in range(n)]
    assert ours.tolist() == expected
    assert -1 in expected  # the test covers unreachable pages too


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    a = rng.integers(0, 10, 200).astype(float)
    b = a + rng.normal(0, 3, 200).round()
    assert algorithms.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert algorithms.spearman(np.ones(5), np.arange(5.0)) is None


# --- hand-made graphs with known answers ------------------------------------------------------


def test_cycle_has_uniform_pagerank_and_depth_around_it():
    n = 5
    edges = [(i, (i + 1) % n) for i in range(n)]
    source, target = arrays(edges, n)
    assert np.allclose(algorithms.pagerank(source, target, n).scores, 0.2)
    matrix = csr(edges, n)
    assert algorithms.bfs_depth(matrix.indptr, matrix.indices, [2]).tolist() == [3, 4, 0, 1, 2]
    assert algorithms.largest_scc(matrix) == (5, 1)


def test_two_pages_one_dangling_has_the_closed_form_answer():
    # a -> b, b dangling: x_a = 1 / (2 + d), x_b = 1 - x_a.
    result = algorithms.pagerank(np.array([0]), np.array([1]), 2)
    assert result.scores[0] == pytest.approx(1 / 2.85, abs=1e-9)
    assert result.scores[1] == pytest.approx(1 - 1 / 2.85, abs=1e-9)


def test_chain_depth_pagerank_order_and_scc():
    edges = [(0, 1), (1, 2), (2, 3)]
    source, target = arrays(edges, 4)
    scores = algorithms.pagerank(source, target, 4).scores
    assert list(np.argsort(scores)) == [0, 1, 2, 3]  # rank accumulates down the chain
    matrix = csr(edges, 4)
    assert algorithms.bfs_depth(matrix.indptr, matrix.indices, [0]).tolist() == [0, 1, 2, 3]
    assert algorithms.largest_scc(matrix) == (1, 4)


def test_star_center_is_the_hub_and_leaves_the_authorities():
    edges = [(0, leaf) for leaf in range(1, 6)]
    hubs, authorities, _ = algorithms.hits(csr(edges, 6))
    assert hubs[0] == pytest.approx(1.0)
    assert authorities[0] == pytest.approx(0.0)
    assert np.allclose(authorities[1:], 0.2)
    source, target = arrays(edges, 6)
    scores = algorithms.pagerank(source, target, 6).scores
    assert np.allclose(scores[1:], scores[1])
    assert scores[1] > scores[0]


def test_log_bins():
    assert algorithms.log_bins(np.array([0, 1, 2, 3, 4, 9])) == [
        ("0", 1),
        ("1", 1),
        ("2–3", 2),
        ("4–7", 1),
        ("8–15", 1),
    ]


# --- loading and bad input --------------------------------------------------------------------


def test_plain_and_quoted_files_give_the_same_graph(tmp_path):
    rows = [
        ("https://a/", "https://a/x"),
        ("https://a/x", "https://a/y"),
        ("https://a/", "https://a/y"),
    ]
    plain = read_links(write_links(tmp_path / "plain.csv", rows))
    quoted_path = tmp_path / "quoted.csv"
    quoted_path.write_text(
        "source,target\r\n" + "".join(f'"{a}","{b}"\r\n' for a, b in rows), newline=""
    )
    quoted = read_links(quoted_path)
    for graph in (plain, quoted):
        pairs = {
            (graph.urls[s], graph.urls[t]) for s, t in zip(graph.source, graph.target, strict=True)
        }
        assert pairs == set(rows)
        assert graph.rows == 3


def test_self_loops_and_duplicates_are_counted_once_and_reported(tmp_path):
    rows = [("a", "b"), ("a", "b"), ("b", "b"), ("b", "c"), ("a", "b")]
    links = write_links(tmp_path / "x_linkgraph_depth-1.csv", rows)
    result = analyse_export(export_files(links), write=False)
    graph = result.analytics["graph"]
    assert (graph["edges"], graph["self_loops"], graph["duplicate_edges"]) == (2, 1, 2)
    assert any("self-link" in note for note in result.analytics["notes"])
    assert any("duplicate" in note for note in result.analytics["notes"])


def test_urls_differing_by_slash_or_case_stay_distinct(tmp_path):
    rows = [
        ("https://a/", "https://a/Page"),
        ("https://a/", "https://a/page"),
        ("https://a/", "https://a/page/"),
    ]
    graph = read_links(write_links(tmp_path / "l.csv", rows))
    assert graph.n == 4


def test_empty_fields_are_skipped_and_counted(tmp_path):
    links = write_links(tmp_path / "l.csv", [("a", "b"), ("", "c"), ("b", "")])
    graph = read_links(links)
    assert (len(graph.source), graph.skipped_rows) == (1, 2)


def test_missing_links_file_says_so(tmp_path):
    from botifython_tui.core.analytics.loading import ExportReadError

    with pytest.raises(ExportReadError, match="not there any more"):
        analyse_export(export_files(tmp_path / "gone_linkgraph_depth-2.csv"), write=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A depth-cut export (links from depth <= 2, node rows to depth 3) of a small site."""
    folder = tmp_path_factory.mktemp("site")
    graph = SyntheticGraph(depth_sizes=[1, 6, 40, 200], out_degree=(2, 6), seed=4)
    links, meta = write_export(graph, folder, 2)
    return graph, links, meta


def test_export_of_a_synthetic_site(site, tmp_path):
    graph, links, meta = site
    folder = tmp_path / "copy"
    folder.mkdir()
    links = Path(folder / links.name)
    links.write_bytes(site[1].read_bytes())
    (folder / meta.name).write_bytes(meta.read_bytes())
    result = analyse_export(export_files(links))
    a = result.analytics
    assert a["graph"]["nodes"] == graph.url_count(3)
    assert a["graph"]["meta"]["coverage"] == 1.0
    # Click depth equals the fake's depth (every page has an inlink from the depth above).
    assert a["depth"]["start"]["urls"] == ["https://example.com/"]
    assert a["depth"]["differs_from_botify"] == 0
    assert a["depth"]["beyond_export"] == 200
    labels = [row[0] for row in a["depth"]["click_histogram"]]
    assert labels == ["0", "1", "2", "beyond the export"]
    # Leaks: the fake makes 3xx/4xx and canonicalised pages.
    assert a["leaks"]["links"] > 0 and a["leaks"]["top_sources"]["rows"]
    assert a["pagerank"]["botify"]["spearman"] is not None
    assert len(a["pagerank"]["top"]) == 20
    assert a["flow"]["scc"]["largest"] >= 1
    # The files: cache, nodes and report, nothing half-written left behind.
    nodes = result.files.nodes.read_text().splitlines()
    assert nodes[0].startswith(
        "id,pagerank,pagerank_botify,inlinks,outlinks,depth,click_depth,pagetype"
    )
    assert len(nodes) == graph.url_count(3) + 1
    report = result.files.report.read_text()
    for section in (
        "1. Internal PageRank",
        "2. Click depth",
        "3. Weakly",
        "4. Leaks",
        "5. Link flow",
    ):
        assert section in report
    assert not list(folder.glob(".*part*"))
    # Reopening is from the cache; the same answers.
    again = analyse_export(export_files(links))
    assert again.from_cache and again.analytics["pagerank"]["top"] == a["pagerank"]["top"]
    assert np.allclose(again.nodes["pagerank"], result.nodes["pagerank"])


def test_pagerank_in_the_nodes_file_matches_networkx(site):
    _, links, _ = site
    result = analyse_export(export_files(links), write=False)
    graph = nx.DiGraph()
    graph.add_nodes_from(result.urls)
    for line in links.read_text().splitlines()[1:]:
        a, b = line.split(",")
        graph.add_edge(a, b)
    theirs = nx.pagerank(graph, tol=1e-12)
    ours = dict(zip(result.urls, result.nodes["pagerank"], strict=True))
    assert max(abs(ours[u] - theirs[u]) for u in theirs) < 1e-6


def test_a_file_edited_since_the_analysis_is_reported_and_recomputed(site, tmp_path):
    _, links, meta = site
    copy = tmp_path / links.name
    copy.write_bytes(links.read_bytes())
    (tmp_path / meta.name).write_bytes(meta.read_bytes())
    first = analyse_export(export_files(copy))
    assert not first.analytics["warnings"]
    with copy.open("a") as handle:
        handle.write("https://example.com/,https://example.com/new-page\n")
    second = analyse_export(export_files(copy))
    assert not second.from_cache
    assert any("changed since it was analysed" in w for w in second.analytics["warnings"])
    assert second.analytics["graph"]["edges"] == first.analytics["graph"]["edges"] + 1
    # The export's own count says so too.
    third = analyse_export(
        export_files(copy), expected_rows=first.analytics["graph"]["rows"], use_cache=False
    )
    assert any("edited since the export" in w for w in third.analytics["warnings"])


def test_touching_a_file_keeps_the_cache(site, tmp_path):
    import os

    _, links, _ = site
    copy = tmp_path / links.name
    copy.write_bytes(links.read_bytes())
    analyse_export(export_files(copy))
    os.utime(copy, ns=(1, 1))
    assert analyse_export(export_files(copy)).from_cache


def test_older_meta_columns_run_what_they_can(tmp_path):
    links = write_links(
        tmp_path / "o_linkgraph_depth-1.csv", [("h", "a"), ("h", "b"), ("a", "b"), ("b", "c")]
    )
    (tmp_path / "o_meta.csv").write_text(
        "id,depth,pagetype,is_compliant,canonical_is_self,in_sitemap\n"
        "h,0,home,True,True,True\na,1,cat,false,TRUE,1\nb,1,cat,True,False,0\nc,2,prod,,,\n"
    )
    files = export_files(links)
    assert files.meta == tmp_path / "o_meta.csv"  # the older name is found
    a = analyse_export(files).analytics
    assert a["leaks"]["missing"] == "needs http_code, which the node attributes file lacks"
    assert a["leaks"]["kinds"] == ["non-compliant", "canonicalised elsewhere"]
    assert a["leaks"]["links"] == 3  # into a (non-compliant) and b (canonicalised) x2
    assert a["pagerank"]["botify"]["missing"].startswith("needs pagerank_botify")
    assert a["weak"]["candidates"]["missing"].startswith("needs impressions")
    assert a["depth"]["compliant_deeper"]["compliant_pages"] == 2
    assert "3xx" not in markdown(a, title="t")


def test_no_meta_no_start_url_takes_the_page_without_inlinks(tmp_path):
    links = write_links(
        tmp_path / "l.csv", [("x", "y"), ("y", "z"), ("w", "x"), ("w", "y"), ("w", "q")]
    )
    a = analyse_export(export_files(links), write=False).analytics
    assert a["depth"]["start"]["urls"] == ["w"]
    assert any("No start URL" in note for note in a["notes"])
    assert a["graph"]["meta"] is None
    assert a["leaks"]["missing"].startswith("needs http_code")
    assert tables(a)  # every table renders without node attributes


def test_zero_search_console_data(tmp_path):
    links = write_links(tmp_path / "z_linkgraph_depth-1.csv", [("h", "a"), ("a", "b")])
    (tmp_path / "z_depth-1_meta.csv").write_text(
        "id,depth,pagetype,impressions,clicks\nh,0,home,0,0\na,1,x,0,0\nb,2,x,0,0\n"
    )
    a = analyse_export(export_files(links), write=False).analytics
    assert a["pagerank"]["by_pagetype"]["search_console"].startswith("no Search Console data")
    assert all(row["clicks_share"] is None for row in a["pagerank"]["by_pagetype"]["rows"])
    assert a["weak"]["candidates"]["missing"].startswith("no Search Console data")


def test_export_of_one_page(tmp_path):
    links = tmp_path / "one_linkgraph_depth-0.csv"
    links.write_text("source,target\n")
    (tmp_path / "one_depth-0_meta.csv").write_text("id,depth,pagetype\nhttps://a/,0,home\n")
    result = analyse_export(export_files(links))
    a = result.analytics
    assert a["graph"]["nodes"] == 1
    assert a["pagerank"]["top"] == [["https://a/", 1.0]]
    assert a["depth"]["click_histogram"][0] == ["0", 1]
    assert result.files.report.is_file()


def test_self_loop_only_export(tmp_path):
    links = write_links(tmp_path / "s.csv", [("a", "a")])
    a = analyse_export(export_files(links), write=False).analytics
    assert a["graph"]["nodes"] == 1 and a["graph"]["edges"] == 0 and a["graph"]["self_loops"] == 1


def test_report_cells_cannot_break_the_markdown_or_the_terminal(tmp_path):
    evil = "https://a/x|y`z\x1b[31m<script>"
    links = tmp_path / "e.csv"
    links.write_text(f'source,target\nhttps://a/,"{evil}"\n')
    a = analyse_export(export_files(links), write=False).analytics
    text = markdown(a, title="t")
    assert "\x1b" not in text and "[31m" not in text  # the whole escape sequence is dropped
    for line in text.splitlines():
        if "<script>" in line:  # only inside a code span, where Markdown shows it as text
            cell = next(c for c in line.split(" | ") if "<script>" in c)
            assert cell.strip(" |").startswith("`") and cell.strip(" |").endswith("`")
    line = next(line for line in text.splitlines() if "x\\|y" in line)
    assert line.replace("\\|", "").count("|") == 4  # the pipe in the URL splits no cell


def test_compare_two_depths_of_one_site(site, tmp_path):
    graph = site[0]
    folder = tmp_path / "c"
    links_1, _ = write_export(graph, folder, 1)
    links_2, _ = write_export(graph, folder, 2)
    a = analyse_export(export_files(links_1))
    b = analyse_export(export_files(links_2))
    result = compare(a, b)
    assert result["pages"]["gained"] == graph.url_count(3) - graph.url_count(2)
    assert result["pages"]["lost"] == 0
    assert result["pagerank_movers"]["down"]  # depth-2 pages share rank with their children
    assert any("different depths" in note for note in result["notes"])
    json.dumps(result)  # JSON-ready


def test_meta_coverage_of_a_depth_cut_export(site):
    _, links, meta = site
    graph = read_links(links)
    table = read_meta(meta, graph)
    assert table.matched / graph.n >= 0.99


def test_very_long_urls_take_the_exact_path(tmp_path):
    long_a = "https://a/" + "x" * 3000
    long_b = "https://a/" + "x" * 2999 + "y"
    graph = read_links(
        write_links(tmp_path / "l.csv", [("https://a/", long_a), ("https://a/", long_b)])
    )
    assert graph.n == 3 and len(graph.source) == 2


def test_file_without_final_newline_and_without_header(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("a,b\nb,c")
    graph = read_links(path)
    assert graph.urls == ["a", "b", "c"] and graph.rows == 2


def test_the_nodes_file_beside_an_analysed_export_is_found_and_served(site, tmp_path):
    from types import SimpleNamespace

    from botifython_tui.core.fileserver import export_files as served_files
    from botifython_tui.core.fileserver import nodes_file_beside

    _, links, meta = site
    copy = tmp_path / links.name
    copy.write_bytes(links.read_bytes())
    (tmp_path / meta.name).write_bytes(meta.read_bytes())
    record = SimpleNamespace(links_path=str(copy), meta_path=str(tmp_path / meta.name))
    assert nodes_file_beside(copy) is None
    assert served_files([record]) == [copy, tmp_path / meta.name]
    files = export_files(copy)
    analyse_export(files)
    assert nodes_file_beside(copy) == files.nodes
    assert served_files([record]) == [copy, tmp_path / meta.name, files.nodes]


def test_empty_links_file_and_garbage_meta(tmp_path):
    from botifython_tui.core.analytics.loading import ExportReadError

    links = tmp_path / "e_linkgraph_depth-1.csv"
    links.write_bytes(b"")
    a = analyse_export(export_files(links), write=False).analytics
    assert a["graph"]["nodes"] == 0 and a["pagerank"]["top"] == []
    assert tables(a)
    links.write_text("source,target\na,b\n")
    (tmp_path / "e_depth-1_meta.csv").write_bytes(b'id,depth\n"a,1\n\x00\xff"\n' * 3)
    try:
        a = analyse_export(export_files(links), write=False).analytics
    except ExportReadError as exc:
        assert "node attributes file" in str(exc)
    else:
        assert a["graph"]["nodes"] == 2


def test_a_failed_write_still_answers_and_says_so(site, tmp_path):
    _, links, _ = site
    copy = tmp_path / links.name
    copy.write_bytes(links.read_bytes())
    files = export_files(copy)
    files.nodes.mkdir()  # renaming onto a folder fails, as a full disk would
    result = analyse_export(files)
    assert any("Could not write the analytics files" in w for w in result.analytics["warnings"])
    assert result.analytics["pagerank"]["top"]
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left behind


def test_the_files_analytics_writes_are_private(site, tmp_path):
    _, links, meta = site
    copy = tmp_path / links.name
    copy.write_bytes(links.read_bytes())
    (tmp_path / meta.name).write_bytes(meta.read_bytes())
    files = export_files(copy)
    analyse_export(files)
    for path in (files.nodes, files.report, files.cache_json, files.cache_npz):
        assert path.stat().st_mode & 0o777 == 0o600, path.name

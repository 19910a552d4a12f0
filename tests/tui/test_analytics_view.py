"""Link graphs screen: the analytics under the summary, copying a table, the Compare view."""

from __future__ import annotations

import threading

from textual.widgets import DataTable

from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.linkgraphs import LinkGraphsScreen
from botifython_tui.tui.widgets.analytics_view import AnalyticsTable, AnalyticsView
from tests.fakes.botify_server import SyntheticGraph
from tests.fakes.export_files import write_export
from tests.tui.helpers import until

pytest_plugins = ["tests.tui.test_botify_support"]

GRAPH = SyntheticGraph(depth_sizes=[1, 5, 30, 150], out_degree=(2, 5), seed=11)


def record_exports(store, settings) -> list[int]:
    ids = []
    for depth in (1, 2):
        links, meta = write_export(
            GRAPH, settings.downloads_dir, depth, base=f"acme-org_example.com_2024110{depth}"
        )
        record = store.exports(1).add(
            org="acme-org",
            project="example.com",
            analysis=f"2024110{depth}",
            depth=depth,
            edges=GRAPH.edge_count(depth),
            urls=GRAPH.url_count(depth + 1),
            links_path=str(links),
            meta_path=str(meta),
            summary={"urls": GRAPH.url_count(depth + 1), "edges": GRAPH.edge_count(depth)},
        )
        ids.append(record.id)
    return ids


def titles(view: AnalyticsView) -> list[str]:
    return [table.table.title for table in view.query(AnalyticsTable)]


async def test_summary_shows_the_analytics_computed_off_the_ui_thread(settings, store, monkeypatch):
    record_exports(store, settings)
    from botifython_tui.core.analytics import files

    threads = []
    real = files.analyse_export

    def spy(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "analyse_export", spy)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, LinkGraphsScreen))
        screen = app.screen
        view = screen.query_one("#summary-analytics", AnalyticsView)
        await until(pilot, lambda: bool(view.tables), timeout=30)
        assert threads == [False]  # computed in a worker thread
        shown = titles(view)
        for title in (
            "Top 20 pages by internal PageRank",
            "Share of PageRank by pagetype, next to Search Console",
            "Pages by click depth (from the start page) and by Botify's depth",
            "Top 20 pages to fix (most leaking links)",
            "Hubs (HITS): top 10",
        ):
            assert title in shown
        # The files beside the CSVs.
        stem = settings.downloads_dir / "acme-org_example.com_20241102_depth-2"
        assert (stem.parent / (stem.name + "_report.md")).is_file()
        # A table takes focus and `c` copies it as text.
        table = next(t for t in view.query(AnalyticsTable) if t.table.key == "pagerank.top")
        table.focus()
        await pilot.pause()
        await pilot.press("c")
        assert app.clipboard.startswith("Top 20 pages by internal PageRank")
        assert "https://example.com/" in app.clipboard
        # Every table fits the 80-column screen.
        assert all(t.region.right <= 80 for t in view.query(AnalyticsTable))


async def test_compare_view_picks_two_exports(settings, store):
    record_exports(store, settings)
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, LinkGraphsScreen))
        screen = app.screen
        assert screen.query_one(DataTable).has_focus
        await pilot.press("down", "k")  # A: the older export (depth 1)
        assert any("Compare from export" in n.message for n in app._notifications)
        await pilot.press("up", "k")  # B: the newer one (depth 2)
        view = screen.query_one("#compare-view", AnalyticsView)
        await until(pilot, lambda: bool(view.tables), timeout=30)
        assert view.display and not screen.query_one("#linkgraph-summary").display
        assert "Pages gained and lost (A → B)" in titles(view)
        pages = next(t for t in view.tables if t.key == "compare.pages")
        gained = GRAPH.url_count(3) - GRAPH.url_count(2)
        assert ["pages lost / gained", "0", f"{gained:,}"] in pages.rows
        # A database change elsewhere does not take the comparison away; s goes back.
        screen.refresh_data()
        await pilot.pause()
        assert view.display
        await pilot.press("s")
        await pilot.pause()
        assert not view.display and screen.query_one("#linkgraph-summary").display


async def test_botify_summary_tab_shows_the_analytics(connected, store, fake):
    from textual.widgets import TabbedContent

    from botifython_tui.core.selection import Selection, save_selection
    from tests.tui.test_botify_snapshots import loaded

    record_exports(store, connected)
    save_selection(store, 1, Selection("acme-org", "example.com", "20241102"))  # depth 2
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await loaded(pilot, projects=1, analyses=3)
        await until(pilot, lambda: app.focused is not None)  # the screen has settled
        tabs = app.screen.query_one(TabbedContent)
        await pilot.press("4")
        await until(pilot, lambda: tabs.active == "tab-summary", timeout=20)
        view = app.screen.query_one("#summary-analytics", AnalyticsView)
        await until(pilot, lambda: bool(view.tables), timeout=30)
        assert "Top 20 pages by internal PageRank" in titles(view)

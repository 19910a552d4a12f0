"""Snapshots of the Botify and Link graphs screens at 80x24 (regenerate with --snapshot-update)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, TabbedContent

from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.tui.app import make_app
from tests.tui.test_botify_support import until
from tests.tui.test_linkgraphs import add_export

pytest_plugins = ["tests.tui.test_botify_support"]

SIZE = (80, 24)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run from the folder holding data/ and downloads/, as people do: paths show short."""
    monkeypatch.chdir(tmp_path)


async def freeze(pilot) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def analytics_shown(pilot) -> None:
    """The analytics below the summary come from a worker thread: wait for them to settle."""
    view = pilot.app.screen.query_one("#summary-analytics")
    await until(pilot, lambda: view.shown_key is not None and not view.busy, timeout=30)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def loaded(pilot, projects: int, analyses: int) -> None:
    screen = pilot.app.screen
    tables = (
        screen.query_one("#projects-table", DataTable),
        screen.query_one("#analyses-table", DataTable),
    )
    await until(
        pilot,
        lambda: (
            (tables[0].row_count, tables[1].row_count) == (projects, analyses)
            and not any(table.loading for table in tables)
        ),
    )


def test_botify_before_connecting(snap_compare, botify_settings, store):
    app = make_app(botify_settings, store)

    async def run_before(pilot):
        await pilot.press("f4")
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_botify_connected_with_a_project_chosen(snap_compare, connected, store, fake):
    fake.add_project("acme-org", "shop.example.com", name="Acme Shop", analyses=["20240301"])
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108-2"))
    add_export(store, connected, "20241108")  # marked as already exported
    app = make_app(connected, store)

    async def run_before(pilot):
        await pilot.press("f4")
        await loaded(pilot, projects=2, analyses=3)
        await pilot.press("2")
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_botify_export_summary(snap_compare, connected, store, fake):
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    add_export(store, connected, "20241108")
    app = make_app(connected, store)

    async def run_before(pilot):
        await pilot.press("f4")
        await loaded(pilot, projects=1, analyses=3)
        tabs = pilot.app.screen.query_one(TabbedContent)
        await until(pilot, lambda: pilot.app.focused is not None)  # the screen has settled
        await pilot.press("4")
        await until(pilot, lambda: tabs.active == "tab-summary")
        await analytics_shown(pilot)
        # Whether the tab strip or the summary holds the focus depends on when the analytics
        # worker ends; this picture is of the content, so nothing is focused.
        pilot.app.screen.set_focus(None)
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_link_graphs_list(snap_compare, settings, store, here):
    add_export(store, settings, "20241001")
    add_export(store, settings, "20241108-2", files=False)
    with store.write() as db:  # a fixed date, so the snapshot does not depend on today
        db.execute("UPDATE exports SET created_at = '2024-11-09T10:00:00+00:00'")
    app = make_app(settings, store)

    async def run_before(pilot):
        await pilot.press("f5")
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

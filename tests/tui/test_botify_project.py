"""Botify screen, Project tab: URLs, the projects list, analyses newest first, per-profile choice."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, TabbedContent

from botifython_tui.core.selection import Selection, load_selection, save_selection
from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
from tests.tui.helpers import table_rows
from tests.tui.test_botify_support import (
    ANALYSES,
    message,
    open_botify,
    status,
    submit,
    titles,
    until,
)

pytest_plugins = ["tests.tui.test_botify_support"]


def analyses(app) -> list[list[str]]:
    return table_rows(app.screen.query_one("#analyses-table", DataTable))


@pytest.mark.parametrize(
    ("url", "chosen"),
    [
        ("https://app.botify.com/acme-org/example.com/", "20241108-2"),
        ("https://app.botify.com/acme-org/example.com", "20241108-2"),
        ("https://app.botify.com/acme-org/example.com/20241108/segmentation/?ctx=1#x", "20241108"),
        ("https://app.botify.com/acme-org/example.com?page=2", "20241108-2"),
        ("  acme-org/example.com  ", "20241108-2"),
    ],
)
async def test_pasted_url_lists_analyses_newest_first_across_pages(
    connected, store, fake, url, chosen
):
    fake.max_page_size = 2  # the analyses come in two pages
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: "Connected as" in status(app))
        await submit(pilot, "url-input", url)
        await until(pilot, lambda: len(analyses(app)) == 3)
        assert [row[0] for row in analyses(app)] == ANALYSES  # newest first
        assert len(fake.find_requests("/v1/analyses/acme-org/example.com/light")) == 2
        assert load_selection(store, 1) == Selection("acme-org", "example.com", chosen)
        assert status(app).endswith(f"acme-org/example.com · {chosen}")
        assert app.screen.query_one("#url-input", Input).value == ""


async def test_invalid_url_and_unknown_project_keep_the_previous_choice(connected, store, fake):
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: len(analyses(app)) == 3)

        await submit(pilot, "url-input", "https://example.org/acme-org/example.com/")
        await pilot.pause()
        assert "Not a project URL" in titles(app)
        assert "not a Botify address" in message(app, "Not a project URL")
        assert "Still using acme-org/example.com" in message(app, "Not a project URL")
        assert app.screen.query_one("#url-input", Input).value  # left there to fix

        await submit(pilot, "url-input", "acme-org/no-such-project")
        await until(pilot, lambda: "Not found on Botify" in titles(app))
        assert "HTTP 404" in message(app, "Not found on Botify")
        assert "Still using acme-org/example.com" in message(app, "Not found on Botify")

        assert load_selection(store, 1) == Selection("acme-org", "example.com", "20241108")
        assert status(app).endswith("acme-org/example.com · 20241108")
        assert [row[0] for row in analyses(app)] == ANALYSES


async def test_pick_a_project_then_an_analysis_from_the_lists(connected, store, fake):
    fake.max_page_size = 2
    for slug in ("shop.example.com", "blog.example.com"):
        fake.add_project("acme-org", slug, analyses=["20240301", "20240415"])
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        projects = screen.query_one("#projects-table", DataTable)
        await until(pilot, lambda: projects.row_count == 3)  # every page
        assert projects.has_focus
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: len(analyses(app)) == 2)
        picked = table_rows(projects)[2][0].split()[0]
        assert [row[0] for row in analyses(app)] == ["20240415", "20240301"]
        assert load_selection(store, 1) == Selection("acme-org", picked.split("/")[1], "20240415")

        assert screen.query_one("#analyses-table").has_focus
        await pilot.press("down", "enter")
        assert load_selection(store, 1).analysis == "20240301"
        assert screen.query_one(TabbedContent).active == "tab-export"
        assert status(app).endswith(f"{picked} · 20240301")


async def test_choice_is_per_profile_and_survives_a_restart(connected, store, fake):
    fake.add_project("acme-org", "shop.example.com", analyses=["20240301"])
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    other = store.profiles.create("Client B")
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: len(analyses(app)) == 3)
        assert status(app).endswith("acme-org/example.com · 20241108")

        app.switch_profile(other.id)
        await pilot.pause()
        assert "no project chosen" in status(app)
        assert analyses(app) == []
        await submit(pilot, "url-input", "acme-org/shop.example.com")
        await until(pilot, lambda: status(app).endswith("acme-org/shop.example.com · 20240301"))

        app.switch_profile(1)
        await until(pilot, lambda: len(analyses(app)) == 3)
        assert status(app).endswith("acme-org/example.com · 20241108")
    assert load_selection(store, other.id) == Selection("acme-org", "shop.example.com", "20240301")

    again = make_app(connected, store)  # a restart: the choice is remembered
    async with again.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        assert status(again).endswith("acme-org/example.com · 20241108")
        assert screen.query_one(TabbedContent).active == "tab-export"
        await until(pilot, lambda: len(analyses(again)) == 3)


async def test_exported_analyses_are_marked(connected, store, fake):
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108-2"))
    other = store.profiles.create("Client B")
    store.exports(other.id).add(  # exported by another profile: it still cost credits
        org="acme-org",
        project="example.com",
        analysis="20241108",
        depth=3,
        edges=10,
        urls=5,
        links_path="/nowhere/links.csv",
        meta_path=None,
        summary={},
    )
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: len(analyses(app)) == 3)
        notes = {row[0]: row[2] for row in analyses(app)}
        assert "exported" in notes["20241108"]
        assert "exported" not in notes["20241108-2"] and "exported" not in notes["20241001"]


async def test_unfinished_analyses_are_not_offered(connected, store, fake):
    fake.add_project(
        "acme-org",
        "new.example.com",
        analyses=[{"slug": "20241201", "status": "crawling"}, "20241101"],
    )
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: "Connected as" in status(app))
        await submit(pilot, "url-input", "acme-org/new.example.com")
        await until(pilot, lambda: len(analyses(app)) == 1)
        assert analyses(app)[0][0] == "20241101"  # Botify lists finished analyses only
        assert load_selection(store, 1).analysis == "20241101"


async def test_a_background_refresh_keeps_the_cursor_where_it_was(connected, store, fake):
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108-2"))
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        await until(pilot, lambda: len(analyses(app)) == 3)
        await pilot.press("2")
        await pilot.pause()
        table = screen.query_one("#analyses-table", DataTable)
        assert table.has_focus and table.cursor_row == 0
        await pilot.press("down", "down")
        other = Store(connected.db_path)  # another Botifython in another tmux pane
        other.todos(1).add("Written elsewhere")
        other.close()
        app.check_store_changes()
        await pilot.pause()
        assert table.cursor_row == 2
        assert load_selection(store, 1).analysis == "20241108-2"

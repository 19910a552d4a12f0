"""Pilot tests of the Todos screen: every flow by keyboard, persistence, hostile text."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt
from tests.tui.helpers import notifications, table_rows

HOSTILE = "Fix [bold]title[/] [link=http://x]x[/link] \x1b[31mred\x1b[0m ["


async def add_todo(pilot, title: str) -> None:
    await pilot.press("n")
    pilot.app.screen.query_one("#new-todo", Input).value = title
    await pilot.press("enter")
    await pilot.pause()


def titles(app) -> list[str]:
    return [row[1] for row in table_rows(app.screen.query_one(DataTable))]


async def test_add_toggle_edit_delete_and_counts(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await add_todo(pilot, "Crawl the site")
        await add_todo(pilot, "Export the link graph")
        assert titles(app) == ["Crawl the site", "Export the link graph"]
        counts = app.screen.query_one("#todo-counts", Static)
        assert str(counts.render()) == "2 open · 0 done"

        await pilot.press("escape")  # back to the list, the new todo is selected
        assert isinstance(app.focused, DataTable)
        await pilot.press("space")
        todos = store.todos(app.profile.id).list()
        assert [t.done for t in todos] == [False, True]
        assert str(counts.render()) == "1 open · 1 done"

        await pilot.press("e")
        assert isinstance(app.screen, TextPrompt)
        app.screen.query_one(Input).value = "Export the link graph (depth 3)"
        await pilot.press("enter")
        await pilot.pause()
        assert titles(app)[1] == "Export the link graph (depth 3)"

        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")  # declining keeps it
        assert len(titles(app)) == 2
        await pilot.press("d", "y")
        await pilot.pause()
        assert titles(app) == ["Crawl the site"]
        assert [t.title for t in store.todos(app.profile.id).list()] == ["Crawl the site"]


async def test_reorder_with_keys(settings, store):
    todos = store.todos(1)
    for title in ("one", "two", "three"):
        todos.add(title)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "down", "down")  # to the list; select "three"
        await pilot.press("K")
        assert titles(app) == ["one", "three", "two"]
        await pilot.press("shift+up")
        assert titles(app) == ["three", "one", "two"]
        await pilot.press("shift+up")  # already at the top: nothing moves
        assert titles(app) == ["three", "one", "two"]
        await pilot.press("J")
        assert titles(app) == ["one", "three", "two"]
    assert [t.title for t in store.todos(1).list()] == ["one", "three", "two"]


async def test_blank_title_is_refused_and_input_kept(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await add_todo(pilot, "   ")
        assert titles(app) == []
        assert any("blank" in message for message in notifications(app))
        huge = "x" * 5000
        await add_todo(pilot, huge)
        assert titles(app) == []
        assert app.screen.query_one("#new-todo", Input).value == huge  # nothing lost
        assert any("at most" in message for message in notifications(app))


async def test_markup_and_escapes_shown_literally(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await add_todo(pilot, HOSTILE)
        shown = titles(app)[0]
        assert "[bold]title[/]" in shown and "[link=http://x]" in shown
        assert "\x1b" not in shown and "␛[31mred" in shown
        assert store.todos(app.profile.id).list()[0].title == HOSTILE.strip()


async def test_todos_persist_across_restart(settings):
    store = Store(settings.db_path)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await add_todo(pilot, "Survives a restart")
        await pilot.press("escape", "space")
    store.close()

    store = Store(settings.db_path)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)):
        rows = table_rows(app.screen.query_one(DataTable))
        assert rows == [["[x]", "Survives a restart"]]
    store.close()


async def test_sees_writes_from_another_instance(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        other = Store(settings.db_path)  # a second instance, as in another tmux pane
        other.todos(1).add("Written by the other pane")
        other.close()
        app.check_store_changes()
        await pilot.pause()
        assert titles(app) == ["Written by the other pane"]

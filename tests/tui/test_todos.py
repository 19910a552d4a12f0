"""Pilot tests of the Todos screen: every flow by keyboard, persistence, hostile text."""

from __future__ import annotations

import time

from textual.widgets import Button, DataTable, Input, Static

from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt
from tests.tui.helpers import burst, notifications, table_rows

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
        assert "\x1b" not in shown and " red [" in shown and "31m" not in shown
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


async def test_typing_on_arrival_goes_into_the_input(settings, store):
    todos = store.todos(1)
    todos.add("Audit the robots.txt")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.focused, Input)  # the prompt says "type"
        await pilot.press(*"today", "enter")  # d, a and y are letters here, not commands
        assert [t.title for t in todos.list()] == ["Audit the robots.txt", "today"]
        assert not isinstance(app.screen, Confirm)
        await pilot.press("enter")  # Enter twice: the empty input adds nothing
        assert len(todos.list()) == 2
        assert not any("blank" in m for m in notifications(app))  # and is no error either
        # Back on Todos from another app: the input has the focus again.
        await pilot.press("escape", "f3", "f2")
        assert isinstance(app.focused, Input)


async def test_one_key_commands_act_only_on_the_list_and_the_footer_says_so(settings, store):
    store.todos(1).add("Keep me")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "focus_list" in keys and not {"toggle", "delete", "edit", "new"} & keys
        await pilot.press("shift+down", "delete")  # keys the input does not take as text
        assert [(t.title, t.done) for t in store.todos(1).list()] == [("Keep me", False)]
        await pilot.press("escape")
        assert isinstance(app.focused, DataTable)
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert {"toggle", "delete", "edit", "new"} <= keys and "focus_list" not in keys


async def test_type_ahead_after_n_and_e_lands_in_the_input_in_order(settings, store):
    store.todos(1).add("First")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        await burst(pilot, *"nbuy milk", "enter")  # one burst: n, then the title, then Enter
        todos = store.todos(1).list()
        assert [(t.title, t.done) for t in todos] == [("First", False), ("buy milk", False)]
        # The edit prompt opens with the title selected: what is typed replaces it.
        await burst(pilot, "escape", "up", *"eFirst, checked", "enter")
        assert [t.title for t in store.todos(1).list()] == ["First, checked", "buy milk"]
        assert not isinstance(app.screen, TextPrompt)


async def test_a_y_typed_with_the_d_deletes_nothing(settings, store):
    store.todos(1).add("Audit the robots.txt")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        await burst(pilot, "d", "y")  # the y arrived before the question was drawn
        assert isinstance(app.screen, Confirm)
        assert [t.title for t in store.todos(1).list()] == ["Audit the robots.txt"]
        assert isinstance(app.focused, Button) and app.focused.id == "no"
        await pilot.press("enter")  # Enter alone is No
        assert not isinstance(app.screen, Confirm)
        assert len(store.todos(1).list()) == 1


async def test_keys_in_the_same_run_of_typing_never_answer(settings, store, monkeypatch):
    monkeypatch.setattr(Confirm, "answer_delay", 0.3)
    store.todos(1).add("Audit the robots.txt")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "d")
        dialog = app.screen
        assert isinstance(dialog, Confirm)
        dialog.shown_at = time.monotonic()  # as if it had just appeared, however slow the machine
        await pilot.press("y")  # right after the question appeared: not deliberate
        assert app.screen is dialog and len(store.todos(1).list()) == 1
        assert "ignored" in str(dialog.query_one("#confirm-hint").render())
        await pilot.pause(0.4)
        await pilot.press("y")  # after a pause: a deliberate answer
        await pilot.pause()
        assert store.todos(1).list() == []


async def test_a_deleted_todo_is_undone_with_u_for_the_rest_of_the_session(settings, store):
    todos = store.todos(1)
    for title in ("one", "two", "three"):
        todos.add(title)
    before = todos.list()
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "down", "d", "y")  # delete "two"
        await pilot.pause()
        assert [t.title for t in todos.list()] == ["one", "three"]
        assert any("Press u to undo" in m for m in notifications(app))
        await pilot.press("down", "d", "y")  # and "three"
        await pilot.pause()
        await pilot.press("f3", "f2", "escape")  # later, after visiting another app
        await pilot.press("u")
        assert [t.title for t in todos.list()] == ["one", "three"]
        await pilot.press("u")
        assert todos.list() == before  # same ids, same order
        assert titles(app) == ["one", "two", "three"]
        await pilot.press("u")  # nothing left to undo: nothing happens
        assert todos.list() == before

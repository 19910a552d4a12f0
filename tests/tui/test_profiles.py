"""Pilot tests of the Profiles screen and of profile switching across apps."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt
from botifython_tui.tui.screens.profiles import ProfilesScreen
from botifython_tui.tui.screens.todos import TodosScreen
from tests.tui.helpers import notifications, table_rows


def profile_names(app) -> list[str]:
    return [row[1] for row in table_rows(app.screen.query_one(DataTable))]


async def type_into_prompt(pilot, text: str) -> None:
    assert isinstance(pilot.app.screen, TextPrompt)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_add_rename_switch_and_delete(settings, store):
    store.todos(1).add("Default's todo")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        assert isinstance(app.screen, ProfilesScreen)
        assert profile_names(app) == ["Default"]

        await pilot.press("a")
        await type_into_prompt(pilot, "Client A")
        assert profile_names(app) == ["Default", "Client A"]

        await pilot.press("r")
        await type_into_prompt(pilot, "Client B")
        assert profile_names(app) == ["Default", "Client B"]

        await pilot.press("enter")  # switch to the selected profile
        await pilot.pause()
        assert app.profile.name == "Client B"
        assert "Client B" in app.sub_title
        assert store.kv["current_profile_id"] == app.profile.id

        await pilot.press("f2")  # the todo list switched with the profile
        assert isinstance(app.screen, TodosScreen)
        assert table_rows(app.screen.query_one(DataTable)) == []

        await pilot.press("f3", "up", "enter")
        await pilot.pause()
        await pilot.press("f2")
        assert [row[1] for row in table_rows(app.screen.query_one(DataTable))] == ["Default's todo"]

        await pilot.press("f3", "up", "d")
        assert isinstance(app.screen, Confirm)
        assert "1 todos" in app.screen.question
        await pilot.press("escape")
        assert profile_names(app) == ["Default", "Client B"]
        await pilot.press("d", "y")
        await pilot.pause()
        assert profile_names(app) == ["Client B"]
        assert app.profile.name == "Client B"  # the current profile moved off the deleted one
        assert store.todos(1).list() == []  # its todos went with it


async def test_duplicate_blank_and_last_profile_refused(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3", "a")
        await type_into_prompt(pilot, "default")
        await pilot.press("a")
        await type_into_prompt(pilot, "   ")
        await pilot.press("d", "y")
        await pilot.pause()
        messages = notifications(app)
        assert any("already exists" in m for m in messages)
        assert any("blank" in m for m in messages)
        assert any("last profile" in m for m in messages)
        assert profile_names(app) == ["Default"]


async def test_hostile_profile_name_shown_literally(settings, store):
    name = "[b]Acme[/b] \x1b]0;pwned\x07 [/]"
    store.profiles.use(store.profiles.create(name).id)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        shown = profile_names(app)[1]
        assert shown.startswith("[b]Acme[/b]") and "\x1b" not in shown and "\x07" not in shown
        assert "[b]Acme[/b]" in app.sub_title


async def test_profile_switch_updates_open_todo_list_at_once(settings, store):
    other = store.profiles.create("Other")
    store.todos(other.id).add("Other's task")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        assert table_rows(app.screen.query_one(DataTable)) == []
        app.switch_profile(other.id)
        await pilot.pause()
        assert [r[1] for r in table_rows(app.screen.query_one(DataTable))] == ["Other's task"]

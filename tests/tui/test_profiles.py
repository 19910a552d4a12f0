"""Pilot tests of the Profiles screen and of profile switching across apps."""

from __future__ import annotations

import time

from textual.widgets import DataTable, Input

from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt
from botifython_tui.tui.screens.profiles import ProfilesScreen
from botifython_tui.tui.screens.todos import TodosScreen
from tests.tui.helpers import burst, notifications, table_rows


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


def everything(store) -> list:
    profiles = store.profiles.list()
    return [(p, store.todos(p.id).list()) for p in profiles]


async def test_a_word_typed_on_arrival_deletes_no_profile(settings, store, monkeypatch):
    monkeypatch.setattr(Confirm, "answer_delay", 0.5)  # as in the app: Pilot types fast
    client = store.profiles.create("Client B")
    store.todos(client.id).add("Client B's todo")
    before = everything(store)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        for word in ("today", "delete", "yes"):
            await burst(pilot, "f3", *word, "enter")  # F3 and the word in one burst
            assert everything(store) == before, word
            if isinstance(app.screen, Confirm):
                await pilot.press("escape")  # often too quick to count: the question stays,
            await burst(pilot, "f2", "escape")  # and greets the next word after F3 anew
        for word in ("today", "delete"):  # and typed one key at a time
            await pilot.press("f3", *word, "enter")
            assert everything(store) == before, word
            if isinstance(app.screen, Confirm):
                await pilot.press("escape")
    assert everything(store) == before


async def test_type_ahead_into_the_add_and_rename_prompts(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await burst(pilot, *"aClient C", "enter")
        assert [p.name for p in store.profiles.list()] == ["Default", "Client C"]
        await burst(pilot, *"rClient D", "enter")  # the new profile is selected
        assert [p.name for p in store.profiles.list()] == ["Default", "Client D"]
        assert not isinstance(app.screen, TextPrompt)
        # Esc closes a prompt; the keys after it wait for that, then open the next one.
        started = time.monotonic()
        await burst(pilot, *"aNot this", "escape", *"aClient E", "enter")
        assert [p.name for p in store.profiles.list()] == ["Default", "Client D", "Client E"]
        assert time.monotonic() - started < 3


async def test_a_deleted_profile_is_undone_with_u_with_its_todos(settings, store):
    client = store.profiles.create("Client B")
    for title in ("first", "second"):
        store.todos(client.id).add(title)
    store.profiles.use(client.id)
    before = everything(store)
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3", "d", "y")  # the current profile, Client B
        await pilot.pause()
        assert [p.name for p in store.profiles.list()] == ["Default"]
        assert app.profile.name == "Default"
        assert any("Press u to undo" in m for m in notifications(app))
        await pilot.press("f2", "f3", "u")  # later, after visiting another app
        await pilot.pause()
        assert everything(store) == before
        assert app.profile.id == client.id  # it was the current one: it is again
        assert profile_names(app) == ["Default", "Client B"]
        await pilot.press("f2")
        assert [row[1] for row in table_rows(app.screen.query_one(DataTable))] == [
            "first",
            "second",
        ]

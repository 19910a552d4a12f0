"""F1 / ? help generated from the bindings, a palette without the text-editor flood, and the
Ctrl+G host dialog that shows an environment override."""

from __future__ import annotations

import dataclasses

from textual.widgets import Input, Label, Static

from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.help import HelpScreen, global_keys, screen_keys
from botifython_tui.tui.screens.todos import TodosScreen
from tests.tui.helpers import until

SIZE = (80, 24)


def _text(screen: HelpScreen) -> str:
    """What the help screen shows, as plain text (its two tables hold one row per key)."""
    for widget_id, rows in (("#help-local", screen.local), ("#help-global", screen.shared)):
        table = screen.query_one(widget_id, Static).content
        assert table.row_count == len(rows)
    return "\n".join(f"{row.keys}  {row.description}" for row in screen.local + screen.shared)


async def test_f1_lists_the_screens_keys_and_the_global_ones(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TodosScreen))
        expected_local = {
            b.description for b in TodosScreen.BINDINGS if b.description
        }  # from the bindings themselves
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = _text(app.screen)
        for description in expected_local:
            assert description in text, description
        assert any(row.description == "Move up" and "K" in row.keys for row in app.screen.local)
        for spec in app.apps:
            assert spec.name in text  # F2 Todos, F3 Profiles …
        assert "Quit" in text and "Chat pane" in text and "Help" in text
        assert "Cursor" not in text  # no Textual list/editor bindings
        await pilot.press("f1")  # F1 again closes
        await until(pilot, lambda: isinstance(app.screen, TodosScreen))
        await pilot.press("question_mark")  # typed into the focused "New todo" field
        await pilot.pause()
        assert isinstance(app.screen, TodosScreen)
        await pilot.press("escape", "question_mark")  # on the list, ? is help
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TodosScreen))


async def test_help_follows_the_screen_and_its_hidden_keys(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        rows = {row.description: row.keys for row in screen_keys(app.screen)}
        assert "Ollama host" in rows and rows["Ollama host"] == "^g"  # show=False, documented
        assert "Copy reply" in rows  # a key of the chat pane inside the screen
        assert not any("cursor" in d.lower() for d in rows)  # not TextArea's dozens
        assert {"Todos", "Profiles", "Chat"} <= {row.description for row in global_keys(app)}


async def test_question_mark_types_into_a_text_box(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        box = app.screen.query_one("ChatInput")
        box.focus()
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert box.text == "?"
        await pilot.press("f1")  # F1 works even inside the text box
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_palette_lists_own_commands_first_and_finds_help(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        app.screen.query_one("ChatInput").focus()
        await pilot.pause()
        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        assert titles[0].startswith("Help")
        assert titles[1 : 1 + len(app.apps)] == [f"Open {spec.name}" for spec in app.apps]
        assert len(titles) < 30, titles  # no text-editor flood
        assert not any("cursor" in t.lower() or "select" in t.lower() for t in titles), titles
        assert any("Copy reply" in t for t in titles)
        help_command = next(c for c in commands if "help" in c.title.lower())
        help_command.callback()
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_host_dialog_shows_the_host_in_use_and_the_override(settings, store):
    store.kv["chat.ollama_host"] = "stored-host:1234"
    env_settings = dataclasses.replace(settings, env={"OLLAMA_HOST": "env-host:5678"})
    app = make_app(env_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press("ctrl+g")
        await until(pilot, lambda: app.screen.query("#dialog-input"))
        field = app.screen.query_one("#dialog-input", Input)
        assert field.value == "env-host:5678"  # the host in use, not the stored one
        title = str(app.screen.query_one("#dialog-title", Label).render())
        assert "Overridden by OLLAMA_HOST" in title and "stored-host:1234" in title
        field.value = "new-host:9"
        await pilot.press("enter")
        await pilot.pause()
        assert store.kv["chat.ollama_host"] == "new-host:9"  # stored for when the override goes
        assert app.chat.host == "http://env-host:5678"  # the override still wins


async def test_host_dialog_without_override_is_prefilled_with_the_stored_host(settings, store):
    store.kv["chat.ollama_host"] = "stored-host:1234"
    app = make_app(dataclasses.replace(settings, env={}), store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press("ctrl+g")
        await until(pilot, lambda: app.screen.query("#dialog-input"))
        assert app.screen.query_one("#dialog-input", Input).value == "stored-host:1234"
        title = str(app.screen.query_one("#dialog-title", Label).render())
        assert "Overridden" not in title
        app.screen.query_one("#dialog-input", Input).value = "ftp://bad"
        await pilot.press("enter")
        await pilot.pause()
        assert store.kv["chat.ollama_host"] == "stored-host:1234"  # refused, kept


def test_help_screen_at_80x24(snap_compare, settings, store):
    app = make_app(settings, store)

    async def open_help(pilot):
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)


async def test_model_choice_under_an_environment_override(settings, store):
    store.kv["chat.model"] = "stored-model"
    env_settings = dataclasses.replace(settings, env={"BOTIFYTHON_MODEL": "env-model"})
    app = make_app(env_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        assert "env-model" in app.chat.title_line()  # the environment wins over the store
        assert app.chat.set_model("picked-model") == "BOTIFYTHON_MODEL"
        assert store.kv["chat.model"] == "picked-model"
    plain = make_app(dataclasses.replace(settings, env={}), store)
    async with plain.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        assert "picked-model" in plain.chat.title_line()
        assert plain.chat.set_model("other") is None


async def test_an_earlier_data_folder_is_reported_when_the_app_starts(settings, store):
    app = make_app(settings, store)
    app.startup_notes.append("Found data from an earlier version in /x/data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("earlier version" in n.message for n in app._notifications)


async def test_narration_toggle_under_an_environment_override(settings, store):
    env_settings = dataclasses.replace(settings, env={"BOTIFYTHON_NARRATION": "off"})
    app = make_app(env_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.chat.scheduler.level.value == "off"  # the environment's "off"
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert store.kv["chat.narration"] == "milestones"
        assert any("BOTIFYTHON_NARRATION overrides" in n.message for n in app._notifications)

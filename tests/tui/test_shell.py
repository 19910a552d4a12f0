"""The shell: app registry, key bindings, command palette, plugins, errors as notifications."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Input, Static

from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.tui.app import QuitConfirm, make_app
from botifython_tui.tui.registry import AppSpec, builtin_apps, plugin_apps
from botifython_tui.tui.screens.dialogs import TextPrompt
from botifython_tui.tui.screens.profiles import ProfilesScreen
from botifython_tui.tui.screens.todos import TodosScreen
from botifython_tui.tui.widgets.chat_input import ChatInput
from tests.tui.helpers import burst, until

pytest_plugins = ["tests.tui.test_botify_support"]


class HelloScreen(Screen):
    def compose(self):
        yield Static("hello from a plugin", id="hello")


@dataclass
class FakeEntryPoint:
    name: str
    target: object

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_plugin_apps_load_specs_and_factories_and_report_broken_ones():
    spec = AppSpec("hello", "Hello", "f9", HelloScreen)
    specs, problems = plugin_apps(
        [
            FakeEntryPoint("direct", spec),
            FakeEntryPoint("factory", lambda: spec),
            FakeEntryPoint("broken", ImportError("no module named nope")),
            FakeEntryPoint("wrong", lambda: 42),
        ]
    )
    assert specs == [spec, spec]
    assert len(problems) == 2
    assert "broken" in problems[0] and "nope" in problems[0]
    assert "wrong" in problems[1] and "AppSpec" in problems[1]


async def test_registered_app_gets_its_key_and_palette_command(settings, store):
    apps = [*builtin_apps(), AppSpec("hello", "Hello", "f9", HelloScreen, "Says hello")]
    assert "f9" not in {spec.key for spec in builtin_apps()}
    app = make_app(settings, store, apps=apps)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f9")
        assert isinstance(app.screen, HelloScreen)
        await pilot.press("f2")
        assert isinstance(app.screen, TodosScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Open Hello" in titles and "Open Profiles" in titles


async def test_clashing_plugin_is_refused_with_a_notification(settings, store):
    apps = [*builtin_apps(), AppSpec("evil", "Evil", "f2", HelloScreen)]
    app = make_app(settings, store, apps=apps)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert [spec.id for spec in app.apps] == [spec.id for spec in builtin_apps()]
        assert any("Evil" in n.message for n in app._notifications)


async def test_every_screen_action_is_in_the_command_palette(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, screen_type in (("f2", TodosScreen), ("f3", ProfilesScreen)):
            await pilot.press(key)
            assert isinstance(app.screen, screen_type)
            titles = {c.title for c in app.get_system_commands(app.screen)}
            for binding in screen_type.BINDINGS:
                assert any(title.endswith(binding.description) for title in titles), binding


async def test_palette_runs_a_screen_action(settings, store):
    store.todos(1).add("From the palette")
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Done")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert store.todos(1).list()[0].done


async def test_unexpected_error_becomes_a_notification_and_is_logged(settings, store, monkeypatch):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        store.todos(1).add("x")
        app.screen.refresh_data()

        def explode(self, todo_id):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(type(store.todos(1)), "toggle", explode)
        await pilot.press("escape", "space")  # to the list, then the one-key command
        await pilot.pause()
        assert app.is_running  # no crash, no traceback on screen
        assert any("disk on fire" in n.message for n in app._notifications)
    assert "disk on fire" in settings.log_path.read_text()
    assert "Traceback" in settings.log_path.read_text()


async def test_keys_typed_after_a_key_that_opens_an_input_land_in_it_on_every_screen(
    settings, store
):
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        # Botify: u (after Esc leaves the token field) opens the project URL field.
        await burst(pilot, "f4", "escape", "u", *"acme-org/example.com")
        assert app.focused.id == "url-input" and app.focused.value == "acme-org/example.com"
        await burst(pilot, "escape", "b", *"5000")  # b: the edge budget (digits only)
        assert app.focused.id == "budget-input" and app.focused.value.endswith("5000")
        # Chat: Ctrl+F opens the search of past chats.
        await burst(pilot, "f6", "ctrl+f", *"crawl")
        assert app.focused.id == "chat-search" and app.focused.value == "crawl"
        # Documents: / opens the search prompt.
        await burst(pilot, "f8", "slash", *"crawl budget")
        assert isinstance(app.screen, TextPrompt)
        assert app.screen.query_one(Input).value == "crawl budget"
        await burst(pilot, "escape")
        # Anywhere: Ctrl+P opens the palette, Ctrl+T the chat pane.
        await burst(pilot, "f2", "ctrl+p", *"Done")
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one(Input).value == "Done"
        await burst(pilot, "escape", "ctrl+t", *"hello")
        assert isinstance(app.focused, ChatInput) and app.focused.text == "hello"


async def test_quit_is_immediate_when_nothing_runs(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code == 0
        assert not isinstance(app.screen, QuitConfirm)


async def test_quit_asks_while_an_export_runs(connected, store, fake, quick_polls):
    fake.polls_before_done = 10_000  # the job stays in progress
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    app = make_app(connected, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await until(
            pilot, lambda: "Connected" in str(app.screen.query_one("#botify-status").render())
        )
        await pilot.press("s", "y")
        await until(pilot, lambda: app.exports.state is not None and len(fake.jobs) == 1)
        await burst(pilot, "ctrl+q", "y")  # a y typed with Ctrl+Q does not answer
        assert isinstance(app.screen, QuitConfirm)
        assert "export" in app.screen.question and app.return_code is None
        await pilot.press("enter")  # No is the default
        assert app.return_code is None and app.exports.state is not None
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
        assert app.return_code == 0


async def test_quit_asks_while_documents_are_added(settings, store):
    app = make_app(settings, store)
    release = threading.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f8")
        # The Documents screen's ingest worker, held open as a long folder would keep it.
        app.screen.run_worker(release.wait, name="ingest", group="docs", thread=True)
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitConfirm)
        assert "documents" in app.screen.question
        await pilot.press("n")
        assert app.return_code is None
        release.set()
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+q")  # the ingest finished: quits at once
        await pilot.pause()
        assert app.return_code == 0

"""The shell: app registry, key bindings, command palette, plugins, errors as notifications."""

from __future__ import annotations

from dataclasses import dataclass

from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Static

from botifython_tui.tui.app import make_app
from botifython_tui.tui.registry import AppSpec, builtin_apps, plugin_apps
from botifython_tui.tui.screens.profiles import ProfilesScreen
from botifython_tui.tui.screens.todos import TodosScreen


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

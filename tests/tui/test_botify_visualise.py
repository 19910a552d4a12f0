"""Botify screen: the last export's summary and its Cosmograph link; every action in the palette."""

from __future__ import annotations

import dataclasses

from textual.widgets import Static

from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.botify import BotifyScreen
from botifython_tui.tui.screens.botify_visualise import VisualiseDialog
from botifython_tui.tui.screens.linkgraphs import LinkGraphsScreen
from tests.tui.test_botify_support import open_botify, titles
from tests.tui.test_linkgraphs import SUMMARY, add_export

pytest_plugins = ["tests.tui.test_botify_support"]


async def test_previous_export_of_the_chosen_analysis_is_summarised_and_visualised(
    settings, store, monkeypatch
):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    settings = dataclasses.replace(settings, serve_port=0)
    add_export(store, settings, "20241108")
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        title = str(screen.query_one("#summary-title", Static).render())
        assert f"{SUMMARY['urls']} URLs" in title
        await pilot.press("escape", "4")  # no token: the token field had the focus
        await pilot.pause()
        assert screen.query_one("#summary-scroll").has_focus
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, VisualiseDialog)
        assert "20241108_linkgraph_depth-2.csv" in app.screen.url


async def test_visualise_without_an_export_says_what_to_do(settings, store):
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await pilot.press("escape", "v")
        await pilot.pause()
        assert titles(app) == ["No export"]
        assert isinstance(app.screen, BotifyScreen)


async def test_every_action_is_in_the_command_palette(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, screen_type in (("f4", BotifyScreen), ("f5", LinkGraphsScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type)
            app.screen.set_focus(None)
            await pilot.pause()
            commands = {c.title for c in app.get_system_commands(app.screen)}
            for binding in screen_type.BINDINGS:
                if binding.action == "cancel_export":
                    continue  # offered only while an export runs
                assert any(title.endswith(binding.description) for title in commands), binding
            assert all(binding.id for binding in screen_type.BINDINGS)

"""The demo in the terminal UI: offered on the Botify screen while no token works, marked DEMO in
the header, connected at once; the chat explains how to set up Ollama when none answers."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Static

from botifython_tui.cli.demo import store_demo_token
from botifython_tui.core.botify_sim.demo_site import make_demo_simulator
from botifython_tui.core.secrets import TokenStore
from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
from tests.tui.test_botify_support import TOKEN, open_botify, status, submit, until
from tests.tui.test_chat import ask, open_chat

pytest_plugins = ["tests.tui.test_botify_support"]  # the fake Botify and settings fixtures


def shown(screen, selector: str) -> bool:
    return screen.query_one(selector).display


async def test_no_token_offers_the_demo_in_one_key(botify_settings, store):
    app = make_app(botify_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_botify(pilot)
        offer = str(screen.query_one("#demo-offer", Static).render())
        assert "F9" in offer and "demo project" in offer
        assert "API token" in str(screen.query_one(".botify-help", Static).render())
        assert shown(screen, "#demo-button")
        assert "DEMO" not in app.sub_title
        await pilot.pause()
        assert app.focused is screen.query_one("#token-input")  # F9 works while typing a token
        await pilot.press("f9")
        await until(pilot, lambda: app.demo_requested)
    assert app.demo_requested  # the command line starts again on the demo account


async def test_a_working_token_hides_the_offer(botify_settings, store):
    app = make_app(botify_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_botify(pilot)
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: "Connected as jane.doe" in status(app))
        assert not shown(screen, "#demo-offer") and not shown(screen, "#demo-button")
        await pilot.press("f9")
        await pilot.pause()
        assert not app.demo_requested  # connected: F9 does nothing
    assert TokenStore(botify_settings.data_dir).load() == TOKEN


@pytest.fixture
def demo():
    simulator = make_demo_simulator(download_seconds=0.2).start()
    yield simulator
    simulator.stop()


async def test_demo_is_marked_and_connected_at_once(settings, demo):
    demo_settings = dataclasses.replace(settings, serve_port=0).for_demo(demo.base_url)
    demo_settings.ensure_dirs()
    store_demo_token(demo_settings)
    store = Store(demo_settings.db_path)
    try:
        app = make_app(demo_settings, store, start_app="botify")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: "Connected as demo.user" in status(app), timeout=10)
            screen = app.screen
            assert app.sub_title.startswith("DEMO")
            assert not screen.query("#demo-button")  # no offer inside the demo
            assert "demo account" in str(screen.query_one("#demo-offer", Static).render())
            await pilot.press("f9")
            await pilot.pause()
            assert not app.demo_requested
    finally:
        store.close()
    assert demo_settings.data_dir == settings.data_dir / "demo"
    assert demo_settings.downloads_dir == settings.downloads_dir / "demo"
    assert not (settings.data_dir / "botify_token").exists()  # the real token is untouched
    assert {r.headers.get("authorization") for r in demo.requests} == {"Token demo-token"}


async def test_chat_without_ollama_explains_how_to_set_it_up(settings, store):
    app = make_app(dataclasses.replace(settings, ollama_host="127.0.0.1:9"), store)
    async with app.run_test(size=(100, 40)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Anyone there?")
        await until(pilot, lambda: not app.chat.streaming)
        await until(pilot, lambda: bool(pane.query(".chat-error")))
        text = str(pane.query(".chat-error").last().render())
        assert "127.0.0.1:9" in text
        assert "install.sh" in text and "ollama pull" in text and "OLLAMA_HOST" in text
        assert "works without it" in text

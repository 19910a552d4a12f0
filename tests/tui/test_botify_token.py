"""Botify screen, Connect tab: verify, store (0600, masked), reject, unreachable, disconnect."""

from __future__ import annotations

import dataclasses
import socket
import stat

from textual.widgets import Input, Static, TabbedContent

from botifython_tui.core import app_events
from botifython_tui.core.secrets import TokenStore
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm
from tests.tui.helpers import posted_events
from tests.tui.test_botify_support import (
    TOKEN,
    open_botify,
    status,
    submit,
    titles,
    until,
)

pytest_plugins = ["tests.tui.test_botify_support"]  # the fake Botify and settings fixtures


def token_status(app) -> str:
    return str(app.screen.query_one("#token-status", Static).render())


async def test_good_token_is_verified_stored_0600_and_shown_masked(botify_settings, store):
    app = make_app(botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_botify(pilot)
        assert screen.query_one(TabbedContent).active == "tab-connect"  # nothing stored yet
        assert screen.query_one("#token-input", Input).password
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: "Connected as jane.doe" in status(app))

        path = TokenStore(botify_settings.data_dir).path
        assert path.read_text().strip() == TOKEN
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        shown = token_status(app)
        assert "abcd" in shown and TOKEN not in shown and "good-token" not in shown
        assert screen.query_one("#token-input", Input).value == ""  # not kept in the widget
        events = posted_events(messages)
        assert [e for e in events if isinstance(e, app_events.BotifyConnected)] == [
            app_events.BotifyConnected("jane.doe")
        ]
        assert all(TOKEN not in repr(e) for e in events)
        # Connected: the next step, choosing a project, comes up with the user's projects.
        assert screen.query_one(TabbedContent).active == "tab-project"
        await until(pilot, lambda: screen.query_one("#projects-table").row_count == 1)
    assert TOKEN not in botify_settings.log_path.read_text()


async def test_wrong_token_says_why_and_stores_nothing(botify_settings, store):
    app = make_app(botify_settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await submit(pilot, "token-input", "wrong-token-9999")
        await until(pilot, lambda: "Token rejected" in titles(app))
        message = next(n.message for n in app._notifications if n.title == "Token rejected")
        assert "HTTP 401" in message and "wrong-token" not in message
        assert "not saved" in token_status(app)
        assert "Not connected" in status(app)
        assert TokenStore(botify_settings.data_dir).load() is None


async def test_empty_token_is_refused_without_a_request(botify_settings, store, fake):
    app = make_app(botify_settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await submit(pilot, "token-input", "   ")
        await pilot.pause()
        assert "No token" in titles(app)
        assert fake.find_requests("/v1/authentication/profile") == []


async def test_unreachable_botify_is_a_clear_message(settings, store):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(dataclasses.replace(settings, botify_api_url=f"http://127.0.0.1:{port}"), store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: "Botify unreachable" in titles(app), timeout=8)
        message = next(n.message for n in app._notifications if n.title == "Botify unreachable")
        assert f"127.0.0.1:{port}" in message and "BOTIFY_API_URL" in message
        assert TokenStore(settings.data_dir).load() is None


async def test_stored_token_is_checked_on_open_and_disconnect_forgets_it(
    botify_settings, store, fake
):
    TokenStore(botify_settings.data_dir).save(TOKEN)
    app = make_app(botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_botify(pilot)
        await until(pilot, lambda: "Connected as jane.doe" in status(app))
        assert screen.query_one(TabbedContent).active == "tab-project"  # no project yet
        await pilot.press("escape")  # out of any field, so letters are keys
        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await pilot.pause()
        assert TokenStore(botify_settings.data_dir).load() is None
        assert not TokenStore(botify_settings.data_dir).path.exists()
        assert "Not connected" in status(app)
        assert screen.query_one(TabbedContent).active == "tab-connect"
        assert app_events.BotifyDisconnected() in posted_events(messages)


async def test_revoked_stored_token_asks_for_a_new_one(botify_settings, store, fake):
    TokenStore(botify_settings.data_dir).save(TOKEN)
    fake.revoke_token()
    app = make_app(botify_settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_botify(pilot)
        await until(pilot, lambda: "Token rejected" in status(app))
        assert "rejected" in token_status(app) and "abcd" in token_status(app)
        assert TokenStore(botify_settings.data_dir).load() == TOKEN  # kept: maybe a blip


async def test_token_from_the_environment_is_used_shown_and_never_written(
    botify_settings, store, fake, monkeypatch
):
    monkeypatch.setenv("BOTIFY_API_TOKEN", TOKEN)
    app = make_app(botify_settings, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_botify(pilot)
        await until(pilot, lambda: "Connected as jane.doe" in status(app))
        assert "BOTIFY_API_TOKEN" in token_status(app) and TOKEN not in token_status(app)
        assert not TokenStore(botify_settings.data_dir).path.exists()  # used, never stored
        await pilot.press("escape")
        await pilot.press("d")
        await pilot.press("y")
        await until(pilot, lambda: any("BOTIFY_API_TOKEN" in n.message for n in app._notifications))
        assert screen.query_one("#token-status", Static) is not None

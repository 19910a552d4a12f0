"""Shared fixtures and helpers for the Botify screen tests, and tests of the small helpers."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Input, Static

from botifython_tui.core.botify import (
    AuthError,
    BotifyError,
    ConnectionFailed,
    NotFoundError,
    RateLimitedError,
)
from botifython_tui.core.linkgraph import ExportFailed, PollPolicy
from botifython_tui.core.secrets import TokenStore
from botifython_tui.tui.export_runner import ExportRunner
from botifython_tui.tui.screens.botify import BotifyScreen
from botifython_tui.tui.widgets.export_panel import parse_budget
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

TOKEN = "good-token-abcd"
ANALYSES = ["20241108-2", "20241108", "20241001"]


@pytest.fixture
def fake():
    with FakeBotify(token=TOKEN, username="jane.doe") as fake:
        fake.add_project(
            "acme-org",
            "example.com",
            analyses=ANALYSES,
            graph=SyntheticGraph([1, 5, 25, 125], out_degree=(2, 6), seed=1),
        )
        yield fake


@pytest.fixture
def botify_settings(settings, fake):
    return dataclasses.replace(settings, botify_api_url=fake.base_url, serve_port=0)


@pytest.fixture
def connected(botify_settings):
    """A token already stored, as after connecting once."""
    TokenStore(botify_settings.data_dir).save(TOKEN)
    return botify_settings


@pytest.fixture
def quick_polls(monkeypatch):
    """Poll export jobs every 50 ms instead of every few seconds."""
    monkeypatch.setattr(
        ExportRunner, "poll_policy", PollPolicy(first_delay=0.05, factor=1.0, max_delay=0.05)
    )
    monkeypatch.setattr(ExportRunner, "retry_delay", 0.01)


async def until(pilot, condition, timeout: float = 5.0) -> None:
    """Poll a condition while the app runs (never a fixed sleep)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def status(app) -> str:
    return str(app.screen.query_one("#botify-status", Static).render())


def rendered(widget) -> str:
    """What a widget shows on screen, line by line."""
    return "\n".join(
        "".join(segment.text for segment in widget.render_line(y)).rstrip()
        for y in range(widget.size.height)
    )


def titles(app) -> list[str]:
    return [n.title for n in app._notifications]


def message(app, title: str) -> str:
    return next(n.message for n in app._notifications if n.title == title)


async def open_botify(pilot) -> BotifyScreen:
    await pilot.press("f4")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, BotifyScreen)
    return screen


async def submit(pilot, field_id: str, value: str) -> None:
    field = pilot.app.screen.query_one(f"#{field_id}", Input)
    field.focus()
    field.value = value
    await pilot.press("enter")


def test_budget_accepts_whole_numbers_with_separators_only():
    assert parse_budget("1000000") == 1_000_000
    assert parse_budget(" 1,000,000 ") == 1_000_000
    assert parse_budget("250_000") == 250_000
    for bad in ("", "0", "-5", "1.5", "abc", "1e6", "100000001"):
        with pytest.raises(ValueError, match="edge budget"):
            parse_budget(bad)


def test_each_error_type_gets_its_own_title():
    assert AuthError("x", status=401).title == "Token rejected"
    assert AuthError("x", status=403).title == "Access refused"
    assert AuthError("no token").title == "Not connected"
    assert ConnectionFailed("x").title == "Botify unreachable"
    assert RateLimitedError("x", status=429).title == "Rate limited"
    assert NotFoundError("x", status=404).title == "Not found on Botify"
    assert ExportFailed("x").title == "Export failed"
    assert BotifyError("x").title == "Botify error"

"""Helpers for Pilot tests."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable


def table_rows(table: DataTable) -> list[list[str]]:
    """The table's cells as plain strings, in display order."""
    rows = []
    for row_index in range(table.row_count):
        cells = table.get_row_at(row_index)
        rows.append([cell.plain if isinstance(cell, Text) else str(cell) for cell in cells])
    return rows


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Poll a condition while the app runs (never a fixed sleep); fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


async def burst(pilot, *keys: str) -> None:
    """Keys arriving at once, as over SSH or from a fast typist: none waits for the one before.

    Each key is a key name ("enter", "f3") or a single printable character.
    """
    from textual import events
    from textual.keys import _character_to_key

    app = pilot.app
    expected = app.keys_dispatched + len(keys)
    for key in keys:
        if len(key) == 1:
            pilot.app.post_message(events.Key(_character_to_key(key), key))
        else:
            character = {"enter": "\r", "space": " ", "escape": "\x1b"}.get(key)
            pilot.app.post_message(events.Key(key, character))
    await until(pilot, lambda: app.keys_dispatched >= expected and not app.keys_pending)
    await pilot.pause()


def posted_events(messages) -> list:
    """The app events (`core.app_events`) posted while a test ran, in order, each once.

    Collect the messages with `app.run_test(message_hook=messages.append)`: every message any
    widget, screen or the app posts passes the hook, so this asserts what was really posted."""
    from botifython_tui.tui.messages import AppEventPosted

    seen: dict[int, object] = {}
    for message in messages:
        if isinstance(message, AppEventPosted):
            seen.setdefault(id(message.event), message.event)
    return list(seen.values())

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

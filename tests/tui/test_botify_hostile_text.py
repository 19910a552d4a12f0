"""Botify's own words (a job failure message, the username) cannot drive the terminal or the log."""

from __future__ import annotations

import re

from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.dialogs import Confirm
from tests.tui.test_botify_support import open_botify, until

pytest_plugins = ["tests.tui.test_botify_support"]

UNSAFE = re.compile("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
OSC52 = "\x1b]52;c;cHduZWQ=\x07"
TITLE = "\x1b]0;pwned\x1b\\"


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_a_hostile_job_failure_and_username_are_shown_and_logged_safely(
    connected, store, fake, quick_polls
):
    fake.username = f"jane{OSC52}{TITLE}\u202e[bold]doe[/]"
    fake.job_outcome = "failed"
    fake.job_error_message = f"Quota{OSC52}{TITLE}\u202e exceeded [bold]now[/] \x9d0;t\x9c"
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    app = make_app(connected, store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_botify(pilot)
        await pilot.press("s")
        # The counts are free; the credit question comes before any job.
        await until(pilot, lambda: isinstance(app.screen, Confirm), 10)
        await pilot.press("y")
        await until(pilot, lambda: any(n.title == "Export failed" for n in app._notifications), 10)
        await until(pilot, lambda: screen.exporting is None, timeout=8)
        await pilot.pause()
        (failed,) = [n for n in app._notifications if n.title == "Export failed"]
        assert "exceeded [bold]now[/]" in failed.message  # markup shown as typed
        assert not failed.markup
        for note in app._notifications:
            assert not UNSAFE.search(note.title + note.message), note.message
        assert not UNSAFE.search(screen_text(app))
    log = connected.log_path.read_text(encoding="utf-8")
    assert "Quota" in log or "exceeded" in log or "jane" in log  # the failure was logged
    assert not UNSAFE.search(log) and "cHduZWQ" not in log and "pwned" not in log

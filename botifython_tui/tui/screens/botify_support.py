"""What the Botify screen leans on: the token store, an API client for one operation, and the
plain decisions it shows (its status line, the tab to open on)."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.botify import (
    BotifyClient,
    RetryPolicy,
)
from botifython_tui.core.secrets import TokenStore
from botifython_tui.core.selection import Selection
from botifython_tui.core.text import single_line

# A person is waiting on these calls: give up sooner than a long export would.
INTERACTIVE_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0, total_time=15.0)


def token_store(app: Any) -> TokenStore:
    return TokenStore(app.settings.data_dir)


def make_client(app: Any, token: str | None = None, *, interactive: bool = True) -> BotifyClient:
    """A client for one operation (use with `async with`); the stored token unless one is given."""
    token = token if token is not None else token_store(app).load()
    return BotifyClient(
        token or "",
        app.settings.botify_api_url,
        retry=INTERACTIVE_RETRY if interactive else None,
    )


def status_line(token_status: str, selection: Selection | None, *, exporting: bool) -> str:
    """The Botify screen's top line: connection · project · analysis (· exporting…)."""
    parts = [token_status]
    if selection is None:
        parts.append("no project chosen (2)")
    else:
        parts += [selection.project_label, selection.analysis or "no analysis chosen (2)"]
    if exporting:
        parts.append("exporting…")
    return single_line(" · ".join(parts))


def first_tab(has_token: bool, selection: Selection | None) -> str:
    """The tab to open on: what is missing first, else the export."""
    if not has_token:
        return "tab-connect"
    if selection is None or not selection.analysis:
        return "tab-project"
    return "tab-export"

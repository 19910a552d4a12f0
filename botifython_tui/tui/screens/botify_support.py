"""What the Botify screens share: the token store and an API client for one operation."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.botify import (
    BotifyClient,
    RetryPolicy,
)
from botifython_tui.core.secrets import TokenStore

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

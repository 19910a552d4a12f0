"""What the Botify screens share: one titled notification per error type, and the API client."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.botify import (
    BotifyClient,
    BotifyError,
    RetryPolicy,
)
from botifython_tui.core.secrets import TokenStore
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import report_error

log = get_logger("tui.botify")

# A person is waiting on these calls: give up sooner than a long export would.
INTERACTIVE_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0, total_time=15.0)


def error_title(exc: BaseException) -> str:
    """A short title saying what kind of failure this is (the error carries it)."""
    return str(getattr(exc, "title", "") or "Botify error")


def report_botify_error(node: Any, exc: BaseException, action: str) -> None:
    """Botify errors carry a message for the user; anything else goes through `report_error`."""
    if isinstance(exc, BotifyError):
        log.info("Could not %s: %s", action, exc)
        node.notify(str(exc), title=error_title(exc), severity="error", markup=False, timeout=10)
        return
    report_error(node, exc, action)


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

"""The Botify API: the async client (`client`), its typed errors (`errors`) and what it lists
(`models`: projects, analyses, `Analysis.is_finished`, pasted project URLs)."""

from botifython_tui.core.botify.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_REQUESTS_PER_SECOND,
    BotifyClient,
    RequestRateLimiter,
    RetryPolicy,
    mask_token,
    normalize_base_url,
)
from botifython_tui.core.botify.errors import (
    AuthError,
    BadRequestError,
    BotifyError,
    ConnectionFailed,
    NotFoundError,
    RateLimitedError,
    ServerError,
    error_for,
)
from botifython_tui.core.botify.models import (
    Analysis,
    Project,
    ProjectRef,
    latest_finished,
    parse_project_ref,
)

__all__ = [
    "Analysis",
    "AuthError",
    "BadRequestError",
    "BotifyClient",
    "BotifyError",
    "ConnectionFailed",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_REQUESTS_PER_SECOND",
    "NotFoundError",
    "Project",
    "ProjectRef",
    "RateLimitedError",
    "RequestRateLimiter",
    "RetryPolicy",
    "ServerError",
    "error_for",
    "latest_finished",
    "mask_token",
    "normalize_base_url",
    "parse_project_ref",
]

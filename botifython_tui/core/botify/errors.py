"""The errors a Botify call ends in: one class per kind of failure, each with its own title, and
the plain-language message for a final (not retried) HTTP answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botifython_tui.core.text import neutralize_controls

if TYPE_CHECKING:
    import httpx


class BotifyError(Exception):
    """A Botify call failed; `str()` is a message for the user, `title` names the kind of failure
    (the title of its notification)."""

    status: int | None = None
    title = "Botify error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        # Botify's own words (job failures, usernames) may carry escape sequences: the message
        # is made safe once, here, for every notification, log line and terminal it reaches.
        super().__init__(neutralize_controls(str(message)))
        if status is not None:
            self.status = status
        self.code = code


class AuthError(BotifyError):
    """401 or 403: the token is wrong, revoked, or lacks permission."""

    @property  # type: ignore[override]
    def title(self) -> str:
        if self.status is None:
            return "Not connected"
        return "Token rejected" if self.status == 401 else "Access refused"


class NotFoundError(BotifyError):
    """404: unknown user, project, analysis or job."""

    title = "Not found on Botify"


class BadRequestError(BotifyError):
    """400: Botify refused the query or the job."""

    title = "Request refused"


class RateLimitedError(BotifyError):
    """429 and retries ran out."""

    title = "Rate limited"


class ServerError(BotifyError):
    """5xx and retries ran out."""

    title = "Botify server error"


class ConnectionFailed(BotifyError):
    """Botify could not be reached (DNS, refused connection, timeout) and retries ran out."""

    title = "Botify unreachable"


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """The server's own message from the Botify envelope or a DRF body, if any."""
    try:
        body = response.json()
    except ValueError:
        return "", None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("error_code")
            return str(error.get("message") or ""), None if code is None else str(code)
        if isinstance(error, str):
            return error, None
        if isinstance(body.get("detail"), str):
            return body["detail"], None
    return "", None


def error_for(response: httpx.Response, what: str) -> BotifyError:
    """A typed error with a plain-language message for a final (not retried) failure."""
    status = response.status_code
    server_says, code = _error_message(response)
    detail = f" Botify says: {server_says}." if server_says else ""
    if status == 401:
        return AuthError(
            "Botify rejected the API token (HTTP 401): it is wrong or has been revoked. "
            "Copy a fresh token from your Botify account settings and connect again.",
            status=status,
            code=code,
        )
    if status == 403:
        return AuthError(
            f"Botify refused access while trying to {what} (HTTP 403).{detail} "
            "The token may lack permission for this organisation or project.",
            status=status,
            code=code,
        )
    if status == 404:
        return NotFoundError(
            f"Not found on Botify while trying to {what} (HTTP 404).{detail} "
            "Check the organisation, project and analysis names.",
            status=status,
            code=code,
        )
    if status in (400, 409, 422):
        return BadRequestError(
            f"Botify refused the request to {what} (HTTP {status}).{detail}",
            status=status,
            code=code,
        )
    if status == 429:
        return RateLimitedError(
            f"Botify kept rate-limiting the request to {what} (HTTP 429) after several retries. "
            "Wait a minute and try again.",
            status=status,
            code=code,
        )
    if status >= 500:
        return ServerError(
            f"Botify had a server error while trying to {what} (HTTP {status}), even after "
            "retrying. Try again later.",
            status=status,
            code=code,
        )
    return BotifyError(
        f"Unexpected answer from Botify while trying to {what} (HTTP {status}).{detail}",
        status=status,
        code=code,
    )

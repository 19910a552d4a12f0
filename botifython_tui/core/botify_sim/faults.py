"""Faults the simulator injects: queued HTTP errors (envelope, HTML or empty bodies, Retry-After),
the rate limit (429), a revoked token (401), and the Botify error envelope they answer with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from botifython_tui.core.botify_sim.http import RecordedRequest, Response, json_response

# Every failure the simulator can put in the client's way (a knob, or knob=value); the knobs are
# described on BotifySimulator. tests/unit/test_fake_fault_coverage.py checks that each exists and
# that a test exercises it, so this list only grows.
FAULT_MODES: tuple[str, ...] = (
    "inject",  # queued HTTP errors for matching requests
    "inject:body=html",  # a proxy's HTML error page instead of JSON
    "inject:body=empty",  # an error with no body at all
    "inject:retry_after",  # Retry-After on an injected error
    "inject:times=None",  # an error that never goes away
    "inject:path",  # an error on one route only (jobs, downloads)
    "rate_limit_rps",  # 429 beyond N requests a second
    "retry_after_on_rate_limit",  # with Retry-After
    "response_delay",  # a slow API
    "poll_delay",  # slow job polls
    "polls_before_done",  # a job that takes long (or forever)
    "job_outcome=failed",  # the export job fails
    "job_outcome=done_without_results",  # DONE with no download URL
    "job_error_message",  # the failed job's message (hostile text)
    "download_fault=truncated",  # half the bytes, matching Content-Length
    "download_fault=drop",  # the connection drops mid-download
    "download_fault=forbidden",  # 403 from the CDN (an expired link)
    "download_fault=not_found",  # 404 from the CDN
    "download_fault=empty",  # a file with the header only
    "download_fault=short",  # a tenth of the rows, no nb_lines
    "download_fault=nb_lines_mismatch",  # a tenth of the rows, nb_lines says all
    "download_fault_times",  # a download fault that happens once, then all goes well
    "accept_ranges",  # a CDN that ignores Range (no resume)
    "download_rate",  # a slow download (cancel, signals mid-way)
    "error_code_as_number",  # error_code as a number instead of a string
    "unauthorized_shape=drf",  # 401 with Django REST Framework's body
    "revoke_token",  # the token stops working mid-session
    "request_body_too_large",  # a request over the body limit: 413, nothing more read
)


class ApiError(Exception):
    """Raised inside handlers; turned into the Botify error envelope."""

    def __init__(self, status: int, code: int | str, message: str, detail: Any = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = str(code)
        self.message = message
        self.detail = detail


@dataclass
class Injection:
    """A queued fault; see :meth:`BotifySimulator.inject`."""

    status: int
    path: Any = None
    method: str | None = None
    body: str = "json"
    retry_after: float | int | str | None = None
    times: int | None = 1
    message: str | None = None
    code: str | int | None = None
    served: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.served)

    def matches(self, rec: RecordedRequest, is_api: bool) -> bool:
        if self.times is not None and self.served >= self.times:
            return False
        if self.method and rec.method.upper() != self.method.upper():
            return False
        if self.path is None:
            return is_api
        if isinstance(self.path, re.Pattern):
            return bool(self.path.search(rec.path))
        if self.path in rec.path:
            return True
        try:
            return bool(re.search(self.path, rec.path))
        except re.error:
            return False


_INJECT_CODES = {
    400: ("1020", "Badly formatted request"),
    401: ("1001", "Not Authorized"),
    403: ("1002", "Permission denied"),
    404: ("1010", "Project was not found"),
    429: ("1053", "Too many requests"),
}


_HTML_ERROR = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class FaultInjection:
    """The simulator's fault knobs that act on requests: queued errors, rate limit, token."""

    def revoke_token(self) -> None:
        """Invalidate the token: every API call now gets 401 (downloads still work)."""
        self.token = None

    def inject(
        self,
        status: int,
        *,
        path: Any = None,
        method: str | None = None,
        body: str = "json",
        retry_after: float | int | str | None = None,
        times: int | None = 1,
        message: str | None = None,
        code: str | int | None = None,
    ) -> Injection:
        """Queue a fault for the next ``times`` matching requests (``times=None``: forever).

        ``path``: substring or regex (str or compiled) searched in the request path; ``None``
        matches every API request (not downloads). ``body``: ``"json"`` (error envelope),
        ``"html"`` or ``"empty"``. ``retry_after`` adds a ``Retry-After`` header.
        """
        if body not in ("json", "html", "empty"):
            raise ValueError("body must be 'json', 'html' or 'empty'")
        inj = Injection(
            status=int(status),
            path=path,
            method=method,
            body=body,
            retry_after=retry_after,
            times=times,
            message=message,
            code=code,
        )
        with self._lock:
            self.injections.append(inj)
        return inj

    def clear_injections(self) -> None:
        with self._lock:
            self.injections.clear()

    def _take_injection(self, rec: RecordedRequest, is_api: bool) -> Injection | None:
        with self._lock:
            for inj in self.injections:
                if inj.matches(rec, is_api):
                    inj.served += 1
                    self.injected_served += 1
                    rec.injected = True
                    return inj
        return None

    def _rate_limited(self, rec: RecordedRequest) -> bool:
        rps = self.rate_limit_rps
        if rps is None:
            return False
        now = rec.time
        with self._lock:
            window = self._rate_window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= rps:
                return True
            window.append(now)
            return False

    def _envelope(self, code: str | int, message: str, detail: Any = None) -> dict[str, Any]:
        err: dict[str, Any] = {
            "error_code": int(code) if self.error_code_as_number else str(code),
            "message": message,
        }
        if detail is not None:
            err["error_detail"] = detail
        return {"error": err}

    def _unauthorized(self, drf_detail: str = "Invalid token.") -> Response:
        headers = [("WWW-Authenticate", 'Token realm="api"')]
        if self.unauthorized_shape == "drf":
            return json_response(401, {"detail": drf_detail}, headers)
        return json_response(401, self._envelope("1001", "Not Authorized"), headers)

    def _error_response(self, exc: ApiError) -> Response:
        if exc.status == 401:
            drf = exc.detail.get("drf") if isinstance(exc.detail, dict) else None
            return self._unauthorized(drf or "Invalid token.")
        return json_response(exc.status, self._envelope(exc.code, exc.message, exc.detail))

    def _injected_response(self, inj: Injection) -> Response:
        headers: list[tuple[str, str]] = []
        if inj.retry_after is not None:
            headers.append(("Retry-After", str(inj.retry_after)))
        status = inj.status
        if inj.body == "empty":
            return Response(status, b"", headers)
        if inj.body == "html":
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            html = _HTML_ERROR.format(code=status, phrase=phrase).encode()
            return Response(status, html, [("Content-Type", "text/html"), *headers])
        if status == 401 and self.unauthorized_shape == "drf" and inj.code is None:
            resp = self._unauthorized(inj.message or "Invalid token.")
            resp.headers.extend(headers)
            return resp
        code, message = _INJECT_CODES.get(status, ("1000", "Unknown error"))
        if inj.code is not None:
            code = str(inj.code)
        if status == 401:
            headers.append(("WWW-Authenticate", 'Token realm="api"'))
        return json_response(status, self._envelope(code, inj.message or message), headers)

"""Faults the simulator injects: queued HTTP errors (envelope, HTML or empty bodies, Retry-After),
the rate limit (429), a revoked token (401), and the Botify error envelope they answer with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from botifython_tui.core.botify_sim.http import RecordedRequest, Response, json_response


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

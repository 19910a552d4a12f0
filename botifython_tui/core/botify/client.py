"""Async Botify API client on httpx: retries with backoff, a request-rate cap, typed errors.

The base URL comes from settings (`BOTIFY_API_URL`), and every path the API hands back (a job's
relative `job_url`, absolute `next` links) is resolved against it, so the whole flow can run against
a local server.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from botifython_tui.core.botify.errors import (
    AuthError,
    BotifyError,
    ConnectionFailed,
    error_for,
)
from botifython_tui.core.botify.models import Analysis, Project
from botifython_tui.logs import get_logger, register_secret

if TYPE_CHECKING:  # httpx costs ~0.1 s to import: loaded with the first client, not at start-up
    import httpx

log = get_logger("botify")

DEFAULT_TIMEOUT = 30.0  # seconds for each read; connecting gets DEFAULT_CONNECT_TIMEOUT
DEFAULT_CONNECT_TIMEOUT = 10.0
MAX_REQUESTS_PER_SECOND = 5  # Botify's documented limit for project endpoints


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total time."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    total_time: float = 90.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never in step


class RequestRateLimiter:
    """At most `rate` requests in any one-second window (the server counts the same way)."""

    def __init__(self, rate: float = MAX_REQUESTS_PER_SECOND, window: float = 1.1) -> None:
        self.rate = int(rate)
        self.window = window
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.rate:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self.window - (now - self._sent[0]))


def normalize_base_url(url: str) -> str:
    """`https://api.botify.com`, `…/v1` or `…/v1/` all mean the API root without `/v1`."""
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise BotifyError(
            f"The Botify API URL {url!r} is not a valid http(s) URL. "
            "Set BOTIFY_API_URL to something like https://api.botify.com."
        )
    return re.sub(r"/v1$", "", url)


def mask_token(token: str | None) -> str:
    """Only the last four characters of a token are ever shown."""
    if not token:
        return "(none)"
    return "•" * 8 + token[-4:] if len(token) > 8 else "•" * 8


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class BotifyClient:
    """One client per token. Use as `async with BotifyClient(token, base_url) as client:`."""

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.botify.com",
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate: float = MAX_REQUESTS_PER_SECOND,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx

        token = (token or "").strip()
        if not token:
            raise AuthError("No Botify API token is set: connect with your token first.")
        register_secret(token)
        self.token = token
        self.base_url = normalize_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self.limiter = RequestRateLimiter(rate)
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        )
        self._http = httpx.AsyncClient(
            timeout=self.timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "botifython"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> BotifyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    # --- URLs ---------------------------------------------------------------------------------
    def resolve(self, path_or_url: str) -> str:
        """A path, or an absolute URL the API returned, as a URL on the configured server."""
        if not path_or_url.startswith(("http://", "https://")):
            return self.base_url + "/" + path_or_url.lstrip("/")
        if path_or_url.startswith(self.base_url + "/"):
            return path_or_url
        # An absolute link to the canonical API (e.g. `next`) is re-homed on the configured one.
        parts = urlsplit(path_or_url)
        base = urlsplit(self.base_url)
        path = parts.path
        if base.path and not path.startswith(base.path + "/"):
            path = base.path + path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))

    # --- requests -----------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        creates: bool = False,
    ) -> Any:
        """Send one API call with retries; returns the decoded JSON body.

        `creates` marks a call that creates something (an export job costs credits): it is not
        retried when the server may already have acted on it (a 500 or a read timeout).
        """
        import httpx

        url = self.resolve(path_or_url)
        headers = {"Authorization": f"Token {self.token}"}
        started = time.monotonic()
        attempt = 0
        while True:
            await self.limiter.wait()
            retry_after: float | None = None
            try:
                response = await self._http.request(
                    method, url, json=json, params=params, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure: BotifyError = ConnectionFailed(
                    f"Could not connect to Botify at {self.host} to {what}: {_reason(exc)}. "
                    "Check the network, or BOTIFY_API_URL if you set it."
                )
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
                failure = ConnectionFailed(
                    f"Botify at {self.host} did not answer in time while trying to {what} "
                    f"({type(exc).__name__}). Try again later."
                )
                if creates:
                    raise failure from exc
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                failure = ConnectionFailed(
                    f"The connection to Botify at {self.host} broke while trying to {what}: "
                    f"{_reason(exc)}."
                )
                if creates:
                    raise failure from exc
            else:
                status = response.status_code
                if status < 400:
                    return _json_body(response, what)
                retryable = status == 429 or status >= 500
                if creates and status == 500:
                    retryable = False  # the job may exist already: never pay twice
                if not retryable:
                    log.info("%s %s -> HTTP %s", method, _path_for_log(url), status)
                    raise error_for(response, what)
                failure = error_for(response, what)
                retry_after = _retry_after(response)
            attempt += 1
            elapsed = time.monotonic() - started
            delay = self.retry.delay(attempt - 1, retry_after)
            if attempt >= self.retry.attempts or elapsed + delay > self.retry.total_time:
                log.warning("Giving up on %s %s: %s", method, _path_for_log(url), failure)
                raise failure
            log.info(
                "Retrying %s %s in %.1fs (attempt %d): %s",
                method,
                _path_for_log(url),
                delay,
                attempt,
                failure,
            )
            await asyncio.sleep(delay)

    async def get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return await self.request("GET", path, what=what, params=params)

    async def iter_pages(
        self,
        path: str,
        *,
        what: str,
        method: str = "GET",
        json: Any = None,
        params: dict[str, Any] | None = None,
        max_pages: int = 10_000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield each result of a paginated list, following `next` until it runs out."""
        url: str | None = path
        first = True
        for _ in range(max_pages):
            if url is None:
                return
            page = await self.request(
                method, url, what=what, json=json, params=params if first else None
            )
            first = False
            if not isinstance(page, dict):
                raise BotifyError(f"Unexpected answer from Botify while trying to {what}.")
            for item in page.get("results") or []:
                yield item
            url = page.get("next") or None

    # --- the API ------------------------------------------------------------------------------
    async def username(self) -> str:
        """Verify the token; returns the user's login (`data.username`)."""
        body = await self.get("/v1/authentication/profile", what="verify the token")
        username = None
        if isinstance(body, dict):
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            username = data.get("username") or body.get("username")
            user = body.get("user")
            if not username and isinstance(user, dict):
                username = user.get("username")
        if not username:
            raise BotifyError("Botify accepted the token but did not say which user it belongs to.")
        return str(username)

    async def projects(self, username: str) -> list[Project]:
        projects = []
        async for item in self.iter_pages(
            f"/v1/projects/{_seg(username)}", what="list your projects", params={"size": 100}
        ):
            org = _owner(item) or username
            slug = str(item.get("slug") or "")
            if slug:
                projects.append(Project(org=org, slug=slug, name=str(item.get("name") or slug)))
        return projects

    async def analyses(self, org: str, project: str) -> list[Analysis]:
        """Successful analyses, newest first."""
        analyses = []
        async for item in self.iter_pages(
            f"/v1/analyses/{_seg(org)}/{_seg(project)}/light",
            what=f"list the analyses of {org}/{project}",
            params={"size": 100},
        ):
            slug = str(item.get("slug") or "")
            if not slug:
                continue
            analyses.append(
                Analysis(
                    slug=slug,
                    name=str(item.get("name") or item.get("friendly_name") or ""),
                    status=str(item.get("status") or "success"),
                    date=str(item.get("date_launched") or item.get("date_created") or ""),
                )
            )
        # Newest first; the API already orders so, sort defensively (slugs sort by date too).
        analyses.sort(key=lambda a: (a.date, a.slug), reverse=True)
        return analyses

    async def collections(self, org: str, project: str) -> list[dict[str, Any]]:
        body = await self.get(
            f"/v1/projects/{_seg(org)}/{_seg(project)}/collections",
            what=f"list the data collections of {org}/{project}",
        )
        return [c for c in body if isinstance(c, dict)] if isinstance(body, list) else []

    async def query(
        self, org: str, project: str, body: dict[str, Any], *, size: int | None = None
    ) -> dict[str, Any]:
        params = {"size": size} if size else None
        result = await self.request(
            "POST",
            f"/v1/projects/{_seg(org)}/{_seg(project)}/query",
            what=f"query {org}/{project}",
            json=body,
            params=params,
        )
        if not isinstance(result, dict):
            raise BotifyError(f"Unexpected answer from Botify to a query on {org}/{project}.")
        return result

    async def create_job(self, payload: dict[str, Any]) -> dict[str, Any]:
        job = await self.request(
            "POST",
            "/v1/jobs",
            what="start the export job",
            json={"job_type": "export", "payload": payload},
            creates=True,
        )
        if not isinstance(job, dict) or not (job.get("job_url") or job.get("job_id")):
            raise BotifyError("Botify accepted the export but returned no job to follow.")
        return job

    async def job(self, job: dict[str, Any]) -> dict[str, Any]:
        url = job.get("job_url") or f"/v1/jobs/{job['job_id']}"
        result = await self.get(url, what="check the export job")
        if not isinstance(result, dict):
            raise BotifyError("Unexpected answer from Botify about the export job.")
        return result

    def download_stream(
        self, url: str, *, read_timeout: float = 60.0, headers: dict[str, str] | None = None
    ) -> Any:
        """Stream a finished export (`headers`: e.g. a `Range` to resume). The token is never
        sent: downloads live on a CDN."""
        import httpx

        if not url.startswith(("http://", "https://")):
            url = self.resolve(url)
        timeout = httpx.Timeout(read_timeout, connect=self.timeout.connect)
        # identity: byte offsets (a resume) then count the file's own bytes
        sent = {"Accept-Encoding": "identity", **(headers or {})}
        return self._http.stream("GET", url, timeout=timeout, headers=sent)


def _json_body(response: httpx.Response, what: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise BotifyError(
            f"Botify sent something that is not JSON while trying to {what} "
            f"(HTTP {response.status_code})."
        ) from exc


def _owner(item: dict[str, Any]) -> str | None:
    user = item.get("user")
    if isinstance(user, dict) and user.get("login"):
        return str(user["login"])
    organization = item.get("organization")
    if isinstance(organization, dict) and organization.get("slug"):
        return str(organization["slug"])
    return None


def _seg(value: str) -> str:
    """One URL path segment: a name can never add a segment or a query."""
    return quote(str(value), safe="")


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _path_for_log(url: str) -> str:
    parts = urlsplit(url)
    return parts.path

"""The async Botify client against the real fake HTTP server (tests/fakes/botify_server).

Every behaviour is checked end to end over HTTP: what the client sent is read back from
`fake.requests`, never from a monkeypatched function.
"""

from __future__ import annotations

import asyncio
import socket
import string
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botifython_tui.core.botify import (
    AuthError,
    BadRequestError,
    BotifyClient,
    BotifyError,
    ConnectionFailed,
    NotFoundError,
    ProjectRef,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    mask_token,
    normalize_base_url,
    parse_project_ref,
)
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

TOKEN = "good-token-1234567890"
ORG, PROJECT = "acme-org", "example.com"
A = "20241108-2"
GRAPH = SyntheticGraph(depth_sizes=[1, 4, 12], out_degree=(2, 4), seed=3)
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total_time=10.0)


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    f = FakeBotify(token=TOKEN, username="jane.doe", list_page_size=2)
    f.add_project(
        ORG,
        PROJECT,
        name="Example Site",
        analyses=[
            "20241001",
            A,
            "20241108",
            {"slug": "20241201", "status": "crawling"},
            {"slug": "20240901", "status": "failed"},
        ],
        graph=GRAPH,
        has_search_console=True,
    )
    with f:
        yield f


def make_client(fake: FakeBotify, **kwargs) -> BotifyClient:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 5.0)
    return BotifyClient(kwargs.pop("token", TOKEN), kwargs.pop("base_url", fake.base_url), **kwargs)


@pytest.fixture
async def client(fake: FakeBotify) -> AsyncIterator[BotifyClient]:
    async with make_client(fake) as c:
        yield c


def api_requests(fake: FakeBotify, path: str | None = None, method: str | None = None):
    return [r for r in fake.find_requests(path, method) if not r.path.startswith("/downloads/")]


def count_body() -> dict:
    return {
        "collections": [f"crawl.{A}"],
        "query": {"dimensions": [], "metrics": [f"crawl.{A}.count_urls_crawl"]},
    }


def job_payload() -> dict:
    return {
        "username": ORG,
        "project": PROJECT,
        "connector": "direct_download",
        "formatter": "csv",
        "formatter_config": {"print_header": True, "print_delimiter": True},
        "extra_config": {},
        "export_size": 100,
        "query": {
            "collections": [f"crawl.{A}"],
            "query": {"dimensions": ["url", f"crawl.{A}.depth"], "metrics": []},
        },
    }


# --- the basics: base URL, auth header, profile ------------------------------------------------


async def test_profile_sends_token_header_to_configured_base(
    fake: FakeBotify, client: BotifyClient
):
    assert await client.username() == "jane.doe"
    (req,) = fake.requests
    assert req.path == "/v1/authentication/profile"
    assert req.headers["authorization"] == f"Token {TOKEN}"
    assert req.headers["host"] == f"127.0.0.1:{fake.port}"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_spellings_all_reach_the_api(fake: FakeBotify, suffix: str):
    async with make_client(fake, base_url=fake.base_url + suffix) as c:
        assert c.base_url == fake.base_url
        assert await c.username() == "jane.doe"
    assert [r.path for r in fake.requests] == ["/v1/authentication/profile"]


def test_bad_base_url_and_empty_token_are_refused():
    with pytest.raises(BotifyError, match="BOTIFY_API_URL"):
        BotifyClient(TOKEN, "api.botify.com")
    with pytest.raises(AuthError, match="token"):
        BotifyClient("  ", "https://api.botify.com")


# --- typed errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["envelope", "drf"])
async def test_wrong_token_is_auth_error_for_both_401_bodies(fake: FakeBotify, shape: str):
    fake.unauthorized_shape = shape
    async with make_client(fake, token="wrong-token-0000") as c:
        with pytest.raises(AuthError) as info:
            await c.username()
    assert info.value.status == 401
    assert "token" in str(info.value).lower()
    assert len(fake.requests) == 1  # a 401 is final, never retried


async def test_revoked_token_is_auth_error(fake: FakeBotify, client: BotifyClient):
    assert await client.username() == "jane.doe"
    fake.revoke_token()
    with pytest.raises(AuthError, match="(?i)revoked") as info:
        await client.projects("jane.doe")
    assert info.value.status == 401


async def test_403_is_auth_error_about_permission(fake: FakeBotify, client: BotifyClient):
    fake.inject(403, path="/analyses/")
    with pytest.raises(AuthError) as info:
        await client.analyses(ORG, PROJECT)
    assert info.value.status == 403
    message = str(info.value)
    assert "403" in message and "permission" in message.lower()
    assert "Permission denied" in message  # Botify's own words are passed on
    assert len(fake.requests) == 1


async def test_unknown_project_is_not_found(fake: FakeBotify, client: BotifyClient):
    with pytest.raises(NotFoundError) as info:
        await client.analyses(ORG, "no-such-project")
    assert info.value.status == 404 and info.value.code == "1010"
    assert "Project was not found" in str(info.value)
    assert "project" in str(info.value).lower()
    assert len(fake.requests) == 1


async def test_unknown_field_is_bad_request_with_botifys_message(
    fake: FakeBotify, client: BotifyClient
):
    body = {
        "collections": [f"crawl.{A}"],
        "query": {"dimensions": [f"crawl.{A}.no_such_field"], "metrics": []},
    }
    with pytest.raises(BadRequestError) as info:
        await client.query(ORG, PROJECT, body)
    assert info.value.status == 400 and info.value.code == "1029"
    assert "Field does not exist" in str(info.value)
    assert len(fake.requests) == 1


async def test_numeric_error_code_is_accepted(fake: FakeBotify, client: BotifyClient):
    fake.error_code_as_number = True
    with pytest.raises(NotFoundError) as info:
        await client.collections(ORG, "nope")
    assert info.value.code == "1010"


@pytest.mark.parametrize(
    "status,kind",
    [(401, AuthError), (403, AuthError), (404, NotFoundError), (400, BadRequestError)],
)
@pytest.mark.parametrize("body", ["html", "empty"])
async def test_4xx_with_non_json_body_still_typed(
    fake: FakeBotify, client: BotifyClient, status: int, kind: type, body: str
):
    fake.inject(status, body=body)
    with pytest.raises(kind) as info:
        await client.username()
    assert info.value.status == status
    assert "<html" not in str(info.value)


# --- 429 and Retry-After -----------------------------------------------------------------------


async def test_429_without_retry_after_is_retried(fake: FakeBotify, client: BotifyClient):
    fake.inject(429, times=2)
    assert await client.username() == "jane.doe"
    assert [r.status for r in fake.requests] == [429, 429, 200]


async def test_429_persisting_gives_rate_limited_after_bounded_attempts(
    fake: FakeBotify, client: BotifyClient
):
    fake.inject(429, times=None)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        await client.query(ORG, PROJECT, count_body())
    assert time.monotonic() - started < 3
    assert info.value.status == 429
    assert len(fake.requests) == FAST.attempts
    assert all(r.status == 429 for r in fake.requests)
    assert "rate" in str(info.value).lower()


async def test_retry_after_is_honoured(fake: FakeBotify, client: BotifyClient):
    fake.inject(429, retry_after=1)
    assert await client.username() == "jane.doe"
    first, second = fake.requests
    assert first.status == 429 and second.status == 200
    # base_delay is 0.01 s: only Retry-After can explain a one-second pause.
    assert second.time - first.time >= 0.95


async def test_server_rate_limit_with_retry_after_header(fake: FakeBotify):
    """The fake's own QPS limiter (not an injection) with Retry-After: the client recovers."""
    fake.rate_limit_rps = 2
    fake.retry_after_on_rate_limit = "0.6"
    async with make_client(fake, rate=50) as c:  # a client cap looser than the server's
        results = await asyncio.gather(*(c.username() for _ in range(4)))
    assert results == ["jane.doe"] * 4
    statuses = [r.status for r in fake.requests]
    assert statuses.count(200) == 4 and 429 in statuses


# --- 5xx -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("body", ["json", "html", "empty"])
async def test_5xx_retried_then_success(
    fake: FakeBotify, client: BotifyClient, status: int, body: str
):
    fake.inject(status, body=body, times=2)
    result = await client.query(ORG, PROJECT, count_body())
    assert result["results"][0]["metrics"] == [GRAPH.url_count()]
    assert [r.status for r in fake.requests] == [status, status, 200]
    # The retried POST re-sent the same body.
    assert fake.requests[0].json == fake.requests[2].json == count_body()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("body", ["json", "html", "empty"])
async def test_5xx_persisting_gives_server_error(
    fake: FakeBotify, client: BotifyClient, status: int, body: str
):
    fake.inject(status, body=body, times=None)
    with pytest.raises(ServerError) as info:
        await client.projects("jane.doe")
    assert info.value.status == status
    assert str(status) in str(info.value)
    assert "<html" not in str(info.value).lower()
    assert len(fake.requests) == FAST.attempts


async def test_job_creation_is_not_retried_on_500(fake: FakeBotify, client: BotifyClient):
    fake.inject(500, path="/v1/jobs", method="POST", times=None)
    with pytest.raises(ServerError):
        await client.create_job(job_payload())
    assert len(fake.find_requests("/v1/jobs", "POST")) == 1


@pytest.mark.parametrize("status", [503, 429])
async def test_job_creation_is_retried_on_503_and_429(
    fake: FakeBotify, client: BotifyClient, status: int
):
    fake.inject(status, path="/v1/jobs", method="POST", body="html" if status == 503 else "json")
    job = await client.create_job(job_payload())
    posts = fake.find_requests("/v1/jobs", "POST")
    assert [r.status for r in posts] == [status, 201]
    assert list(fake.jobs) == [job["job_id"]]  # exactly one job was created
    assert job["job_url"] == f"/v1/jobs/{job['job_id']}"


async def test_job_creation_is_not_retried_on_read_timeout(fake: FakeBotify):
    fake.response_delay = 1.0
    async with make_client(fake, timeout=0.3) as c:
        with pytest.raises(ConnectionFailed, match="in time"):
            await c.create_job(job_payload())
    assert len(fake.find_requests("/v1/jobs", "POST")) == 1


async def test_relative_job_url_is_polled_on_the_configured_base(
    fake: FakeBotify, client: BotifyClient
):
    fake.polls_before_done = 1
    job = await client.create_job(job_payload())
    assert job["job_url"].startswith("/v1/jobs/")
    first = await client.job(job)
    assert first["job_status"] == "PROCESSING"
    done = await client.job(job)
    assert done["job_status"] == "DONE"
    assert len(fake.find_requests(job["job_url"], "GET")) == 2
    # Only job_id known: the client rebuilds /v1/jobs/{id}.
    again = await client.job({"job_id": job["job_id"]})
    assert again["job_status"] == "DONE"


# --- connection failures and timeouts ------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused_names_the_host():
    port = closed_port()
    started = time.monotonic()
    async with BotifyClient(TOKEN, f"http://127.0.0.1:{port}", retry=FAST, timeout=2) as c:
        with pytest.raises(ConnectionFailed) as info:
            await c.username()
    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "connect" in str(info.value).lower()


async def test_slow_server_times_out_in_bounded_time(fake: FakeBotify):
    fake.response_delay = 3.0
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, total_time=10)
    started = time.monotonic()
    async with make_client(fake, timeout=0.25, retry=policy) as c:
        with pytest.raises(ConnectionFailed) as info:
            await c.username()
    elapsed = time.monotonic() - started
    assert elapsed < 1.5  # two 0.25 s timeouts and a short pause, not 2 × 3 s
    assert "in time" in str(info.value)
    assert len(fake.requests) == 2


async def test_total_time_bounds_the_retries(fake: FakeBotify):
    fake.inject(503, times=None)
    policy = RetryPolicy(attempts=1000, base_delay=0.05, max_delay=0.1, total_time=0.6)
    started = time.monotonic()
    async with make_client(fake, retry=policy, rate=100) as c:  # rate cap out of the way
        with pytest.raises(ServerError):
            await c.username()
    elapsed = time.monotonic() - started
    assert elapsed <= 0.6 + 0.3
    assert 3 < len(fake.requests) < 1000


async def test_total_time_with_the_rate_cap_overshoots_by_at_most_one_window(fake: FakeBotify):
    """The 5-per-window cap can hold a retry back; the bound then stretches by that wait only."""
    fake.inject(503, times=None)
    policy = RetryPolicy(attempts=1000, base_delay=0.05, max_delay=0.1, total_time=0.6)
    started = time.monotonic()
    async with make_client(fake, retry=policy) as c:
        with pytest.raises(ServerError):
            await c.username()
    elapsed = time.monotonic() - started
    assert elapsed <= 0.6 + 1.05 + 0.3
    assert max_in_any_window([r.time for r in fake.requests]) <= 5


async def test_huge_retry_after_gives_up_at_once_within_total_time(fake: FakeBotify):
    fake.inject(429, retry_after=3600, times=None)
    started = time.monotonic()
    async with make_client(fake) as c:
        with pytest.raises(RateLimitedError):
            await c.username()
    assert time.monotonic() - started < 1
    assert len(fake.requests) == 1


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(attempts=10, base_delay=0.1, max_delay=1.0)
    for attempt in range(8):
        ceiling = min(1.0, 0.1 * 2**attempt)
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(3, retry_after=2.5) == 2.5


# --- the rate cap ------------------------------------------------------------------------------


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_client_stays_under_five_requests_per_second(fake: FakeBotify, client: BotifyClient):
    fake.rate_limit_rps = 5  # the fake would answer 429 to a sixth request in a window
    started = time.monotonic()
    results = await asyncio.gather(*(client.query(ORG, PROJECT, count_body()) for _ in range(12)))
    elapsed = time.monotonic() - started
    assert len(results) == 12
    times = [r.time for r in fake.requests]
    assert len(times) == 12, [r.status for r in fake.requests]  # no 429, no retry
    assert all(r.status == 200 for r in fake.requests)
    assert max_in_any_window(times) <= 5
    assert elapsed >= 2.0  # 12 requests at 5 per 1.05 s need two full windows


# --- pagination --------------------------------------------------------------------------------


async def test_projects_follow_next_across_pages(fake: FakeBotify, client: BotifyClient):
    for i in range(4):
        fake.add_project("other-org", f"site{i}.example", graph=GRAPH)
    fake.max_page_size = 2  # the client asks for 100 a page; the fake clamps to 2
    projects = await client.projects("jane.doe")
    assert [p.label for p in projects] == [
        f"{ORG}/{PROJECT}",
        *(f"other-org/site{i}.example" for i in range(4)),
    ]
    assert projects[0].name == "Example Site"
    pages = fake.find_requests("/v1/projects/jane.doe")
    assert [r.query.get("page", "1") for r in pages] == ["1", "2", "3"]
    assert all(r.headers["authorization"] == f"Token {TOKEN}" for r in pages)


async def test_analyses_newest_first_successful_only_across_pages(
    fake: FakeBotify, client: BotifyClient
):
    fake.max_page_size = 1
    analyses = await client.analyses(ORG, PROJECT)
    assert [a.slug for a in analyses] == [A, "20241108", "20241001"]
    assert all(a.status == "success" for a in analyses)
    assert analyses[0].label.startswith(A)
    assert len(fake.find_requests("/light")) == 3


async def test_absolute_next_on_another_host_is_rehomed(fake: FakeBotify):
    """The fake writes `next` as http://127.0.0.1:PORT/…; a client configured on
    http://localhost:PORT must follow it on localhost (its own base), not the other host."""
    fake.max_page_size = 1
    base = f"http://localhost:{fake.port}"
    async with make_client(fake, base_url=base) as c:
        analyses = await c.analyses(ORG, PROJECT)
    assert len(analyses) == 3
    pages = fake.find_requests("/light")
    assert len(pages) == 3
    assert {r.headers["host"] for r in pages} == {f"localhost:{fake.port}"}


# --- resolve() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base,link,expected",
    [
        ("https://api.botify.com", "/v1/jobs/1", "https://api.botify.com/v1/jobs/1"),
        ("https://api.botify.com", "v1/jobs/1", "https://api.botify.com/v1/jobs/1"),
        (
            "https://api.botify.com",
            "https://api.botify.com/v1/projects/u?page=2&size=2",
            "https://api.botify.com/v1/projects/u?page=2&size=2",
        ),
        (
            "http://127.0.0.1:9",
            "https://api.botify.com/v1/projects/u?page=2&size=2",
            "http://127.0.0.1:9/v1/projects/u?page=2&size=2",
        ),
        ("http://127.0.0.1:9", "/v1/jobs/7", "http://127.0.0.1:9/v1/jobs/7"),
        ("http://proxy.local/botify", "/v1/jobs/7", "http://proxy.local/botify/v1/jobs/7"),
        (
            "http://proxy.local/botify",
            "https://api.botify.com/v1/analyses/o/p?page=3",
            "http://proxy.local/botify/v1/analyses/o/p?page=3",
        ),
        (
            "http://proxy.local/botify",
            "http://proxy.local/botify/v1/analyses/o/p?page=3",
            "http://proxy.local/botify/v1/analyses/o/p?page=3",
        ),
        ("https://api.botify.com/v1", "/v1/jobs/1", "https://api.botify.com/v1/jobs/1"),
        ("https://api.botify.com/v1/", "/v1/jobs/1", "https://api.botify.com/v1/jobs/1"),
        (
            "http://proxy.local/botify/v1/",
            "https://api.botify.com/v1/jobs/1#frag",
            "http://proxy.local/botify/v1/jobs/1",
        ),
    ],
)
def test_resolve(base: str, link: str, expected: str):
    client = BotifyClient(TOKEN, base)
    try:
        assert client.resolve(link) == expected
    finally:
        asyncio.run(client.aclose())


def test_normalize_base_url():
    assert normalize_base_url(" https://api.botify.com/v1/ ") == "https://api.botify.com"
    assert normalize_base_url("http://h:1/p/v1") == "http://h:1/p"
    for bad in ["", "api.botify.com", "ftp://x", "https:///v1"]:
        with pytest.raises(BotifyError):
            normalize_base_url(bad)


# --- downloads never carry the token -----------------------------------------------------------


async def test_download_never_sends_the_token(fake: FakeBotify, client: BotifyClient):
    fake.polls_before_done = 0
    job = await client.create_job(job_payload())
    done = await client.job(job)
    url = done["results"]["download_url"]
    async with client.download_stream(url) as response:
        assert response.status_code == 200
        body = await response.aread()
    assert body[:2] == b"\x1f\x8b"
    (download,) = fake.find_requests("/downloads/")
    assert "authorization" not in download.headers
    assert all(TOKEN not in value for value in download.headers.values())
    # …while every API call carried it.
    assert all(r.headers.get("authorization") == f"Token {TOKEN}" for r in api_requests(fake))


# --- mask_token ----------------------------------------------------------------------------------


def test_mask_token():
    assert mask_token(None) == "(none)"
    assert mask_token("") == "(none)"
    masked = mask_token("abcdefghijklmnop")
    assert masked.endswith("mnop") and "abcdefghijkl" not in masked
    assert masked.count("•") == 8
    assert mask_token("short") == "•" * 8  # too short to show any of it
    assert mask_token("12345678") == "•" * 8


# --- parse_project_ref -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("https://app.botify.com/acme-org/example.com/", ProjectRef("acme-org", "example.com")),
        ("https://app.botify.com/acme-org/example.com", ProjectRef("acme-org", "example.com")),
        (
            "https://app.botify.com/acme-org/example.com/20241108-2/segmentation?x=1#top",
            ProjectRef("acme-org", "example.com", "20241108-2"),
        ),
        (
            "https://app.botify.com/acme-org/example.com/20241108/",
            ProjectRef("acme-org", "example.com", "20241108"),
        ),
        (
            "https://app.botify.com/acme-org/example.com/settings/",
            ProjectRef("acme-org", "example.com"),
        ),
        (
            "https://app.botify.com/acme-org/example.com?tab=1",
            ProjectRef("acme-org", "example.com"),
        ),
        ("https://app.botify.com/acme-org/example.com#x", ProjectRef("acme-org", "example.com")),
        ("HTTPS://APP.BOTIFY.COM/Acme/Site/", ProjectRef("Acme", "Site")),
        ("http://botify.com/acme-org/example.com", ProjectRef("acme-org", "example.com")),
        ("  acme-org/example.com  ", ProjectRef("acme-org", "example.com")),
        ("acme-org/example.com/20241108-2", ProjectRef("acme-org", "example.com", "20241108-2")),
        ("app.botify.com/acme-org/example.com/", ProjectRef("acme-org", "example.com")),
        # a newline is not the end of a slug: the analysis is not captured
        ("acme-org/example.com/20241108\n/x", ProjectRef("acme-org", "example.com")),
        ("botify.com/acme-org/example.com?x", ProjectRef("acme-org", "example.com")),
        (
            "https://api.botify.com/v1/projects/acme-org/example.com/query",
            ProjectRef("acme-org", "example.com"),
        ),
    ],
)
def test_parse_project_ref_valid(text: str, expected: ProjectRef):
    assert parse_project_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "acme-org",
        "https://app.botify.com/acme-org/",
        "https://app.botify.com/",
        "https://example.com/acme-org/example.com/",
        "https://botify.com.evil.test/acme-org/example.com/",
        "https://evilbotify.com/acme-org/example.com/",
        "ftp://app.botify.com/acme-org/example.com/",
        "file:///etc/passwd",
        "../..",
        "../../etc",
        "acme-org/..",
        "./x",
        "-org/project",
        "acme org/project",
        "acme-org/pro ject",
        "acme-org\n/example.com",
        "acme-org/example.com\n/x",
        "https://app.botify.com/acme-org%2F../example.com/",
        "a\x00b/c",
    ],
)
def test_parse_project_ref_invalid(text: str):
    with pytest.raises(ValueError) as info:
        parse_project_ref(text)
    assert str(info.value)  # a message the user can read


CHARS = list(string.ascii_letters + string.digits + ".-_:?#%@ \t\n\r\x00\x0b\x0c\u00e9\u2028")
SEGMENT = st.text(alphabet=st.sampled_from(CHARS), max_size=12) | st.sampled_from(
    ["..", ".", "acme-org", "example.com", "20241108-2", "20241108\n", "v1", "api"]
)
URLISH = st.lists(SEGMENT, max_size=5).map("/".join)
PREFIXES = st.sampled_from(
    ["", "https://app.botify.com/", "http://botify.com/", "app.botify.com/", "https://x.y/", "//"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=PREFIXES, rest=URLISH | st.text(max_size=40))
def test_parse_project_ref_never_crashes_nor_returns_unsafe_names(prefix: str, rest: str):
    try:
        ref = parse_project_ref(prefix + rest)
    except ValueError:
        return
    for name in (ref.org, ref.project):
        assert name
        assert "/" not in name and "\\" not in name
        assert name.strip(".") != ""
        assert not any(ch.isspace() for ch in name)
        assert "\x00" not in name
    if ref.analysis is not None:
        assert not any(ch.isspace() for ch in ref.analysis) and "/" not in ref.analysis

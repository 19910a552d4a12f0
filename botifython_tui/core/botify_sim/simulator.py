"""A simulator of the Botify REST API (subset), served over real HTTP on 127.0.0.1.

Botify behaviour in one place: the demo (``botifython --demo``) serves its simulated account
with it, and the test suite's fake server (``tests/fakes/botify_server``) is this class under
its old name. Standard library only.

Quick start::

    from botifython_tui.core.botify_sim import BotifySimulator as FakeBotify, SyntheticGraph

    graph = SyntheticGraph(depth_sizes=[1, 10, 100, 1000], out_degree=(2, 8), seed=0)
    with FakeBotify(token="good-token", username="jane.doe", list_page_size=2) as fake:
        fake.add_project("acme-org", "example.com", analyses=["20241108-2", "20241108"], graph=graph)
        httpx.get(fake.base_url + "/v1/authentication/profile",
                  headers={"Authorization": "Token good-token"})

Run standalone (foreground, Ctrl-C to stop), from the source tree::

    python -m tests.fakes.botify_server --port 8765 --edges 1000000 --token good-token

Only what the product sends is simulated: the profile, the projects, the analyses (``/light``),
the collections, ``/query`` (the BQL subset in ``bql.py``), export jobs and their downloads. Any
other route is 404 (1000); any other BQL is 400 (1044, "not simulated"). The fault knobs are
listed on the class and in ``faults.FAULT_MODES``. This facade is a little over 500 lines
because its class docstring documents every knob, the public surface tests and the demo use.

Design notes (where the protocol is unverified, marked [U] there, the fake picks one
behaviour and makes the alternatives configurable):

* Errors use the documented envelope ``{"error": {"error_code": "1010", "message": ...}}``.
  ``error_code`` is a string unless ``error_code_as_number`` is set.
* 401 bodies: envelope (default) or DRF ``{"detail": ...}`` (``unauthorized_shape="drf"``).
  Both carry ``WWW-Authenticate: Token``.
* Only *API* requests (anything that is not ``/downloads/...``) are delayed by
  ``response_delay``, rate limited, and matched by ``inject(path=None)``. An ``inject`` with an
  explicit ``path`` can also hit downloads.
* Downloads need no auth and ignore any ``Authorization`` header.
* ``/collections`` and ``/query`` know only analyses with status ``success``; a collection
  for any other analysis is 404 (1004), like an unknown one.
* ``/query`` returns a multi-valued field (``outlinks_internal.graph.url``) as a JSON list,
  one row per URL; only exports expand it to one row per edge (rows with no outlinks vanish).
* Unknown collections (or ``search_console`` on a project without it) and missing
  ``periods`` are 400 (1022). Unknown routes and wrong methods are 404 (1000). Unknown jobs
  are 404 (1006). Any job-payload problem other than an unknown project or a bad query is
  400 (1020), including ``export_size`` above ``max_export_size``.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from botifython_tui.core.botify_sim.bql import Plan, QueryResult, compile_query, run_query
from botifython_tui.core.botify_sim.catalogue import (
    ANALYSIS_STATUSES,
    SimAnalysis,
    SimProject,
    analysis_name,
    parse_dt,
    slug_datetime,
)
from botifython_tui.core.botify_sim.faults import ApiError, FaultInjection, Injection
from botifython_tui.core.botify_sim.graph import SyntheticGraph
from botifython_tui.core.botify_sim.http import (
    RecordedRequest,
    Response,
    SimulatorHandler,
    json_response,
)
from botifython_tui.core.botify_sim.jobs import ExportJobs
from botifython_tui.core.http_server import BackgroundServer

_Route = tuple[str, re.Pattern, str]
_ROUTES: list[_Route] = [
    ("GET", re.compile(r"/v1/authentication/profile/?"), "_h_profile"),
    ("GET", re.compile(r"/v1/projects/(?P<user>[^/]+)/?"), "_h_projects"),
    ("GET", re.compile(r"/v1/analyses/(?P<org>[^/]+)/(?P<project>[^/]+)/light/?"), "_h_analyses"),
    (
        "GET",
        re.compile(r"/v1/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/collections/?"),
        "_h_collections",
    ),
    ("POST", re.compile(r"/v1/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/query/?"), "_h_query"),
    ("POST", re.compile(r"/v1/jobs/?"), "_h_create_job"),
    ("GET", re.compile(r"/v1/jobs/(?P<job_id>[^/]+)/?"), "_h_get_job"),
]


class BotifySimulator(FaultInjection, ExportJobs, BackgroundServer[RecordedRequest]):
    """A simulated Botify API server on 127.0.0.1 (port 0 by default), HTTP/1.1 keep-alive.

    Knobs (plain attributes, settable at any time):

    * ``response_delay``: seconds added to every API response (not downloads).
    * ``rate_limit_rps``: more than this many API requests in any 1 s window get 429
      (envelope 1053); ``retry_after_on_rate_limit`` adds ``Retry-After``. Rejected requests
      do not count towards the window.
    * ``polls_before_done``: job polls answered PROCESSING before the terminal one
      (0: the first poll is terminal). ``poll_delay``: extra delay on job polls.
    * ``job_outcome``: ``"done"`` | ``"failed"`` | ``"done_without_results"`` (DONE, results null).
    * ``job_error_message``: the ``error.message`` of a failed job.
    * ``download_fault``: None | ``"truncated"`` (half the bytes, matching Content-Length) |
      ``"forbidden"`` (403 S3 XML) | ``"not_found"`` (404 S3 XML) | ``"empty"`` (header only) |
      ``"short"`` (a valid file with a tenth of the rows, and no ``nb_lines`` in the results) |
      ``"nb_lines_mismatch"`` (a tenth of the rows while ``nb_lines`` gives the full count) |
      ``"drop"`` (the connection closes after half the body, Content-Length announcing all).
      ``empty``, ``short`` and ``nb_lines_mismatch`` are fixed when a job turns DONE.
    * ``download_fault_times``: None (the download fault lasts) or N: only the next N downloads
      get the fault (``truncated``, ``drop``, ``forbidden``, ``not_found``), later ones are fine.
    * ``accept_ranges``: downloads honour ``Range: bytes=N-`` with 206 (default True, like S3
      and CloudFront); False ignores the header and answers 200 with the whole file.
    * ``download_format``: None (zip when extra_config filetype/compression is zip, else gzip)
      | ``"gzip"`` | ``"zip"`` | ``"plain"``. ``download_rate``: bytes/s cap on downloads.
      ``download_seconds``: pace each whole download to last about this long (the demo's
      visible progress); ``download_rate`` wins when both are set.
    * ``error_code_as_number``, ``unauthorized_shape`` (``"envelope"`` | ``"drf"``),
      ``max_export_size`` (1,000,000), ``query_count`` (include ``count`` on /query),
      ``list_page_size``, ``query_page_size``, ``max_page_size``.

    Records: ``requests`` (:class:`RecordedRequest`), ``jobs`` (job_id -> dict with
    ``payload``, ``status``, ``polls``, ``results``...), ``injections``, ``injected_served``.
    """

    def __init__(
        self,
        token: str = "good-token",
        username: str = "jane.doe",
        *,
        list_page_size: int = 10,
        query_page_size: int = 500,
        max_page_size: int = 2000,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.token: str | None = token
        self.username = username
        parts = re.split(r"[._-]+", username)
        self.email = email or f"{username}@example.com"
        self.first_name = first_name if first_name is not None else parts[0].capitalize()
        self.last_name = (
            last_name
            if last_name is not None
            else (parts[1].capitalize() if len(parts) > 1 else "")
        )
        self.list_page_size = list_page_size
        self.query_page_size = query_page_size
        self.max_page_size = max_page_size
        # --- knobs -------------------------------------------------------------------------
        self.response_delay: float = 0.0
        self.rate_limit_rps: float | None = None
        self.retry_after_on_rate_limit: float | int | str | None = None
        self.polls_before_done: int = 2
        self.poll_delay: float = 0.0
        self.job_outcome: str = "done"  # "done" | "failed" | "done_without_results"
        self.job_error_message: str = "The export failed"  # the failed job's error.message
        self.download_fault: str | None = None  # see the class docstring
        self.download_fault_times: int | None = None  # None: every download
        self.accept_ranges: bool = True
        self.download_format: str | None = None  # None|"gzip"|"zip"|"plain"
        self.download_rate: float | None = None  # bytes per second
        self.download_seconds: float | None = None  # pace each download to last about this long
        self.error_code_as_number: bool = False
        self.unauthorized_shape: str = "envelope"  # "envelope" | "drf"
        self.max_export_size: int = 1_000_000
        self.query_count: bool = True
        # --- records -----------------------------------------------------------------------
        self.jobs: dict[int, dict[str, Any]] = {}
        self.injections: list[Injection] = []
        self.injected_served: int = 0
        self.projects: list[SimProject] = []
        # --- internals ---------------------------------------------------------------------
        self._rate_window: deque[float] = deque()
        self._next_job_id = 100_001
        self._next_pk = 10_001
        self._query_cache: OrderedDict[str, QueryResult] = OrderedDict()

    # -- life cycle (start, stop, port, base_url: the shared base) ---------------------------

    handler = SimulatorHandler
    thread_name = "FakeBotify"

    @property
    def base_url(self) -> str:
        """API root, e.g. ``http://127.0.0.1:PORT`` (the API lives under ``/v1``)."""
        return super().base_url

    # -- configuration ------------------------------------------------------------------------

    def add_project(
        self,
        org: str,
        slug: str,
        name: str | None = None,
        analyses: Iterable[str | dict[str, Any]] = ("20241108",),
        graph: SyntheticGraph | dict[str, SyntheticGraph] | None = None,
        has_search_console: bool = False,
        *,
        org_name: str | None = None,
        date_created: str | datetime | None = None,
        active: bool = True,
    ) -> SimProject:
        """Register a project.

        ``analyses``: strings (status success, dates from the slug) or dicts with ``slug`` and
        optional ``status``, ``date_launched``, ``name``, ``friendly_name``, ``graph``.
        ``graph``: one graph for every analysis, or ``{slug: graph}``; analyses without a graph
        use a small default graph for the project's host.
        """
        default_graph = None
        if isinstance(graph, SyntheticGraph):
            default_graph = graph
        if default_graph is None:
            host = "https://" + slug if "." in slug else "https://example.com"
            default_graph = SyntheticGraph([1, 5, 25], out_degree=(2, 5), seed=slug, host=host)
        graph_map = graph if isinstance(graph, dict) else {}
        items: list[SimAnalysis] = []
        for entry in analyses:
            spec = {"slug": entry} if isinstance(entry, str) else dict(entry)
            a_slug = spec["slug"]
            status = spec.get("status", "success")
            if status not in ANALYSIS_STATUSES:
                raise ValueError(f"unknown analysis status {status!r}")
            launched = (
                parse_dt(spec["date_launched"])
                if spec.get("date_launched")
                else slug_datetime(a_slug)
            )
            items.append(
                SimAnalysis(
                    slug=a_slug,
                    status=status,
                    date_launched=launched,
                    name=spec.get("name") or analysis_name(launched, a_slug),
                    graph=spec.get("graph") or graph_map.get(a_slug) or default_graph,
                    pk=self._alloc_pk(),
                    friendly_name=spec.get("friendly_name"),
                )
            )
        if date_created is None:
            created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        else:
            created = parse_dt(date_created)
        base_org = re.sub(r"-org$", "", org)
        project = SimProject(
            org=org,
            slug=slug,
            name=name or slug,
            org_name=org_name or base_org.replace("-", " ").title(),
            analyses=items,
            has_search_console=has_search_console,
            date_created=created,
            pk=self._alloc_pk(),
            active=active,
        )
        with self._lock:
            self.projects = [p for p in self.projects if not (p.org == org and p.slug == slug)]
            self.projects.append(project)
            self._query_cache.clear()
        return project

    def _alloc_pk(self) -> int:
        with self._lock:
            pk = self._next_pk
            self._next_pk += 1
            return pk

    def project(self, org: str, slug: str) -> SimProject | None:
        with self._lock:
            for p in self.projects:
                if p.org == org and p.slug == slug:
                    return p
        return None

    def find_requests(self, path: str | None = None, method: str | None = None) -> list:
        """Recorded requests whose path contains ``path`` (and with ``method``)."""
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if (path is None or path in r.path) and (method is None or r.method == method.upper())
        ]

    # -- request entry point ------------------------------------------------------------------

    def _record(
        self, method: str, raw_path: str, headers: Any, body: bytes, client: Any = None
    ) -> RecordedRequest:
        split = urlsplit(raw_path)
        parsed_json = None
        if body:
            try:
                parsed_json = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed_json = None
        rec = RecordedRequest(
            method=method.upper(),
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in headers.items()},
            json=parsed_json,
            time=time.monotonic(),
            body=body,
            raw_path=raw_path,
            client=tuple(client) if client else None,
        )
        return self.record(rec)

    def _respond(self, rec: RecordedRequest) -> Response:
        is_api = not rec.path.startswith("/downloads/")
        try:
            inj = self._take_injection(rec, is_api)
            if inj is not None:
                resp = self._injected_response(inj)
            elif not is_api:
                resp = self._download(rec)
            elif self._rate_limited(rec):
                headers = []
                if self.retry_after_on_rate_limit is not None:
                    headers.append(("Retry-After", str(self.retry_after_on_rate_limit)))
                resp = json_response(429, self._envelope("1053", "Too many requests"), headers)
            else:
                resp = self._route(rec)
        except ApiError as exc:
            resp = self._error_response(exc)
        except Exception:  # a bug in the simulator: make it visible
            self.report_bug()
            resp = json_response(500, self._envelope("1000", "Unknown error"))
        if is_api:
            resp.delay += float(self.response_delay or 0.0)
        return resp

    def report_bug(self) -> None:
        """An exception inside a handler (answered 500): printed here, logged by the demo."""
        traceback.print_exc()

    def _route(self, rec: RecordedRequest) -> Response:
        for method, rx, handler in _ROUTES:
            m = rx.fullmatch(rec.path)
            if m and rec.method in (method, "HEAD" if method == "GET" else method):
                self._check_auth(rec)
                params = {k: unquote(v) if v else v for k, v in m.groupdict().items()}
                return getattr(self, handler)(rec, **params)
        raise ApiError(404, 1000, "Not found", {"path": rec.path, "method": rec.method})

    def _check_auth(self, rec: RecordedRequest) -> None:
        header = rec.headers.get("authorization")
        if not header:
            raise ApiError(
                401,
                1001,
                "Not Authorized",
                {"drf": "Authentication credentials were not provided."},
            )
        parts = header.strip().split(None, 1)
        if (
            len(parts) != 2
            or parts[0].lower() != "token"
            or self.token is None
            or parts[1].strip() != self.token
        ):
            raise ApiError(401, 1001, "Not Authorized", {"drf": "Invalid token."})

    # -- response helpers ---------------------------------------------------------------------

    def _page_params(self, rec: RecordedRequest, default_size: int) -> tuple[int, int]:
        try:
            page = int(rec.query.get("page") or 1)
            size = int(rec.query.get("size") or default_size)
        except ValueError:
            raise ApiError(
                400, 1020, "Badly formatted request", {"page/size": "must be integers"}
            ) from None
        if page < 1:
            raise ApiError(400, 1020, "Badly formatted request", {"page": "must be >= 1"})
        size = max(1, min(size, self.max_page_size))
        return page, size

    def _page_url(self, rec: RecordedRequest, page: int, size: int) -> str:
        pairs = [
            (k, v)
            for k, v in parse_qsl(urlsplit(rec.raw_path).query, keep_blank_values=True)
            if k not in ("page", "size")
        ]
        pairs += [("page", str(page)), ("size", str(size))]
        return f"{self.base_url}{rec.path}?{urlencode(pairs)}"

    def _paginated(
        self,
        rec: RecordedRequest,
        count: int,
        fetch: Callable[[int, int], list],
        default_size: int,
        include_count: bool = True,
    ) -> dict[str, Any]:
        page, size = self._page_params(rec, default_size)
        start = (page - 1) * size
        results = fetch(start, start + size) if start < count else []
        payload: dict[str, Any] = {}
        if include_count:
            payload["count"] = count
        payload["next"] = self._page_url(rec, page + 1, size) if start + size < count else None
        payload["previous"] = self._page_url(rec, page - 1, size) if page > 1 else None
        payload["page"] = page
        payload["size"] = size
        payload["results"] = results
        return payload

    def _get_project(self, org: str, slug: str) -> SimProject:
        p = self.project(org, slug)
        if p is None:
            raise ApiError(404, 1010, "Project was not found", {"project": f"{org}/{slug}"})
        return p

    # -- handlers -----------------------------------------------------------------------------

    def _h_profile(self, rec: RecordedRequest) -> Response:
        return json_response(
            200,
            {
                "data": {
                    "username": self.username,
                    "email": self.email,
                    "first_name": self.first_name,
                    "last_name": self.last_name,
                }
            },
        )

    def _h_projects(self, rec: RecordedRequest, user: str) -> Response:
        with self._lock:
            projects = list(self.projects)
        if user == self.username:
            selected = projects
        else:
            selected = [p for p in projects if p.org == user]
            if not selected:
                raise ApiError(404, 1007, "User was not found", {"username": user})
        owner = {
            "username": self.username,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }
        items = [p.as_json(owner) for p in selected]
        return json_response(
            200,
            self._paginated(rec, len(items), lambda a, b: items[a:b], self.list_page_size),
        )

    def _h_analyses(self, rec: RecordedRequest, org: str, project: str) -> Response:
        p = self._get_project(org, project)
        only_success = rec.query.get("only_success", "true").strip().lower() not in (
            "false",
            "0",
            "no",
            "off",
        )
        analyses = p.sorted_analyses()
        if only_success:
            analyses = [a for a in analyses if a.status == "success"]
        items = [a.light(p.org, p.slug) for a in analyses]
        return json_response(
            200,
            self._paginated(rec, len(items), lambda a, b: items[a:b], self.list_page_size),
        )

    def _h_collections(self, rec: RecordedRequest, org: str, project: str) -> Response:
        p = self._get_project(org, project)
        out = []
        success = p.successful()
        for a in success:
            out.append(
                {
                    "id": f"crawl.{a.slug}",
                    "name": a.name,
                    "date": a.date_launched.strftime("%Y-%m-%d"),
                    "timestamped": False,
                }
            )
        if p.has_search_console:
            latest = success[0].date_launched if success else datetime(2024, 1, 1, tzinfo=UTC)
            out.append(
                {
                    "id": "search_console",
                    "name": "Search Console",
                    "date": latest.strftime("%Y-%m-%d"),
                    "timestamped": True,
                    "date_start": (latest - timedelta(days=480)).strftime("%Y-%m-%d"),
                    "date_end": (latest - timedelta(days=2)).strftime("%Y-%m-%d"),
                }
            )
        return json_response(200, out)

    # -- BQL ----------------------------------------------------------------------------------

    def _run_query(self, plan: Plan) -> QueryResult:
        key = plan.signature
        with self._lock:
            cached = self._query_cache.get(key)
            if cached is not None:
                self._query_cache.move_to_end(key)
                return cached
        result = run_query(plan)
        with self._lock:
            self._query_cache[key] = result
            while len(self._query_cache) > 8:
                self._query_cache.popitem(last=False)
        return result

    def _h_query(self, rec: RecordedRequest, org: str, project: str) -> Response:
        p = self._get_project(org, project)
        if rec.json is None:
            raise ApiError(400, 1020, "Badly formatted request", {"reason": "JSON body expected"})
        plan = compile_query(p, rec.json)
        result = self._run_query(plan)

        def fetch(a: int, b: int) -> list[dict[str, list]]:
            return [{"dimensions": d, "metrics": m} for d, m in result.page(a, b)]

        payload = self._paginated(
            rec, result.count, fetch, self.query_page_size, include_count=self.query_count
        )
        return json_response(200, payload)

    # -- jobs ---------------------------------------------------------------------------------

    # -- exports and downloads ----------------------------------------------------------------

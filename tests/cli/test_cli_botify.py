"""The real CLI (`token`, `projects`, `analyses`, `linkgraph`) as a subprocess against a fake Botify.

Each command runs as `python -m botifython_tui` with `BOTIFY_API_URL` pointing at a FakeBotify
served over real HTTP on 127.0.0.1 from this test process. Independent runs are started side by
side (each fault gets its own fake, because the fake's knobs are global) to keep the file quick.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from botifython_tui.config import LOG_FILENAME
from botifython_tui.core.secrets import TOKEN_FILENAME, TokenStore
from botifython_tui.core.store import Store
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

TOKEN = "bt9f8e7d6c5b4a39281706f5e4d3c2b1a0ab12cd"  # distinctive, so a leak is easy to spot
MASKED = "••••••••" + TOKEN[-4:]
ORG, PROJECT = "acme-org", "example.com"
LATEST, OLDER, OLDEST = "20241108-2", "20241108", "20241001"
ANSI = re.compile(r"\x1b|\x9b")
LINKS_FILE = re.compile(r"_linkgraph_depth-(\d+)\.csv$")

ANALYTICS = ("_nodes.csv", "_report.md", "_analytics.json", "_analytics.npz")


def latest_graph() -> SyntheticGraph:
    return SyntheticGraph([1, 10, 100, 1000], out_degree=(2, 8), seed=0)


def oldest_graph() -> SyntheticGraph:
    return SyntheticGraph([1, 6, 36, 216], out_degree=(2, 5), seed=7)


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Workspace:
    """A data folder and a downloads folder for one CLI user."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def token_path(self) -> Path:
        return self.data / TOKEN_FILENAME

    def save_token(self, token: str = TOKEN) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        TokenStore(self.data).save(token)

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "botifython_tui",
            "--data-dir",
            str(self.data),
            "--downloads-dir",
            str(self.downloads),
            *args,
        ]

    def files(self) -> list[str]:
        """Every export file in downloads/, hidden ones (partial downloads) included; the
        analytics written after an export (nodes, report, cache) are left out."""
        if not self.downloads.exists():
            return []
        return sorted(p.name for p in self.downloads.iterdir() if not p.name.endswith(ANALYTICS))

    def exports(self) -> list:
        store = Store(self.data / "botifython.db")
        try:
            return [
                record
                for profile in store.profiles.list()
                for record in store.exports(profile.id).list()
            ]
        finally:
            store.close()


def cli_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTIFYTHON_", "BOTIFY_"))}
    env["BOTIFY_API_URL"] = base_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Running:
    """A CLI process started in the background."""

    def __init__(self, ws: Workspace, base_url: str, args: tuple[str, ...], stdin: str | None):
        self.args = args
        ws.root.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ws.argv(*args),
            cwd=ws.root,
            env=cli_env(base_url),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdin = stdin

    def result(self, timeout: float = 45) -> Result:
        try:
            out, err = self.proc.communicate(self.stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"botifython {' '.join(self.args)} timed out:\n{out}\n{err}")
        return Result(self.args, self.proc.returncode, out, err, time.monotonic() - self.started)


def run(ws: Workspace, fake: FakeBotify | str, *args: str, stdin: str | None = None) -> Result:
    base_url = fake if isinstance(fake, str) else fake.base_url
    return checked(Running(ws, base_url, args, stdin).result())


def checked(result: Result) -> Result:
    """What every run must respect: no token, no traceback, no terminal control codes."""
    for stream in (result.stdout, result.stderr):
        assert TOKEN not in stream
        assert not ANSI.search(stream), stream
        assert "Traceback" not in stream, stream
    return result


def wait_for(condition: Callable[[], object], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


def new_fake(**knobs: object) -> FakeBotify:
    # Pages of two (whatever size the client asks for), so listings span several pages.
    fake = FakeBotify(token=TOKEN, username="jane.doe", list_page_size=2, max_page_size=2).start()
    fake.add_project(
        ORG,
        PROJECT,
        name="Example Site",
        analyses=[LATEST, OLDER, OLDEST],
        graph={LATEST: latest_graph(), OLDER: latest_graph(), OLDEST: oldest_graph()},
    )
    fake.polls_before_done = 1
    for name, value in knobs.items():
        setattr(fake, name, value)
    return fake


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    fake = new_fake()
    yield fake
    fake.stop()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    ws.save_token()
    return ws


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def links_file(ws: Workspace) -> tuple[Path, int]:
    [name] = [n for n in ws.files() if LINKS_FILE.search(n)]
    return ws.downloads / name, int(LINKS_FILE.search(name).group(1))


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- token ---------------------------------------------------------------------------------------


def test_token_set_from_stdin_verifies_and_stores_it_privately(tmp_path, fake):
    ws = Workspace(tmp_path)
    result = run(ws, fake, "token", "set", stdin=TOKEN + "\n")
    assert result.returncode == 0, result.stderr
    assert "Connected as jane.doe" in result.stdout
    assert MASKED in result.stdout
    assert ws.token_path.read_text().strip() == TOKEN
    assert stat.S_IMODE(ws.token_path.stat().st_mode) == 0o600
    assert TOKEN not in (ws.data / LOG_FILENAME).read_text()
    [check] = fake.find_requests("/v1/authentication/profile")
    assert check.headers.get("authorization") == f"Token {TOKEN}"


def test_token_set_failures_store_nothing(tmp_path, fake):
    port = closed_port()
    cases = {
        "rejected": (fake.base_url, "not-the-right-token-9999\n", ()),
        "unreachable": (f"http://127.0.0.1:{port}", TOKEN, ()),
        "empty": (fake.base_url, "\n", ()),
        "two words": (fake.base_url, "two words\n", ()),
    }
    spaces = {name: Workspace(tmp_path / name.replace(" ", "-")) for name in cases}
    running = {
        name: Running(spaces[name], url, ("token", "set", *extra), stdin)
        for name, (url, stdin, extra) in cases.items()
    }
    results = {name: checked(proc.result()) for name, proc in running.items()}
    for name, result in results.items():
        assert result.returncode == 1, name
        assert result.stderr.startswith("botifython: error: "), name
        assert not spaces[name].token_path.exists(), name
    assert "rejected the API token (HTTP 401)" in results["rejected"].stderr
    assert "not-the-right-token-9999" not in results["rejected"].stderr
    assert f"127.0.0.1:{port}" in results["unreachable"].stderr
    assert results["unreachable"].seconds < 15
    assert "No token was given on standard input" in results["empty"].stderr
    assert "single word" in results["two words"].stderr
    assert "two words" not in results["two words"].stderr


def test_token_set_no_verify_stores_without_asking_botify(tmp_path):
    ws = Workspace(tmp_path)
    result = run(
        ws, f"http://127.0.0.1:{closed_port()}", "token", "set", "--no-verify", stdin=TOKEN
    )
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "without checking" in result.stderr
    assert MASKED in result.stdout
    assert ws.token_path.read_text().strip() == TOKEN


def test_token_has_no_positional_argument(ws, fake):
    result = run(ws, fake, "token", "set", TOKEN.replace("bt", "xx"))
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_token_status_and_clear(ws, fake):
    status = run(ws, fake, "token", "status")
    assert status.returncode == 0, status.stderr
    assert MASKED in status.stdout and "Connected as jane.doe" in status.stdout

    before = len(fake.requests)
    offline = run(ws, fake, "token", "status", "--offline")
    assert offline.returncode == 0 and MASKED in offline.stdout
    assert len(fake.requests) == before

    fake.revoke_token()
    rejected = run(ws, fake, "token", "status")
    assert rejected.returncode == 1
    assert MASKED in rejected.stdout
    assert "rejected the API token (HTTP 401)" in rejected.stderr

    cleared = run(ws, fake, "token", "clear")
    assert cleared.returncode == 0 and "Removed" in cleared.stdout
    assert not ws.token_path.exists()
    missing = run(ws, fake, "token", "status")
    assert missing.returncode == 1 and "No Botify API token is stored" in missing.stderr
    assert run(ws, fake, "token", "clear").stdout.startswith("No Botify API token was stored")
    assert TOKEN not in (ws.data / LOG_FILENAME).read_text()


# --- projects and analyses -----------------------------------------------------------------------


def test_projects_lists_every_page(ws, fake):
    fake.add_project(ORG, "shop.example.com", name="Shop")
    fake.add_project(ORG, "blog.example.com", name="Blog")
    result = run(ws, fake, "projects")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert {line.split()[0] for line in lines} == {
        f"{ORG}/{PROJECT}",
        f"{ORG}/shop.example.com",
        f"{ORG}/blog.example.com",
    }
    assert any("Example Site" in line for line in lines)
    assert len(fake.find_requests("/v1/projects/jane.doe")) == 2  # two pages of two


def test_analyses_newest_first_across_pages_with_exported_mark(ws, fake):
    slugs = ["20240801", "20241108", "20240905", "20241108-2", "20241001"]
    fake.add_project(ORG, "shop.example.com", analyses=slugs)
    store = Store(ws.data / "botifython.db")
    store.exports(store.profiles.current().id).add(
        org=ORG,
        project="shop.example.com",
        analysis="20240905",
        depth=3,
        edges=10,
        urls=5,
        links_path="x.csv",
        meta_path=None,
        summary={},
    )
    store.close()
    result = run(
        ws, fake, "analyses", "--project", f"https://app.botify.com/{ORG}/shop.example.com/"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "20241108-2",
        "20241108",
        "20241001",
        "20240905",
        "20240801",
    ]
    assert [line for line in lines if "*exported" in line] == [lines[3]]
    assert "2024-09-05" in lines[3]
    assert len(fake.find_requests("/light")) == 3  # five analyses, two per page

    bad = run(ws, fake, "analyses", "--project", "https://example.com/acme/x")
    assert bad.returncode == 1 and "not a Botify address" in bad.stderr


def test_projects_analyses_and_token_status_as_json(ws, fake):
    fake.add_project(ORG, "shop.example.com", name="Shop", analyses=["20240801", "20241108"])
    projects = run(ws, fake, "projects", "--json")
    assert projects.returncode == 0, projects.stderr
    listed = json.loads(projects.stdout)
    assert listed["username"] == "jane.doe"
    assert {(p["org"], p["slug"]) for p in listed["projects"]} >= {(ORG, "shop.example.com")}
    shop = next(p for p in listed["projects"] if p["slug"] == "shop.example.com")
    assert shop["name"] == "Shop" and shop["label"] == f"{ORG}/shop.example.com"

    analyses = run(ws, fake, "analyses", "--project", f"{ORG}/shop.example.com", "--json")
    assert analyses.returncode == 0, analyses.stderr
    found = json.loads(analyses.stdout)
    assert [a["slug"] for a in found["analyses"]] == ["20241108", "20240801"]
    assert all(a["exported"] is False for a in found["analyses"])

    status = run(ws, fake, "token", "status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["token"] == MASKED and state["source"] == "file"
    assert state["origin"] == str(ws.token_path) and state["username"] == "jane.doe"
    offline = json.loads(run(ws, fake, "token", "status", "--offline", "--json").stdout)
    assert offline["checked"] is False and offline["username"] is None


def test_token_from_the_environment_is_used_and_never_written(tmp_path, fake):
    ws = Workspace(tmp_path / "env-token")
    env = cli_env(fake.base_url)
    env["BOTIFY_API_TOKEN"] = TOKEN
    result = subprocess.run(
        ws.argv("token", "status", "--json"),
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert (state["source"], state["origin"], state["username"]) == (
        "env",
        "BOTIFY_API_TOKEN",
        "jane.doe",
    )
    assert TOKEN not in result.stdout + result.stderr
    assert not ws.token_path.exists()  # used, never stored
    for path in ws.data.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    text = subprocess.run(
        ws.argv("token", "status", "--offline"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert "environment variable BOTIFY_API_TOKEN" in text.stdout


# --- linkgraph -----------------------------------------------------------------------------------


def assert_links_file(path: Path, graph: SyntheticGraph, depth: int) -> None:
    raw = path.read_bytes()
    assert not raw.startswith(b"sep=") and b"\nsep=" not in raw
    rows = read_csv(path)
    assert rows[0] == ["source", "target"]
    assert len(rows) - 1 == graph.edge_count(depth)
    assert all(len(row) == 2 and row[0] and row[1] for row in rows[1:])


def test_linkgraph_exports_summarises_and_records(ws, fake):
    result = run(
        ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.01"
    )
    assert result.returncode == 0, result.stderr
    links, depth = links_file(ws)
    assert LATEST in links.name  # the latest analysis by default
    assert_links_file(links, latest_graph(), depth)
    meta = ws.downloads / f"{ORG}_{PROJECT}_{LATEST}_depth-{depth}_meta.csv"
    meta_rows = read_csv(meta)
    assert meta_rows[0][:2] == ["id", "depth"]
    assert len(meta_rows) - 1 == latest_graph().url_count(depth + 1)
    assert not [name for name in ws.files() if name.startswith(".")]
    # The analytics ran after the export: the report and the nodes file are beside the CSVs.
    stem = f"{ORG}_{PROJECT}_{LATEST}_depth-{depth}"
    assert (ws.downloads / f"{stem}_report.md").is_file()
    assert (ws.downloads / f"{stem}_nodes.csv").is_file()
    assert f"{stem}_report.md" in result.stdout

    out = result.stdout
    assert str(links) in out and str(meta) in out
    urls = latest_graph().url_count(depth)
    edges = latest_graph().edge_count(depth)
    for expected in (
        f"URLs   {urls:,}",
        f"edges  {edges:,}",
        "URLs per depth",
        "Outlinks per URL",
        "Inlinks per URL",
        "Top 10 hubs",
        "URLs without inlinks: 1",
        "█",
        "Recorded as export 1",
    ):
        assert expected in out, expected
    # progress goes to standard error, the summary to standard output
    assert "export job" in result.stderr and "wrote" in result.stderr
    assert "export job" not in out

    [record] = ws.exports()
    assert (record.org, record.project, record.analysis) == (ORG, PROJECT, LATEST)
    assert (record.depth, record.edges, record.urls) == (depth, edges, urls)
    assert record.links_path == str(links) and record.meta_path == str(meta)

    # A second export of the same analysis at the same depth replaces its files: it asks
    # (exit code 3 without a terminal), and creates no job until told --yes.
    jobs = len(fake.jobs)
    again = run(ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}")
    assert again.returncode == 3
    assert "already exported at depth" in again.stderr and "--yes" in again.stderr
    assert links.name in again.stderr and "credits" in again.stderr
    assert len(fake.jobs) == jobs
    explicit = run(ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}", "--analysis", LATEST)
    assert explicit.returncode == 3 and "--yes" in explicit.stderr
    assert len(fake.jobs) == jobs and not fake.find_requests("/v1/jobs", "POST")[jobs:]
    forced = run(
        ws,
        fake,
        "linkgraph",
        "--project",
        f"{ORG}/{PROJECT}",
        "--yes",
        "--poll-interval",
        "0",
        "--json",
    )
    assert forced.returncode == 0, forced.stderr
    summary = json.loads(forced.stdout)  # one JSON document, nothing else on stdout
    assert (summary["org"], summary["project"], summary["analysis"]) == (ORG, PROJECT, LATEST)
    assert (summary["depth"], summary["edges"], summary["urls"]) == (depth, edges, urls)
    assert str(links) in summary["files"] and summary["export_id"] == 2
    assert "export job" in forced.stderr
    assert len(ws.exports()) == 2
    assert_links_file(links, latest_graph(), depth)


def test_linkgraph_analysis_choice_and_budget(tmp_path, fake):
    older_depth2 = latest_graph().edge_count(2)
    cases = {
        "option": ("--project", f"{ORG}/{PROJECT}", "--analysis", OLDEST),
        "url": ("--project", f"https://app.botify.com/{ORG}/{PROJECT}/{OLDER}/segmentation/"),
        "budget": (
            "--project",
            f"{ORG}/{PROJECT}",
            "--max-edges",
            f"{older_depth2:_}",
            "--no-meta",
        ),
        "unknown": ("--project", f"{ORG}/{PROJECT}", "--analysis", "20200101"),
        "profile": ("--project", f"{ORG}/{PROJECT}", "--profile", "nobody"),
    }
    spaces = {name: Workspace(tmp_path / name) for name in cases}
    running = {}
    for name, args in cases.items():
        spaces[name].save_token()
        running[name] = Running(
            spaces[name],
            fake.base_url,
            ("linkgraph", "--yes", *args, "--poll-interval", "0.01"),
            None,
        )
    results = {name: checked(proc.result()) for name, proc in running.items()}

    option = results["option"]
    assert option.returncode == 0, option.stderr
    links, depth = links_file(spaces["option"])
    assert OLDEST in links.name
    assert_links_file(links, oldest_graph(), depth)

    url = results["url"]
    assert url.returncode == 0, url.stderr
    links, depth = links_file(spaces["url"])
    assert f"_{OLDER}_" in links.name
    assert_links_file(links, latest_graph(), depth)

    budget = results["budget"]
    assert budget.returncode == 0, budget.stderr
    links, depth = links_file(spaces["budget"])
    assert depth == 2
    assert_links_file(links, latest_graph(), 2)
    assert spaces["budget"].files() == [links.name]  # --no-meta: no node file
    assert "over the budget" in budget.stdout

    unknown = results["unknown"]
    assert unknown.returncode == 1
    assert "has no analysis 20200101" in unknown.stderr
    assert "botifython analyses --project" in unknown.stderr
    assert spaces["unknown"].files() == []

    profile = results["profile"]
    assert profile.returncode == 1 and "nobody" in profile.stderr
    assert spaces["profile"].files() == []


def test_linkgraph_rejects_bad_numbers(ws):
    url = f"http://127.0.0.1:{closed_port()}"
    for value in ("0", "-5", "lots"):
        result = run(
            ws, url, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--max-edges", value
        )
        assert result.returncode == 2
        assert "argument --max-edges" in result.stderr
    result = run(
        ws, url, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "-1"
    )
    assert result.returncode == 2 and "argument --poll-interval" in result.stderr


def test_linkgraph_without_a_token(tmp_path, fake):
    result = run(Workspace(tmp_path), fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}")
    assert result.returncode == 1 and "botifython token set" in result.stderr


# --- faults --------------------------------------------------------------------------------------

FAULTS: dict[str, tuple[dict[str, object], Callable[[FakeBotify], None] | None, str | None]] = {
    # name: (fake knobs, setup, expected message; None means the export must succeed)
    "401 token revoked": ({}, FakeBotify.revoke_token, "rejected the API token (HTTP 401)"),
    "404 unknown project": ({}, None, "Not found on Botify"),
    "job FAILED": ({"job_outcome": "failed"}, None, "the links export failed"),
    "DONE without results": (
        {"job_outcome": "done_without_results"},
        None,
        "gave no download link",
    ),
    "truncated gzip": ({"download_fault": "truncated"}, None, "kept breaking off"),
    "empty export": ({"download_fault": "empty"}, None, "came back empty"),
    "short export": ({"download_fault": "short"}, None, "holds only"),
    "nb_lines mismatch": (
        {"download_fault": "nb_lines_mismatch"},
        None,
        "row count for the file says",
    ),
    "dropped download, resumed": (
        {"download_fault": "drop", "download_fault_times": 1},
        None,
        None,
    ),
    "dropped download, no Range": (
        {"download_fault": "drop", "download_fault_times": 1, "accept_ranges": False},
        None,
        None,
    ),
    "403 on download": ({"download_fault": "forbidden"}, None, "refused (HTTP 403)"),
    "429 until retries run out": (
        {},
        lambda f: f.inject(429, path="/query", retry_after=0.05, times=None),
        "kept rate-limiting",
    ),
    "500 twice then success": ({}, lambda f: f.inject(500, path="/query", times=2), None),
    "429 with Retry-After then success": (
        {},
        lambda f: f.inject(429, path="/query", retry_after=1, times=1),
        None,
    ),
}


@dataclass
class FaultRun:
    fake: FakeBotify
    ws: Workspace
    result: Result


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory) -> Iterator[dict[str, FaultRun]]:
    """Every fault scenario, each on its own fake, run side by side."""
    started = {}
    for name, (knobs, setup, _) in FAULTS.items():
        fake = new_fake(**knobs)
        if setup is not None:
            setup(fake)
        ws = Workspace(tmp_path_factory.mktemp(re.sub(r"\W+", "-", name)))
        ws.save_token()
        project = f"{ORG}/unknown.example" if name.startswith("404") else f"{ORG}/{PROJECT}"
        args = ("linkgraph", "--yes", "--project", project, "--poll-interval", "0.01")
        started[name] = (fake, ws, Running(ws, fake.base_url, args, None))
    runs = {
        name: FaultRun(fake, ws, checked(proc.result()))
        for name, (fake, ws, proc) in started.items()
    }
    yield runs
    for run_ in runs.values():
        run_.fake.stop()


@pytest.mark.parametrize("name", list(FAULTS))
def test_linkgraph_faults(fault_runs, name):
    run_ = fault_runs[name]
    result = run_.result
    expected = FAULTS[name][2]
    if expected is None:
        assert result.returncode == 0, result.stderr
        links, depth = links_file(run_.ws)
        assert_links_file(links, latest_graph(), depth)
        assert len(run_.ws.exports()) == 1
        return
    assert result.returncode == 1, result.stdout
    # progress lines come first on standard error; exactly one error line, the last
    errors = [line for line in result.stderr.strip().splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("botifython: error: "), result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert expected in errors[0]
    assert result.stdout == ""
    assert "run the export again" not in errors[0].lower()
    assert run_.ws.files() == []  # no partial (.part) and no final file
    assert run_.ws.exports() == []
    assert len(run_.fake.find_requests("/v1/jobs", "POST")) <= 2  # never a job to retry


@pytest.mark.parametrize("ranges", [True, False])
def test_a_dropped_download_is_fetched_again_from_the_same_link(fault_runs, ranges):
    name = "dropped download, resumed" if ranges else "dropped download, no Range"
    run_ = fault_runs[name]
    fake = run_.fake
    assert run_.result.returncode == 0, run_.result.stderr
    assert len(fake.find_requests("/v1/jobs", "POST")) == 2  # links and meta: no new job
    links_job = min(fake.jobs)
    tries = fake.find_requests(f"/downloads/{links_job}/")
    assert len(tries) == 2 and tries[0].path == tries[1].path
    resumed_from = tries[1].headers.get("range")
    assert resumed_from and resumed_from.startswith("bytes=") and resumed_from != "bytes=0-"
    assert tries[1].status == (206 if ranges else 200)
    assert "fetching it again from the same link" in run_.result.stdout + run_.result.stderr
    assert "run the export again" not in (run_.result.stdout + run_.result.stderr).lower()


def test_retry_after_is_honoured(fault_runs):
    fake = fault_runs["429 with Retry-After then success"].fake
    queries = fake.find_requests("/query")
    assert queries[0].status == 429
    assert queries[1].time - queries[0].time >= 0.95


# --- Ctrl+C --------------------------------------------------------------------------------------


def interrupt(proc: Running) -> Result:
    sent = time.monotonic()
    proc.proc.send_signal(signal.SIGINT)
    result = checked(proc.result(timeout=20))
    result.seconds = time.monotonic() - sent
    return result


def test_ctrl_c_while_polling_exits_130_without_files(ws):
    fake = new_fake(polls_before_done=1_000_000)
    try:
        proc = Running(
            ws,
            fake.base_url,
            ("linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.05"),
            None,
        )
        wait_for(lambda: any(job["polls"] >= 2 for job in list(fake.jobs.values())), what="polls")
        result = interrupt(proc)
    finally:
        fake.stop()
    assert result.returncode == 130
    assert result.seconds < 5
    assert "cancelled" in result.stderr and "100001" in result.stderr
    assert ws.files() == []
    assert ws.exports() == []


def test_ctrl_c_while_downloading_leaves_no_partial_file(ws):
    big = SyntheticGraph.for_edge_count(60_000)
    fake = new_fake(download_rate=50_000, polls_before_done=0)
    fake.add_project(ORG, "big.example.com", analyses=[LATEST], graph=big)
    try:
        proc = Running(
            ws,
            fake.base_url,
            ("linkgraph", "--yes", "--project", f"{ORG}/big.example.com", "--poll-interval", "0"),
            None,
        )
        wait_for(lambda: any(n.startswith(".") for n in ws.files()), what="a partial file")
        result = interrupt(proc)
    finally:
        fake.stop()
    assert result.returncode == 130
    assert result.seconds < 5
    assert ws.files() == []


# --- a terminal: Rich progress -------------------------------------------------------------------


def test_linkgraph_on_a_terminal_shows_rich_progress(ws, fake):
    main, child = pty.openpty()
    env = cli_env(fake.base_url) | {"TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    proc = subprocess.Popen(
        ws.argv("linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.01"),
        cwd=ws.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    output = b""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            output += data
        elif proc.poll() is not None:
            break
    os.close(main)
    assert proc.wait(timeout=10) == 0
    text = output.decode("utf-8", "replace")
    assert "\x1b[" in text  # Rich drew a live display
    assert "wrote" in text and "Top 10 hubs" in text and "Recorded as export 1" in text
    assert TOKEN not in text
    links, depth = links_file(ws)
    assert_links_file(links, latest_graph(), depth)

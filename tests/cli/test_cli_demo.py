"""`--demo` on the command line: the demo account's projects, analyses and a whole export, kept
apart from the real profile, without ever opening the real token file."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from botifython_tui.core.botify_sim.demo_site import DEMO_ANALYSES, DEMO_ORG, DEMO_PROJECT
from botifython_tui.core.secrets import TOKEN_FILENAME
from botifython_tui.core.store import Store

PROJECT = f"{DEMO_ORG}/{DEMO_PROJECT}"
NEWEST, OLDEST = DEMO_ANALYSES[0][0], DEMO_ANALYSES[1][0]
REAL_TOKEN = "real-secret-token-7f3a"


def run(root: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTIFYTHON_", "BOTIFY_"))}
    # A real account's settings are set, and must not matter to the demo.
    env["BOTIFY_API_URL"] = "http://192.0.2.1:9"  # TEST-NET: nothing answers there
    env["BOTIFY_API_TOKEN"] = REAL_TOKEN  # and its token, given by the environment
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "botifython_tui",
            "--data-dir",
            str(root / "data"),
            "--downloads-dir",
            str(root / "downloads"),
            *args,
        ],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def exports_in(db: Path) -> list:
    store = Store(db)
    try:
        return [r for p in store.profiles.list() for r in store.exports(p.id).list()]
    finally:
        store.close()


class TokenTrap:
    """The real token file as a FIFO: whoever opens it to read blocks until we notice."""

    def __init__(self, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.path = data / TOKEN_FILENAME
        os.mkfifo(self.path, 0o600)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        # Opening for writing blocks until a reader opens the FIFO: that is the alarm.
        with open(self.path, "w") as fifo:
            self.opened.set()
            fifo.write(REAL_TOKEN + "\n")

    def release(self) -> None:
        if not self.opened.is_set():  # unblock our own watcher
            with open(self.path) as fifo:
                fifo.read()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One fresh folder: the real token trapped, then a whole demo export through the CLI."""
    root = tmp_path_factory.mktemp("demo-cli")
    trap = TokenTrap(root / "data")
    results = {
        "projects": run(root, "--demo", "projects"),
        "analyses": run(root, "--demo", "analyses", "--project", PROJECT),
        "linkgraph": run(root, "--demo", "linkgraph", "--project", PROJECT, "--yes"),
    }
    opened = trap.opened.is_set()
    trap.release()
    yield root, results, opened
    if trap.path.exists():
        trap.path.unlink()


def test_demo_lists_its_project_and_two_analyses_newest_first(demo_run):
    _root, results, _opened = demo_run
    projects, analyses = results["projects"], results["analyses"]
    assert projects.returncode == 0, projects.stderr
    assert PROJECT in projects.stdout and "(demo)" in projects.stdout
    assert analyses.returncode == 0, analyses.stderr
    slugs = [line.split()[0] for line in analyses.stdout.splitlines() if line.strip()]
    assert slugs == [NEWEST, OLDEST]


def test_demo_export_writes_under_downloads_demo_and_records_in_the_demo_profile(demo_run):
    root, results, _opened = demo_run
    export = results["linkgraph"]
    assert export.returncode == 0, export.stderr
    assert "credits" in export.stderr and "Recorded as export" in export.stdout
    demo_downloads = root / "downloads" / "demo"
    names = sorted(p.name for p in demo_downloads.iterdir())
    base = f"{DEMO_ORG}_{DEMO_PROJECT}_{NEWEST}"
    links = demo_downloads / f"{base}_linkgraph_depth-8.csv"
    meta = demo_downloads / f"{base}_depth-8_meta.csv"
    assert {links.name, meta.name} <= set(names)
    assert all(name.startswith(base) for name in names)  # analytics files may sit beside them
    with meta.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 20_000  # tens of thousands of URLs
    assert {r["pagetype"] for r in rows} == {
        "home",
        "category",
        "subcategory",
        "product",
        "blog",
        "utility",
    }
    assert {int(r["depth"]) for r in rows} == set(range(9))
    codes = {r["http_code"] for r in rows}
    assert {"200", "301", "404"} <= codes
    assert any(r["canonical_is_self"] == "False" for r in rows)
    assert any(r["in_sitemap"] == "False" for r in rows)
    noindex = [
        r
        for r in rows
        if r["http_code"] == "200"
        and r["canonical_is_self"] == "True"
        and r["is_compliant"] == "False"
    ]
    assert noindex  # indexable otherwise, but noindex
    assert int(rows[0]["impressions"]) > 0 and "clicks" in rows[0]
    with links.open(newline="") as handle:
        assert sum(1 for _ in handle) - 1 > 100_000

    demo_exports = exports_in(root / "data" / "demo" / "botifython.db")
    assert [(e.org, e.project, e.analysis, e.depth) for e in demo_exports] == [
        (DEMO_ORG, DEMO_PROJECT, NEWEST, 8)
    ]
    assert Path(demo_exports[0].links_path) == links


def test_the_real_profile_never_sees_the_demo_and_its_token_is_never_read(demo_run):
    root, results, opened = demo_run
    assert not opened, "--demo opened the real token file"
    for result in results.values():
        assert REAL_TOKEN not in result.stdout + result.stderr
    # The real profile: no export recorded, no file at the top of downloads/.
    real = run(root, "todo", "list")  # opens (and creates) the real database
    assert real.returncode == 0, real.stderr
    assert exports_in(root / "data" / "botifython.db") == []
    assert [p.name for p in (root / "downloads").iterdir()] == ["demo"]
    assert not (root / "data" / "demo" / TOKEN_FILENAME).read_text().startswith("real")


def test_demo_exit_codes_match_the_real_commands(tmp_path):
    unconfirmed = run(tmp_path, "--demo", "linkgraph", "--project", PROJECT)
    assert unconfirmed.returncode == 3, unconfirmed.stderr  # no terminal, no --yes: no job
    assert "--yes" in unconfirmed.stderr
    unknown = run(tmp_path, "--demo", "analyses", "--project", "demo-org/nope.example")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("botifython: error:") and "Traceback" not in unknown.stderr
    dry = run(tmp_path, "--demo", "linkgraph", "--project", PROJECT, "--dry-run")
    assert dry.returncode == 0 and "no credits were spent" in dry.stdout
    assert not list((tmp_path / "downloads" / "demo").iterdir())

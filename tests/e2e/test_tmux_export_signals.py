"""End to end in tmux: an export in the terminal UI stopped by SIGTERM or SIGHUP leaves no partial
file and exits with the conventional code; a partial file of a dead process goes at start-up."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from botifython_tui.core.secrets import TokenStore
from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession
from tests.fakes.botify_server import FakeBotify, SyntheticGraph

pytestmark = pytest.mark.e2e
BOTIFYTHON = Path(sys.executable).with_name("botifython")
TOKEN = "tmux-signal-token"
ORG, PROJECT, ANALYSIS = "acme-org", "big.example.com", "20241108"
PART = re.compile(r"\.part-(\d+)-")


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []


def wait(condition, what: str, session: TmuxSession, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{session.screen()}")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_a_tui_export_removes_its_partial_files(tmp_path, signum, code):
    data, downloads = tmp_path / "data", tmp_path / "downloads"
    data.mkdir()
    downloads.mkdir()
    TokenStore(data).save(TOKEN)
    store = Store(data / "botifython.db")
    profile = store.profiles.current()
    save_selection(store, profile.id, Selection(ORG, PROJECT, ANALYSIS))
    store.close()
    # left by a process that no longer runs: removed when the app starts
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = downloads / f".{ORG}_{PROJECT}_x_linkgraph_depth-2.csv.part-{dead.pid}-9f"
    stale.write_bytes(b"x" * 4096)
    keep = downloads / f"{ORG}_{PROJECT}_20200101_linkgraph_depth-2.csv"
    keep.write_text("source,target\na,b\n")

    fake = FakeBotify(token=TOKEN).start()
    graph = SyntheticGraph.for_edge_count(60_000)
    fake.add_project(ORG, PROJECT, analyses=[ANALYSIS], graph=graph)
    fake.polls_before_done = 0
    fake.download_rate = 40_000
    command = (
        f"BOTIFY_API_URL={shlex.quote(fake.base_url)} {shlex.quote(str(BOTIFYTHON))} "
        f"--data-dir {shlex.quote(str(data))} --downloads-dir {shlex.quote(str(downloads))}; "
        "echo EXIT=$?; sleep 30"
    )
    session = TmuxSession(command, cwd=tmp_path, width=100, height=30)
    try:
        session.wait_for("esc To the list")  # drawn: the new-todo field has the focus
        assert not stale.exists()  # gone at start-up: its process is dead
        session.send("F4")
        session.wait_for("Start export")
        session.send("s")
        screen = session.wait_for("Export (y)", timeout=30)  # the question, once counted
        assert "Botify credits" in screen
        assert fake.find_requests("/v1/jobs", "POST") == []
        time.sleep(0.7)  # a person reads the question; a key sooner is ignored by the dialog
        session.send("y")
        part = wait(
            lambda: next((p for p in partial_files(downloads) if PART.search(p.name)), None),
            "a partial file",
            session,
        )
        pid = int(PART.search(part.name).group(1))
        subprocess.run(["kill", f"-{signum.name.removeprefix('SIG')}", str(pid)], check=True)
        screen = session.wait_for(lambda text: "EXIT=" in text, timeout=30)
        assert f"EXIT={code}" in screen, screen
    finally:
        session.kill()
        fake.stop()
    assert partial_files(downloads) == []
    assert sorted(p.name for p in downloads.iterdir()) == [keep.name]
    store = Store(data / "botifython.db")
    assert store.exports(profile.id).list() == []
    store.close()

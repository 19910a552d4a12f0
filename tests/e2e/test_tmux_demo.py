"""End to end in tmux: the demo from a fresh folder, with only the keys a person presses: connect,
pick the project and the newest analysis, export (answering the credit question), see the
summary, open Link graphs; the files and the record land in the demo's own folders only. And the
first screen of a fresh install offers the demo in one key."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from botifython_tui.core.botify_sim.demo_site import DEMO_ORG, DEMO_PROJECT
from botifython_tui.core.store import Store
from tests.cli.test_cli_demo import REAL_TOKEN, TokenTrap
from tests.e2e.tmux import TmuxSession, answer_dialog

pytestmark = pytest.mark.e2e
BOTIFYTHON = Path(sys.executable).with_name("botifython")
NEWEST = "20261102"
BASE = f"{DEMO_ORG}_{DEMO_PROJECT}_{NEWEST}"


def command(root: Path, *flags: str, real_token: bool = False) -> str:
    # A real account's API address (and token) are set, and must not matter to the demo.
    token = f"BOTIFY_API_TOKEN={REAL_TOKEN}" if real_token else "-u BOTIFY_API_TOKEN"
    return (
        f"env -u BOTIFYTHON_DATA_DIR -u BOTIFYTHON_DOWNLOADS_DIR {token} "
        "BOTIFY_API_URL=http://192.0.2.1:9 "
        f"{shlex.quote(str(BOTIFYTHON))} --data-dir {shlex.quote(str(root / 'data'))} "
        f"--downloads-dir {shlex.quote(str(root / 'downloads'))} {' '.join(flags)}; "
        "echo EXIT=$?; sleep 30"
    )


def answer_yes(session: TmuxSession) -> None:
    """Say yes to the credit question as a person does: after reading it."""
    answer_dialog(session, "y", "Export (y)")


def demo_export_by_keys(session: TmuxSession, *, timeout: float = 90.0) -> float:
    """From start-up to the summary of a finished export; returns the seconds it took."""
    started = time.monotonic()
    session.wait_for("Connected as demo.user", timeout=30)
    session.wait_for("Acme Home & Garden (demo)", timeout=30)  # the project list
    session.send("Enter")  # the only project
    session.wait_for("2026-11-02", timeout=30)  # its analyses listed, newest first
    session.send("Enter")  # the newest analysis: the Export tab comes up
    session.wait_for(f"{DEMO_PROJECT} · {NEWEST}", timeout=30)
    session.wait_for("s Export")  # the Export tab's keys in the footer
    session.send("s")
    screen = session.wait_for("Export (y)", timeout=60)  # counted (free), then asked
    assert "Botify credits" in screen
    answer_yes(session)
    session.wait_for("Top 10 hubs", timeout=timeout)  # the summary, once the files are in
    return time.monotonic() - started


def test_demo_export_from_a_fresh_folder_by_keys(tmp_path):
    trap = TokenTrap(tmp_path / "data")  # a real token: the demo must never open it
    session = TmuxSession(
        command(tmp_path, "--demo", real_token=True), cwd=tmp_path, width=120, height=40
    )
    try:
        header = session.wait_for("DEMO", timeout=30)
        assert "Botify" in header
        demo_export_by_keys(session)
        session.send("F5")
        screen = session.wait_for(NEWEST, timeout=30)
        assert DEMO_PROJECT in screen and "DEMO" in screen
        session.send("C-q")
        session.wait_for("EXIT=0", timeout=30)
    finally:
        session.kill()
        opened = trap.opened.is_set()
        trap.release()
    assert not opened, "--demo opened the real token file"

    demo_downloads = tmp_path / "downloads" / "demo"
    names = sorted(p.name for p in demo_downloads.iterdir())
    assert {f"{BASE}_linkgraph_depth-8.csv", f"{BASE}_depth-8_meta.csv"} <= set(names)
    assert all(name.startswith(f"{BASE}_depth-8_") or "linkgraph" in name for name in names)
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == ["demo"]
    store = Store(tmp_path / "data" / "demo" / "botifython.db")
    try:
        records = [r for p in store.profiles.list() for r in store.exports(p.id).list()]
    finally:
        store.close()
    assert [(r.org, r.project, r.analysis, r.depth) for r in records] == [
        (DEMO_ORG, DEMO_PROJECT, NEWEST, 8)
    ]
    assert records[0].urls > 20_000 and records[0].edges > 100_000
    assert not (tmp_path / "data" / "botifython.db").exists()  # the real profile: untouched


def test_a_fresh_install_offers_the_demo_in_one_key(tmp_path):
    session = TmuxSession(command(tmp_path), cwd=tmp_path, width=120, height=40)
    try:
        session.wait_for("F4 Botify", timeout=30)
        session.send("F4")
        screen = session.wait_for("Try the demo project (F9)", timeout=30)
        assert "API token" in screen and "DEMO" not in screen
        session.send("F9")
        session.wait_for("DEMO", timeout=30)
        session.wait_for("Connected as demo.user", timeout=30)
        session.send("C-q")
        session.wait_for("EXIT=0", timeout=30)
    finally:
        session.kill()
    assert (tmp_path / "data" / "demo" / "botifython.db").exists()
    store = Store(tmp_path / "data" / "botifython.db")  # the real one, from the first start
    try:
        assert [r for p in store.profiles.list() for r in store.exports(p.id).list()] == []
    finally:
        store.close()
    assert not (tmp_path / "data" / "botify_token").exists()


def test_enter_on_start_then_the_summary_and_tab_keys_never_edit_the_budget(tmp_path):
    """Enter, Enter, Enter: the project, the analysis, then Start (focused on arrival). After the
    export, the Summary comes up; 3 and 4 switch tabs and are never typed into the budget field
    (a focused widget of a tab being hidden must not pull that tab back)."""
    session = TmuxSession(command(tmp_path, "--demo"), cwd=tmp_path, width=120, height=40)
    try:
        session.wait_for("Acme Home & Garden (demo)", timeout=30)
        session.send("Enter")
        session.wait_for("2026-11-02", timeout=30)
        session.send("Enter")
        session.wait_for("Start export (s)", timeout=30)
        time.sleep(0.5)  # the Start button takes the focus on arrival
        session.send("Enter")
        session.wait_for("Export (y)", timeout=60)
        answer_yes(session)
        session.wait_for("Top 10 hubs", timeout=90)  # they were watching: the summary
        session.send("3")
        screen = session.wait_for("Edge budget", timeout=20)
        assert "Top 10 hubs" not in screen
        session.send("4")
        session.wait_for("Top 10 hubs", timeout=20)
        session.send("3", "4", "3")  # a burst
        screen = session.wait_for("Edge budget", timeout=20)
        assert "Edge budget  1000000" in screen, screen  # nothing typed into it
        session.send("4")
        session.wait_for("Top 10 hubs", timeout=20)
        session.send("C-q")
        session.wait_for("EXIT=0", timeout=30)
    finally:
        session.kill()

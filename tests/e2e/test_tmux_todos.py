"""End to end: the real `botifython` command in tmux, driven with send-keys and capture-pane."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession

pytestmark = pytest.mark.e2e
BOTIFYTHON = Path(sys.executable).with_name("botifython")


def command(tmp_path: Path) -> str:
    return (
        f"{shlex.quote(str(BOTIFYTHON))} --data-dir {shlex.quote(str(tmp_path / 'data'))} "
        f"--downloads-dir {shlex.quote(str(tmp_path / 'downloads'))}; sleep 5"
    )


def test_add_a_todo_in_tmux_and_read_it_back(tmp_path):
    session = TmuxSession(command(tmp_path), cwd=tmp_path)
    try:
        screen = session.wait_for("esc To the list")  # drawn, and the input has the focus
        assert "Botifython · Todos" in screen
        assert "Profile: Default" in screen
        assert "space Done" not in screen  # letters and Space are text here, not commands
        session.type("Check [bold]canonical[/] tags")
        session.send("Enter")
        screen = session.wait_for("1 open · 0 done")  # added: the list and the counts show it
        assert "Check [bold]canonical[/] tags" in screen
        session.send("Escape")
        session.wait_for("space Done")  # the list has the focus again
        session.send("Space")
        session.wait_for("0 open · 1 done")
        session.send("C-q")
        session.wait_for(lambda text: "Botifython · Todos" not in text)
    finally:
        session.kill()
    store = Store(tmp_path / "data" / "botifython.db")
    todos = store.todos(1).list()
    assert [(t.title, t.done) for t in todos] == [("Check [bold]canonical[/] tags", True)]
    store.close()


def test_two_panes_share_one_database(tmp_path):
    session = TmuxSession(command(tmp_path), cwd=tmp_path, width=160, height=24)
    try:
        session.wait_for("esc To the list", pane=".0")
        session.split(command(tmp_path), cwd=tmp_path)
        session.wait_for("esc To the list", pane=".1")
        session.type("Written in the left pane", pane=".0")  # the input has the focus on arrival
        session.send("Enter", pane=".0")
        session.wait_for("Written in the left pane", pane=".0")
        session.wait_for("Written in the left pane", pane=".1")  # the right pane follows
    finally:
        session.kill()

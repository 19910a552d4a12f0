"""End to end: F1 and ? in the real app in tmux, at 80×24, and the per-user data folder."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession

pytestmark = pytest.mark.e2e
BOTIFYTHON = Path(sys.executable).with_name("botifython")


def test_f1_and_question_mark_open_help_but_type_into_a_text_box(tmp_path, monkeypatch):
    monkeypatch.delenv("BOTIFYTHON_DATA_DIR")  # the default: the per-user folder
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    session = TmuxSession(f"{shlex.quote(str(BOTIFYTHON))}; sleep 5", cwd=work)
    try:
        session.wait_for("esc To the list")  # the new-todo field has the focus on arrival
        assert "f1 keys" in session.screen()  # the footer's hint
        session.send("F1")  # F1 works even in a text field
        screen = session.wait_for("Everywhere")
        assert "Move up" in screen and "Todos" in screen  # generated from the bindings
        session.send("Escape")
        session.wait_for(lambda text: "Everywhere" not in text)
        session.send("Escape")  # to the list, where ? is a command
        session.wait_for("space Done")
        session.send("?")
        session.wait_for("Everywhere")
        session.send("F1")  # F1 again closes
        session.wait_for(lambda text: "Everywhere" not in text and "space Done" in text)
        session.send("n")
        session.wait_for(lambda text: "space Done" not in text)  # the input has the focus
        session.type("Why? Because.")
        session.send("Enter")
        screen = session.wait_for("1 open · 0 done")
        assert "Why? Because." in screen and "Everywhere" not in screen
        session.send("C-q")
        session.wait_for(lambda text: "Botifython · Todos" not in text)
    finally:
        session.kill()
    assert not (work / "data").exists()
    store = Store(tmp_path / "xdg" / "botifython" / "botifython.db")
    try:
        assert [t.title for t in store.todos(1).list()] == ["Why? Because."]
    finally:
        store.close()

"""End to end in tmux: the Chat screen with a small local model answering as the real ones did.

The real `botifython` against the fake Ollama (real HTTP, in this process), scripted with the
replies qwen2.5-coder 0.5B and 1.5B gave to "Please add a todo titled: check the XML sitemap":
- 0.5B calls add_todo with an extra `"done": false`, then repeats the same call after every
  result: the todo is proposed with the extra argument shown as ignored, added once after
  approval, and the repetition ends the turn with a short summary;
- 1.5B adds the todo, then proposes an unrequested link-graph export of 100,000,000 edges: the
  approval says "Not requested" and shows the app's edge budget; declined, nothing is exported.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession, answer_dialog
from tests.fakes.ollama_server import FakeOllama, Reply

pytestmark = pytest.mark.e2e

PROMPT = "Please add a todo titled: check the XML sitemap"


def command(tmp_path: Path, ollama: FakeOllama) -> str:
    python = shlex.quote(sys.executable)
    data = shlex.quote(str(tmp_path / "data"))
    downloads = shlex.quote(str(tmp_path / "downloads"))
    return (
        f"{python} -m botifython_tui --data-dir {data} --downloads-dir {downloads} "
        f"--ollama-host {ollama.base_url}; sleep 5"
    )


def prepare(tmp_path: Path, *, project: bool = False) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    store = Store(tmp_path / "data" / "botifython.db")
    if project:
        save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    store.close()


DIALOG = "The assistant asks to:"  # the approval dialog's words (the transcript says "proposes")


def answer(session: TmuxSession, key: str) -> None:
    answer_dialog(session, key, DIALOG)


def ask(session: TmuxSession) -> None:
    session.wait_for("Todos", timeout=30)
    session.send("F6")
    session.wait_for("Ask the assistant", timeout=30)
    session.type(PROMPT)
    session.wait_for("XML sitemap", timeout=20)
    session.send("Enter")


def todos(tmp_path: Path) -> list[tuple[str, bool]]:
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        return [(t.title, t.done) for t in store.todos(1).list()]
    finally:
        store.close()


def test_small_model_extra_argument_and_repeated_call(tmp_path):
    prepare(tmp_path)
    call = {"name": "add_todo", "arguments": {"title": "Check the XML sitemap", "done": False}}
    with FakeOllama(models=["qwen2.5-coder:0.5b"]) as ollama:
        ollama.default_reply = lambda body: Reply(tool_calls=[call])  # every turn: the same call
        session = TmuxSession(command(tmp_path, ollama), cwd=tmp_path, width=140, height=45)
        try:
            ask(session)
            screen = session.wait_for(DIALOG, timeout=30)
            assert "Add the todo “check the XML sitemap”" in screen
            assert "ignored “done”" in screen and "“…”" not in screen
            answer(session, "y")
            screen = session.wait_for("not run twice", timeout=30)
            assert "add_todo has no argument" not in screen
            session.send("C-q")
            session.wait_for(lambda text: "Ask the assistant" not in text, timeout=20)
        finally:
            session.kill()
        assert len(ollama.chat_requests) == 2  # the repeat ended the turn at once
    assert todos(tmp_path) == [("check the XML sitemap", False)]  # open, added once


def test_small_model_unrequested_export_is_marked_and_declined(tmp_path):
    prepare(tmp_path, project=True)
    with FakeOllama(models=["qwen2.5-coder:1.5b"]) as ollama:
        ollama.script(
            Reply(
                tool_calls=[{"name": "add_todo", "arguments": {"title": "Check the XML sitemap"}}]
            ),
            Reply(
                tool_calls=[
                    {"name": "start_linkgraph_export", "arguments": {"max_edges": 100_000_000}}
                ]
            ),
            Reply(text="The todo is added; no export was started."),
        )
        session = TmuxSession(command(tmp_path, ollama), cwd=tmp_path, width=140, height=45)
        try:
            ask(session)
            screen = session.wait_for(DIALOG, timeout=30)
            assert "Add the todo “check the XML sitemap”" in screen
            answer(session, "y")
            screen = session.wait_for(
                lambda text: DIALOG in text and "Not requested" in text, timeout=30
            )
            assert "export.max_edges" in screen and "Botify credits" in screen
            assert "100,000,000" not in screen
            answer(session, "n")
            session.wait_for("no export was started", timeout=30)
            session.send("C-q")
            session.wait_for(lambda text: "Ask the assistant" not in text, timeout=20)
        finally:
            session.kill()
    assert todos(tmp_path) == [("check the XML sitemap", False)]
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        audit = [(a.action, a.approved) for a in store.audit(1).list(10)]
    finally:
        store.close()
    assert ("start_linkgraph_export", False) in audit and ("add_todo", True) in audit

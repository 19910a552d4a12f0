"""End to end in tmux: the assistant, asked in the chat docked beside Todos, proposes the link-graph
export; approved, and its credits confirmed, it runs while the user stays on Todos, its progress
in the chat's status line, until it is recorded."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from botifython_tui.core.secrets import TokenStore
from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession, answer_dialog
from tests.fakes.botify_server import FakeBotify, SyntheticGraph
from tests.fakes.ollama_server import FakeOllama, Reply

pytestmark = pytest.mark.e2e
TOKEN = "tmux-assistant-token"
ORG, PROJECT, ANALYSIS = "acme-org", "example.com", "20241108"
APPROVAL = "The assistant asks to:"
CREDITS = "Export (y)"  # the credits question's button


def test_an_assistant_export_runs_while_the_user_stays_on_todos(tmp_path: Path):
    data, downloads = tmp_path / "data", tmp_path / "downloads"
    data.mkdir(mode=0o700)
    TokenStore(data).save(TOKEN)
    store = Store(data / "botifython.db")
    save_selection(store, 1, Selection(ORG, PROJECT, ANALYSIS))
    store.close()

    graph = SyntheticGraph([1, 5, 25, 125], out_degree=(2, 6), seed=1)
    with (
        FakeBotify(token=TOKEN, username="jane.doe") as botify,
        FakeOllama(models=["llama3.2:latest"]) as ollama,
    ):
        botify.add_project(ORG, PROJECT, analyses=[ANALYSIS], graph=graph)
        botify.polls_before_done = 0
        ollama.script(
            Reply(tool_calls=[{"name": "start_linkgraph_export", "arguments": {}}]),
            Reply(text="The export is starting; confirm its credits when asked."),
        )
        command = (
            f"BOTIFY_API_URL={shlex.quote(botify.base_url)} {shlex.quote(sys.executable)} "
            f"-m botifython_tui --data-dir {shlex.quote(str(data))} "
            f"--downloads-dir {shlex.quote(str(downloads))} "
            f"--ollama-host {shlex.quote(ollama.base_url)}; echo EXIT=$?; sleep 30"
        )
        session = TmuxSession(command, cwd=tmp_path, width=140, height=45)
        try:
            session.wait_for("esc To the list", timeout=30)  # Todos, drawn
            session.send("C-t")
            session.wait_for("Ask the assistant", timeout=20)
            session.type("Export the link graph")
            session.wait_for("Export the link graph", timeout=20)
            session.send("Enter")
            screen = session.wait_for(APPROVAL, timeout=30)
            assert "Start a link-graph export of" in screen, screen
            assert "acme-org/example.com, analysis 20241108" in screen
            answer_dialog(session, "y", APPROVAL)
            screen = session.wait_for(CREDITS, timeout=30)  # once counted, before any job
            assert "Botify credits" in screen and "20241108 at depth" in screen, screen
            assert botify.find_requests("/v1/jobs", "POST") == []
            answer_dialog(session, "y", CREDITS)
            screen = session.wait_for("Export finished", timeout=60)
            assert "Botifython · Todos" in screen  # the user's screen never changed
            assert "Start export" not in screen  # the Botify screen was never shown
            session.wait_for("finished a link-graph export", timeout=20)  # the chat status
            session.send("C-q")
            screen = session.wait_for(lambda text: "EXIT=" in text, timeout=20)
            assert "EXIT=0" in screen, screen
        finally:
            session.kill()
    store = Store(data / "botifython.db")
    try:
        (record,) = store.exports(1).list()
    finally:
        store.close()
    assert (record.org, record.project, record.analysis, record.depth) == (
        ORG,
        PROJECT,
        ANALYSIS,
        3,
    )
    assert Path(record.links_path).exists() and Path(record.meta_path).exists()

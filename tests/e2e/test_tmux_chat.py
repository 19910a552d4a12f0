"""End to end in tmux: a question typed while the assistant narrates gets its own reply; what
happened while narration was off is not brought up when Ctrl+N turns it back on.

The real `botifython` against the fake Ollama (real HTTP, in this process): a slow narration reply
streams on the Chat screen, another app event waits, and the user asks a question. The question
must win (the narration stops, its part kept and marked), its answer must stream into its own
bubble, and the waiting narration must follow in another one: every saved reply exactly one reply.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from botifython_tui.core.conversation import EVENT_ROLE
from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession
from tests.fakes.ollama_server import FakeOllama, Reply

pytestmark = pytest.mark.e2e

NARRATION_A = " ".join(f"slow{i}" for i in range(120))
ANSWER = "Crawl budget is how many URLs a crawler fetches per visit."
NARRATION_B = "Second todo noted, good plan."


def command(tmp_path: Path, ollama: FakeOllama) -> str:
    python = shlex.quote(sys.executable)
    data = shlex.quote(str(tmp_path / "data"))
    downloads = shlex.quote(str(tmp_path / "downloads"))
    return (
        f"{python} -m botifython_tui --data-dir {data} --downloads-dir {downloads} "
        f"--ollama-host {ollama.base_url}; sleep 5"
    )


def add_todo(session: TmuxSession, title: str) -> None:
    """On the Todos screen: open the new-todo box if the list has the focus, type, Enter."""
    try:
        session.wait_for("space Done", timeout=15)  # drawn, and the list has the focus
    except AssertionError:
        pass  # the box already has the focus: type straight into it
    else:
        session.send("n")  # n opens the box
        session.wait_for(lambda text: "space Done" not in text)
    session.type(title)
    session.wait_for(title)  # typed into the box
    session.send("Enter")
    session.wait_for(lambda text: title in text and "open ·" in text)  # added to the list


def test_question_during_narration_gets_separate_complete_replies(tmp_path):
    (tmp_path / "data").mkdir(mode=0o700)
    store = Store(tmp_path / "data" / "botifython.db")
    store.kv["chat.narration"] = "everything"  # todos are not milestones
    store.close()
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        ollama.script(
            Reply(text=NARRATION_A, token_delay=0.15),
            Reply(text=ANSWER, token_delay=0.02),
            Reply(text=NARRATION_B, token_delay=0.02),
        )
        session = TmuxSession(command(tmp_path, ollama), cwd=tmp_path, width=120, height=40)
        try:
            session.wait_for("Todos", timeout=30)
            add_todo(session, "First todo")
            session.send("F6")
            session.wait_for("slow3 ", timeout=30)  # the narration streams on the Chat screen
            session.send("F2")
            add_todo(session, "Second todo")  # another event: its narration must wait
            session.send("F6")
            session.wait_for("Ask the assistant", timeout=20)
            session.type("What is crawl budget?")
            session.send("Enter")
            session.wait_for("(stopped)", timeout=30)  # the question won
            session.wait_for("fetches per visit", timeout=30)
            screen = session.wait_for("good plan", timeout=30)
            assert "Crawl budget is how many URLs" in screen
            deadline = time.monotonic() + 20
            while len(ollama.chat_requests) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            session.send("C-q")
            session.wait_for(lambda text: "Ask the assistant" not in text, timeout=20)
        finally:
            session.kill()

    store = Store(tmp_path / "data" / "botifython.db")
    try:
        conversations = store.conversations(1)
        messages = [(m.role, m.content) for m in conversations.messages(conversations.latest().id)]
    finally:
        store.close()
    assert [role for role, _ in messages] == [
        EVENT_ROLE,
        "assistant",
        "user",
        "assistant",
        EVENT_ROLE,
        "assistant",
    ]
    assert "First todo" in messages[0][1] and "Second todo" in messages[4][1]
    stopped = messages[1][1]
    assert stopped.endswith("*(stopped)*")
    assert NARRATION_A.startswith(stopped.removesuffix("\n\n*(stopped)*"))
    assert messages[2][1] == "What is crawl budget?"
    assert messages[3][1] == ANSWER  # saved once, whole, nothing of the narration in it
    assert messages[5][1] == NARRATION_B
    assert len(ollama.chat_requests) == 3


def test_what_happened_while_narration_was_off_is_not_brought_up_when_it_is_back(tmp_path):
    """Ctrl+N off, a todo added, Ctrl+N on again: no comment on the todo, then or later; it is
    told with the next question instead."""
    (tmp_path / "data").mkdir(mode=0o700)
    store = Store(tmp_path / "data" / "botifython.db")
    store.kv["chat.narration"] = "everything"
    store.close()
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        ollama.script(Reply(text=ANSWER, token_delay=0.02))
        session = TmuxSession(command(tmp_path, ollama), cwd=tmp_path, width=120, height=40)
        try:
            session.wait_for("Todos", timeout=30)
            session.send("F6")
            session.wait_for("Narration: everything", timeout=20)
            session.send("C-n")
            session.wait_for("Narration: off")
            session.send("F2")
            add_todo(session, "Quiet todo")
            session.send("F6")
            session.wait_for("Narration: off")
            session.send("C-n")
            session.wait_for("Narration: everything")
            time.sleep(3)  # three times the quiet period after which narration would start
            assert ollama.chat_requests == []
            session.type("What is crawl budget?")
            session.send("Enter")
            session.wait_for("fetches per visit", timeout=30)
            time.sleep(2)
            session.send("C-q")
            session.wait_for(lambda text: "Ask the assistant" not in text, timeout=20)
        finally:
            session.kill()
    [request] = ollama.chat_requests  # the question's reply only: nothing narrated
    told = request["messages"][-2]["content"]
    assert "Quiet todo" in told and request["messages"][-1]["content"] == "What is crawl budget?"

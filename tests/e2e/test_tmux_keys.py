"""End to end, typing like a person: keys go where the screen says, and nothing is lost to a burst.

The real `botifython` runs in tmux against a fake Botify (a real HTTP server) with a stored token
and a chosen analysis, so a stray `s` would start a paid export. What the app changed is read
back from the database, from the fake Botify's jobs and with the CLI, never from the screen alone.
"""

from __future__ import annotations

import shlex
import socket
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
SCREENS = [
    ("F2", "Todos"),
    ("F3", "Profiles"),
    ("F4", "Botify"),
    ("F5", "Link graphs"),
    ("F6", "Chat"),
    ("F7", "Actions"),
    ("F8", "Documents"),
]
KEY_GAP = 0.12  # seconds between keys: a person typing at a normal speed


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def fake_botify():
    with FakeBotify(token="good-token", username="jane.doe") as fake:
        fake.add_project(
            "acme-org",
            "example.com",
            analyses=["20241108"],
            graph=SyntheticGraph([1, 5, 25, 125], out_degree=(2, 6), seed=1),
        )
        yield fake


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """Two profiles with todos, a stored Botify token and a chosen, never exported analysis."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    store = Store(data / "botifython.db")
    todos = store.todos(1)
    todos.add("Audit the robots.txt")
    todos.add("Check the canonicals")
    other = store.profiles.create("Client B")
    store.todos(other.id).add("Client B's todo")
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    store.close()
    TokenStore(data).save("good-token")
    return data


def app_command(tmp_path: Path, fake: FakeBotify) -> str:
    env = {
        "BOTIFY_API_URL": fake.base_url,
        "OLLAMA_HOST": f"127.0.0.1:{closed_port()}",
        "BOTIFYTHON_REMEMBER_CHATS": "0",
        "BOTIFYTHON_SERVE_PORT": str(closed_port()),
    }
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return (
        f"env {assignments} {shlex.quote(str(BOTIFYTHON))} "
        f"--data-dir {shlex.quote(str(tmp_path / 'data'))} "
        f"--downloads-dir {shlex.quote(str(tmp_path / 'downloads'))}; sleep 5"
    )


def state(data: Path) -> dict:
    """Everything a stray key could change: profiles, todos, exports, the token."""
    store = Store(data / "botifython.db")
    try:
        profiles = store.profiles.list()
        return {
            "profiles": [(p.id, p.name) for p in profiles],
            "todos": {
                p.id: [(t.id, t.title, t.done, t.position) for t in store.todos(p.id).list()]
                for p in profiles
            },
            "exports": store.query("SELECT count(*) FROM exports")[0][0],
            "token": (data / "botify_token").exists(),
        }
    finally:
        store.close()


def cli(data: Path, *args: str) -> str:
    result = subprocess.run(
        [str(BOTIFYTHON), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def type_slowly(session: TmuxSession, text: str) -> None:
    for char in text:
        session.type(char)
        time.sleep(KEY_GAP)


def stays(check, seconds: float = 1.5) -> None:
    """Absence of a change needs a window: watch it for a while, fail on the first change."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check()
        time.sleep(0.1)
    check()


def no_dialog(text: str) -> bool:
    return "No (n)" not in text and "Enter to accept" not in text


@pytest.mark.parametrize("word", ["today", "yes", "delete"])
def test_a_word_typed_on_arrival_at_every_screen_changes_nothing(
    tmp_path, seeded, fake_botify, word
):
    before = state(seeded)
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path, width=120, height=30)
    try:
        session.wait_for("Botifython · Todos")
        for key, name in SCREENS:
            session.send(key)
            session.wait_for(f"Botifython · {name}")
            if name == "Botify":
                session.wait_for("Connected as jane.doe")  # the token checked: fully armed
            type_slowly(session, word)
            session.send("Enter")
            expected = before
            if name == "Todos":  # the prompt says "type": the word becomes a todo, nothing else
                session.wait_for("3 open · 0 done")
                after = state(seeded)
                added = [t for t in after["todos"][1] if t not in before["todos"][1]]
                assert [t[1] for t in added] == [word]
                assert after["todos"][1][:-1] == before["todos"][1]
                expected = before = after

            def unchanged(expected=expected, name=name) -> None:
                assert state(seeded) == expected, f"typing {word!r} on {name} changed data"
                assert fake_botify.jobs == {}, f"typing {word!r} on {name} started an export"

            stays(unchanged)
            time.sleep(0.6)  # a deliberate pause, so the dialog (if any) takes the Escape
            session.send("Escape")
            session.wait_for(no_dialog)
            unchanged()
            session.send("Escape")  # a second one for a prompt opened behind a dialog
            session.wait_for(no_dialog)
        session.send("C-q")
        session.wait_for(lambda text: "Botifython ·" not in text)
    finally:
        session.kill()
    assert state(seeded) == before
    assert "Audit the robots.txt" in cli(seeded, "todo", "list")
    assert "Client B" in cli(seeded, "profile", "list")


def test_type_ahead_after_n_lands_in_the_input_in_order(tmp_path, seeded, fake_botify):
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path)
    try:
        session.wait_for("Botifython · Todos")
        session.send("Escape")  # to the list, where `n` is a command
        session.wait_for("d Delete")
        session.type("nbuy milk")  # one burst, as over SSH
        session.send("Enter")
        session.wait_for("buy milk")
        session.type("n again\r")  # the input keeps the focus: here `n` is a letter
        session.wait_for("n again")
        session.send("Escape")
        session.wait_for("d Delete")
        session.type("nthird one\rfourth\r")  # keys after Enter wait for the todo to be added
        session.wait_for("fourth")
    finally:
        session.kill()
    titles = [t[1] for t in state(seeded)["todos"][1]]
    assert titles == [
        "Audit the robots.txt",
        "Check the canonicals",
        "buy milk",
        "n again",
        "third one",
        "fourth",
    ]
    dones = [t[2] for t in state(seeded)["todos"][1]]
    assert dones == [False] * 6  # the spaces typed toggled nothing


def test_type_ahead_into_a_dialog_input(tmp_path, seeded, fake_botify):
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path)
    try:
        session.wait_for("Botifython · Todos")
        session.send("F3")
        session.wait_for("Botifython · Profiles")
        session.type("aClient C\r")  # `a` opens a prompt; the name typed in the same burst
        session.wait_for("'Client C' added")
    finally:
        session.kill()
    assert [name for _, name in state(seeded)["profiles"]] == ["Default", "Client B", "Client C"]


def test_a_y_typed_before_the_dialog_appeared_deletes_nothing(tmp_path, seeded, fake_botify):
    before = state(seeded)
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path)
    try:
        session.wait_for("Botifython · Todos")
        session.send("Escape")
        session.wait_for("d Delete")
        session.type("dy")  # the y arrives before the question is drawn
        session.wait_for("Delete the todo")
        stays(lambda: assert_same(state(seeded), before))
        assert "Delete the todo" in session.screen()  # still asking
        session.send("Enter")  # Enter alone is No
        session.wait_for(lambda text: "Delete the todo" not in text)
        stays(lambda: assert_same(state(seeded), before), seconds=0.5)
        # Enter twice on the list opens nothing and changes nothing either.
        session.send("Enter")
        session.send("Enter")
        stays(lambda: assert_same(state(seeded), before), seconds=0.5)
        # The same on Profiles, where `d` removes a profile with all its todos.
        session.send("F3")
        session.wait_for("Botifython · Profiles")
        session.type("dy")
        session.wait_for("Delete the profile")
        stays(lambda: assert_same(state(seeded), before))
        session.send("Escape")
        session.wait_for(lambda text: "Delete the profile" not in text)
    finally:
        session.kill()
    assert state(seeded) == before


def assert_same(now: dict, before: dict) -> None:
    assert now == before


def test_delete_and_undo_a_todo_and_a_profile(tmp_path, seeded, fake_botify):
    before = state(seeded)
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path, width=120)
    try:
        session.wait_for("Botifython · Todos")
        session.send("Escape")
        session.wait_for("d Delete")
        session.send("d")
        session.wait_for("Delete the todo 'Audit the robots.txt'")
        time.sleep(0.7)  # read the question, then answer
        session.type("y")
        session.wait_for("Press u to undo")
        assert [t[1] for t in state(seeded)["todos"][1]] == ["Check the canonicals"]
        session.type("u")
        session.wait_for("Restored 'Audit the robots.txt'")
        assert state(seeded) == before  # same id, same place

        session.send("F3")
        session.wait_for("Botifython · Profiles")
        session.send("Down")  # Client B
        session.send("d")
        session.wait_for("Delete the profile 'Client B'")
        time.sleep(0.7)
        session.send("Tab")  # to the Yes button: Enter on Yes also confirms
        time.sleep(0.7)
        session.send("Enter")
        session.wait_for("Press u to undo")
        assert "Client B" not in cli(seeded, "profile", "list")
        session.type("u")
        session.wait_for("restored with its 1 todos")
    finally:
        session.kill()
    assert state(seeded) == before
    assert "Client B" in cli(seeded, "profile", "list")
    assert "Client B's todo" in cli(seeded, "todo", "list", "--profile", "Client B")


def test_ctrl_q_asks_while_an_export_runs_and_quits_at_once_otherwise(
    tmp_path, seeded, fake_botify
):
    fake_botify.polls_before_done = 100_000  # the job stays in progress
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path, width=120, height=30)
    try:
        session.wait_for("Botifython · Todos")
        session.send("F4")
        session.wait_for("Connected as jane.doe")
        session.type("s")
        # Every export asks first (the question, not the tab's intro that names the credits too).
        session.wait_for(lambda text: "Export (y)" in text and "Botify credits" in text, timeout=30)
        time.sleep(0.7)
        session.type("y")
        session.wait_for(lambda text: "exporting" in text and len(fake_botify.jobs) == 1)
        session.send("C-q")
        session.wait_for("Quit anyway and stop it?")
        time.sleep(0.7)
        session.send("Enter")  # No is the default
        session.wait_for(lambda text: "Quit anyway and stop it?" not in text)
        assert "Botifython · Botify" in session.screen()  # still running, export included
        session.send("C-q")
        session.wait_for("Quit anyway and stop it?")
        time.sleep(0.7)
        session.type("y")
        session.wait_for(lambda text: "Botifython ·" not in text)
    finally:
        session.kill()
    # With nothing running, Ctrl+Q quits at once.
    session = TmuxSession(app_command(tmp_path, fake_botify), cwd=tmp_path)
    try:
        session.wait_for("Botifython · Todos")
        session.send("C-q")
        session.wait_for(lambda text: "Botifython ·" not in text)
    finally:
        session.kill()

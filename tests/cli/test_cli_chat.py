"""`botifython chat` through a subprocess against the fake Ollama server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from botifython_tui.core.store import Store
from tests.fakes.ollama_server import FakeOllama, Reply


@pytest.fixture
def ollama():
    with FakeOllama(models=["llama3.2:latest"]) as fake:
        yield fake


def run(tmp_path, *args, host=None, env_extra=None, timeout=30):
    env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "BOTIFYTHON_MODEL")}
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "botifython_tui", "--data-dir", str(tmp_path / "data")]
    if host:
        cmd += ["--ollama-host", host]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_answer_streams_to_stdout_as_plain_text_and_is_saved(tmp_path, ollama):
    ollama.script(Reply(text="A link graph is [bold]every[/] internal link. \x1b[31mred\x1b[0m"))
    result = run(tmp_path, "chat", "What is a link graph?", host=ollama.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("A link graph is [bold]every[/] internal link.")
    assert "\x1b" not in result.stdout  # piped: plain text, escapes neutralised
    sent = ollama.chat_requests[-1]
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][-1] == {"role": "user", "content": "What is a link graph?"}
    store = Store(tmp_path / "data" / "botifython.db")
    chats = store.conversations(1)
    assert [(m.role, m.content[:15]) for m in chats.messages(chats.latest().id)] == [
        ("user", "What is a link "),
        ("assistant", "A link graph is"),
    ]
    store.close()


def test_env_host_and_model_are_used(tmp_path, ollama):
    ollama.models.append("qwen2.5:0.5b")
    result = run(
        tmp_path,
        "chat",
        "hi",
        env_extra={
            "OLLAMA_HOST": ollama.base_url.removeprefix("http://"),
            "BOTIFYTHON_MODEL": "qwen2.5:0.5b",
        },
    )
    assert result.returncode == 0, result.stderr
    assert ollama.chat_requests[-1]["model"] == "qwen2.5:0.5b"


def test_unreachable_ollama_exits_non_zero_with_the_fix(tmp_path):
    result = run(tmp_path, "chat", "hello", host="127.0.0.1:9")
    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stderr and "ollama serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_and_mid_stream_error(tmp_path, ollama):
    result = run(tmp_path, "chat", "hello", "--model", "mistral", host=ollama.base_url)
    assert result.returncode != 0 and "ollama pull mistral" in result.stderr
    ollama.script(Reply(text="one two three four five six", error_after=3))
    result = run(tmp_path, "chat", "hello", host=ollama.base_url)
    assert result.returncode != 0
    assert "error in the middle" in result.stderr
    assert result.stdout.startswith("one two")  # what arrived was shown


def test_empty_question_is_refused(tmp_path, ollama):
    result = run(tmp_path, "chat", "   ", host=ollama.base_url)
    assert result.returncode != 0 and "empty" in result.stderr


# --- the full turn: sources, actions, approval ------------------------------------------------


def hashing_env(**extra: str) -> dict[str, str]:
    return {"BOTIFYTHON_EMBEDDING_MODEL": "hashing", **extra}


def test_answers_are_grounded_with_numbered_sources(tmp_path, ollama):
    pytest.importorskip("faiss")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "robots.md").write_text(
        "# Robots\n\nThe robots.txt file tells crawlers which paths to avoid.\n"
    )
    added = run(tmp_path, "docs", "add", str(notes), env_extra=hashing_env())
    assert added.returncode == 0, added.stderr
    ollama.script(Reply(text="Keep crawlers out with robots.txt [1]."))
    result = run(
        tmp_path,
        "chat",
        "Which paths should crawlers avoid with robots.txt?",
        host=ollama.base_url,
        env_extra=hashing_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Keep crawlers out with robots.txt [1].\n")
    assert "\nSources:\n  [1] " in result.stdout and "robots.md" in result.stdout
    system = ollama.chat_requests[-1]["messages"][0]["content"]
    assert "robots.txt file tells crawlers" in system


def test_without_a_terminal_reads_run_and_changes_are_refused(tmp_path, ollama):
    ollama.script(
        Reply(
            tool_calls=[
                {"name": "list_todos", "arguments": {}},
                {"name": "add_todo", "arguments": {"title": "Sneaky"}},
            ]
        ),
        Reply(text="I could not add it."),
    )
    result = run(tmp_path, "chat", "Add a todo called Sneaky", host=ollama.base_url)
    assert result.returncode == 3, result.stderr
    assert "Not run" in result.stderr and "Sneaky" in result.stderr
    assert "--yes" in result.stderr and "terminal" in result.stderr
    assert "Traceback" not in result.stderr
    assert "I could not add it." in result.stdout
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        assert store.todos(1).list() == []
        audit = store.audit(1).list(10)
        assert {(a.action, a.approved) for a in audit} == {
            ("list_todos", True),
            ("add_todo", False),
        }
    finally:
        store.close()


def test_yes_approves_the_changes(tmp_path, ollama):
    ollama.script(
        Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": "Approved"}}]),
        Reply(text="Added."),
    )
    result = run(tmp_path, "chat", "Add a todo", "--yes", host=ollama.base_url)
    assert result.returncode == 0, result.stderr
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        assert [t.title for t in store.todos(1).list()] == ["Approved"]
    finally:
        store.close()


def run_on_a_terminal(tmp_path, host: str, question: str, answers: list[str], timeout=30.0):
    """Run `botifython chat` with a pty as its terminal; answer each approval prompt in turn."""
    import pty
    import select
    import time

    env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "BOTIFYTHON_MODEL")}
    env["TERM"] = "dumb"
    primary, secondary = pty.openpty()

    def controlling_terminal() -> None:  # so that Ctrl+C on it is SIGINT, as in a shell
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "botifython_tui", "--data-dir", str(tmp_path / "data"),
         "--ollama-host", host, "chat", question],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
        start_new_session=True, preexec_fn=controlling_terminal,
    )  # fmt: skip
    os.close(secondary)
    output = b""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # the child closed its terminal
                    break
                if not chunk:
                    break
                output += chunk
            if output.count(b"Approve? [") > answered and answered < len(answers):
                answer = answers[answered]
                os.write(primary, b"\x03" if answer == "^C" else (answer + "\n").encode())
                answered += 1
            if not ready and process.poll() is not None:
                break
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    return process.returncode, output.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize("answer", ["y", "n"])
def test_on_a_terminal_changes_ask_y_n(tmp_path, ollama, answer):
    ollama.script(
        Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": "Check hreflang"}}]),
        Reply(text="Done as you said."),
    )
    code, output = run_on_a_terminal(tmp_path, ollama.base_url, "Add a todo", [answer])
    assert "Check hreflang" in output and "Approve? [y/N]" in output
    assert code == 0, output
    assert "Done as you said." in output
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        titles = [t.title for t in store.todos(1).list()]
    finally:
        store.close()
    assert titles == (["Check hreflang"] if answer == "y" else [])
    result = ollama.chat_requests[1]["messages"][-1]["content"]
    assert ('"ok": true' in result) == (answer == "y")


def test_on_a_terminal_several_changes_can_be_approved_together(tmp_path, ollama):
    calls = [{"name": "add_todo", "arguments": {"title": f"Task {i}"}} for i in range(3)]
    ollama.script(Reply(tool_calls=calls), Reply(text="Three added."))
    code, output = run_on_a_terminal(tmp_path, ollama.base_url, "Add three todos", ["a"])
    assert code == 0, output
    assert "a = approve all 3" in output
    assert output.count("Approve? [") == 1  # one answer covered all three
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        assert [t.title for t in store.todos(1).list()] == ["Task 0", "Task 1", "Task 2"]
    finally:
        store.close()


def test_a_host_that_cannot_be_right_is_bad_input_and_nothing_is_saved(tmp_path):
    result = run(tmp_path, "chat", "hello", env_extra={"OLLAMA_HOST": "$(id)"})
    assert result.returncode == 2
    assert "not a usable Ollama address" in result.stderr and "Traceback" not in result.stderr
    database = tmp_path / "data" / "botifython.db"
    if not database.exists():
        return  # refused while reading the settings, before anything was opened
    store = Store(database)
    try:
        chats = store.conversations(1)
        assert [m for c in chats.list() for m in chats.messages(c.id)] == []
    finally:
        store.close()


def test_ctrl_c_at_the_approval_prompt_exits_130_and_runs_nothing(tmp_path, ollama):
    ollama.script(
        Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": "Stop me"}}]),
        Reply(text="Should never be asked for."),
    )
    code, output = run_on_a_terminal(tmp_path, ollama.base_url, "Add a todo", ["^C"])
    assert code == 130, output
    assert "botifython: error: Interrupted." in output and "Traceback" not in output
    assert len(ollama.chat_requests) == 1
    store = Store(tmp_path / "data" / "botifython.db")
    try:
        assert store.todos(1).list() == []
    finally:
        store.close()


def test_a_claimed_action_is_marked_and_the_users_request_proposed(tmp_path, ollama):
    ollama.script(Reply(text="[App event] You have switched to the profile Acme."))
    result = run(
        tmp_path, "chat", "Add a todo: check the XML sitemap", "--yes", host=ollama.base_url
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing was done: the reply says an action happened" in result.stderr
    assert "Done: Add the todo “check the XML sitemap”" in result.stderr
    store = Store(tmp_path / "data" / "botifython.db")
    assert [t.title for t in store.todos(1).list()] == ["check the XML sitemap"]
    store.close()


def test_an_unrequested_export_is_marked_and_uses_the_configured_budget(tmp_path, ollama):
    ollama.script(
        Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": "Check the XML sitemap"}}]),
        Reply(
            tool_calls=[{"name": "start_linkgraph_export", "arguments": {"max_edges": 100_000_000}}]
        ),
    )
    result = run(tmp_path, "chat", "Add a todo: check the XML sitemap", host=ollama.base_url)
    assert "Not requested: Start a link-graph export" in result.stderr
    assert "100,000,000" not in result.stderr
    store = Store(tmp_path / "data" / "botifython.db")
    assert store.todos(1).list() == []  # no terminal, no --yes: nothing changed
    store.close()

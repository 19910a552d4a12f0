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
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL
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
    assert [(m.role, m.content[:15]) for m in store.messages(1).list()] == [
        ("user", "What is a link "),
        ("assistant", "A link graph is"),
    ]
    store.close()


def test_env_host_and_model_are_used(tmp_path, ollama):
    ollama.models.append("qwen2.5:0.5b")
    result = run(
        tmp_path, "chat", "hi",
        env_extra={"OLLAMA_HOST": ollama.base_url.removeprefix("http://"), "BOTIFYTHON_MODEL": "qwen2.5:0.5b"},
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

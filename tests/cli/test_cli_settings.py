"""`config`, `--json`, exit codes, completion and where state lives, as separate processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from botifython_tui.config import DB_FILENAME
from botifython_tui.core.store import Store


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOTIFYTHON_", "BOTIFY_")) and k != "OLLAMA_HOST"
    }
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "botifython_tui", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose per-user data folder is tmp/xdg/botifython."""
    return clean_env(XDG_DATA_HOME=str(tmp_path / "xdg"))


# --- config ---------------------------------------------------------------------------------


def test_config_list_set_and_where_each_value_comes_from(tmp_path: Path, home):
    listed = run("config", "list", "--json", cwd=tmp_path, env=home)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    by_key = {entry["key"]: entry for entry in doc["settings"]}
    assert set(by_key) >= {
        "chat.model",
        "chat.ollama_host",
        "chat.narration",
        "memory.remember_chats",
        "export.max_edges",
        "export.serve_port",
        "memory.embedding_model",
    }
    assert all(entry["source"] == "default" for entry in by_key.values())
    assert doc["paths"]["data_dir"] == {
        "value": str(tmp_path / "xdg" / "botifython"),
        "origin": "default",
    }

    stored = run("config", "set", "chat.ollama_host", "stored-host:3", cwd=tmp_path, env=home)
    assert stored.returncode == 0, stored.stderr
    assert run("config", "set", "export.max_edges", "2,000", cwd=tmp_path, env=home).returncode == 0
    after = {
        e["key"]: e
        for e in json.loads(run("config", "list", "--json", cwd=tmp_path, env=home).stdout)[
            "settings"
        ]
    }
    assert (after["chat.ollama_host"]["value"], after["chat.ollama_host"]["source"]) == (
        "stored-host:3",
        "stored",
    )
    assert after["export.max_edges"]["value"] == 2000

    overridden = run(
        "config", "list", "--json", cwd=tmp_path, env={**home, "OLLAMA_HOST": "env-host:2"}
    )
    entry = {e["key"]: e for e in json.loads(overridden.stdout)["settings"]}["chat.ollama_host"]
    assert entry["value"] == "env-host:2" and entry["source"] == "env"
    assert entry["overridden_by"] == "OLLAMA_HOST" and entry["stored"] == "stored-host:3"
    flagged = run(
        "config",
        "list",
        "--ollama-host",
        "flag-host:1",
        cwd=tmp_path,
        env={**home, "OLLAMA_HOST": "env-host:2"},
    )
    line = next(x for x in flagged.stdout.splitlines() if x.startswith("chat.ollama_host"))
    assert "flag-host:1" in line and "--ollama-host" in line and "stored-host:3" in line

    # storing under an override says so, on standard error
    noted = run(
        "config",
        "set",
        "chat.ollama_host",
        "other:4",
        cwd=tmp_path,
        env={**home, "OLLAMA_HOST": "e:2"},
    )
    assert noted.returncode == 0 and "OLLAMA_HOST overrides" in noted.stderr

    unset = run("config", "unset", "chat.ollama_host", cwd=tmp_path, env=home)
    assert unset.returncode == 0
    final = {
        e["key"]: e
        for e in json.loads(run("config", "list", "--json", cwd=tmp_path, env=home).stdout)[
            "settings"
        ]
    }
    assert final["chat.ollama_host"]["source"] == "default"


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("export.max_edges", "many"), "not a whole number"),
        (("export.serve_port", "99999"), "out of range"),
        (("chat.narration", "loud"), "off, milestones, everything"),
        (("chat.ollama_host", "ftp://nope"), "http"),
        (("memory.remember_chats", "perhaps"), "yes/no"),
    ],
)
def test_config_set_refuses_bad_values_with_exit_2(tmp_path: Path, home, args, what):
    result = run("config", "set", *args, cwd=tmp_path, env=home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("botifython: error: ") and what in result.stderr
    assert result.stdout == ""
    listed = json.loads(run("config", "list", "--json", cwd=tmp_path, env=home).stdout)
    assert all(e["source"] == "default" for e in listed["settings"])  # nothing stored


def test_config_refuses_control_characters_and_reports_bad_environment(tmp_path: Path, home):
    evil = run("config", "set", "chat.model", "llama\x1b[31m", cwd=tmp_path, env=home)
    assert evil.returncode == 2 and "\x1b" not in evil.stderr
    bad_env = run("config", "list", cwd=tmp_path, env={**home, "BOTIFYTHON_NARRATION": "loud"})
    assert bad_env.returncode == 2
    assert "BOTIFYTHON_NARRATION" in bad_env.stderr and "(unusable)" in bad_env.stdout
    assert "chat.ollama_host" in bad_env.stdout  # the others are still listed
    as_json = run(
        "config", "list", "--json", cwd=tmp_path, env={**home, "BOTIFYTHON_NARRATION": "loud"}
    )
    errors = [e for e in json.loads(as_json.stdout)["settings"] if "error" in e]
    assert [e["key"] for e in errors] == ["chat.narration"]
    cleared = run("config", "set", "chat.model", "", cwd=tmp_path, env=home)
    assert cleared.returncode == 0 and "Forgot" in cleared.stdout


def test_config_set_unknown_key_is_bad_usage(tmp_path: Path, home):
    result = run("config", "set", "chat.modle", "x", cwd=tmp_path, env=home)
    assert result.returncode == 2 and "chat.model" in result.stderr


def test_environment_beats_stored_model_and_remember_chats(tmp_path: Path, home):
    """The issue: a stored value silently beat BOTIFYTHON_MODEL and BOTIFYTHON_REMEMBER_CHATS."""
    run("config", "set", "chat.model", "stored-model", cwd=tmp_path, env=home)
    run("config", "set", "memory.remember_chats", "true", cwd=tmp_path, env=home)
    env = {**home, "BOTIFYTHON_MODEL": "env-model", "BOTIFYTHON_REMEMBER_CHATS": "0"}
    entries = {
        e["key"]: e
        for e in json.loads(run("config", "list", "--json", cwd=tmp_path, env=env).stdout)[
            "settings"
        ]
    }
    assert entries["chat.model"]["value"] == "env-model"
    assert entries["memory.remember_chats"]["value"] is False
    from botifython_tui.core.memory.feeds import remembers_chats
    from botifython_tui.core.settings import resolve

    store = Store(tmp_path / "xdg" / "botifython" / DB_FILENAME)
    try:
        os.environ["BOTIFYTHON_REMEMBER_CHATS"] = "0"
        assert remembers_chats(store.kv) is False
        os.environ["BOTIFYTHON_REMEMBER_CHATS"] = ""
        assert remembers_chats(store.kv) is True  # the stored value
        assert resolve("chat.model", env={}, kv=store.kv).value == "stored-model"
    finally:
        os.environ["BOTIFYTHON_REMEMBER_CHATS"] = "0"
        store.close()


# --- --json and exit codes ------------------------------------------------------------------


def test_profile_and_todo_lists_as_json(tmp_path: Path, home):
    assert run("profile", "add", "Client <b>[red]", cwd=tmp_path, env=home).returncode == 0
    assert run("todo", "add", "check \x1b[31mred\x1b[0m", cwd=tmp_path, env=home).returncode == 0
    run("todo", "done", "1", cwd=tmp_path, env=home)
    profiles = run("profile", "list", "--json", cwd=tmp_path, env=home)
    assert profiles.returncode == 0 and profiles.stderr == ""
    doc = json.loads(profiles.stdout)
    assert [(p["name"], p["current"]) for p in doc["profiles"]] == [
        ("Default", True),
        ("Client <b>[red]", False),
    ]
    assert doc["profiles"][0]["done"] == 1
    todos = run("todo", "list", "--json", cwd=tmp_path, env=home)
    listed = json.loads(todos.stdout)
    assert listed["todos"] == [{"id": 1, "title": "check \x1b[31mred\x1b[0m", "done": True}]
    assert "\x1b" not in todos.stdout  # escaped in JSON: nothing reaches the terminal raw
    empty = json.loads(
        run("todo", "list", "--json", "--profile", "Client <b>[red]", cwd=tmp_path, env=home).stdout
    )
    assert empty["todos"] == []


def test_docs_list_and_search_as_json(tmp_path: Path, home):
    pytest.importorskip("faiss")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "robots.md").write_text("# Robots\n\nrobots.txt disallow blocks crawling.\n")
    env = {**home, "BOTIFYTHON_EMBEDDING_MODEL": "hashing"}
    empty = run("docs", "search", "robots", "--json", cwd=tmp_path, env=env)
    assert json.loads(empty.stdout)["results"] == [] and "empty" in empty.stderr
    added = run("docs", "add", "docs", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    listed = json.loads(run("docs", "list", "--json", cwd=tmp_path, env=env).stdout)
    [document] = listed["documents"]
    assert document["kind"] == "document" and document["source"].endswith("robots.md")
    found = run("docs", "search", "robots disallow", "--json", cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert results and results[0]["rank"] == 1 and "disallow" in results[0]["text"]


def test_exit_codes(tmp_path: Path, home):
    assert run("profile", "add", "Second", cwd=tmp_path, env=home).returncode == 0
    confirm = run("profile", "delete", "Second", cwd=tmp_path, env=home)
    assert confirm.returncode == 3 and "--yes" in confirm.stderr
    assert "Second" in run("profile", "list", cwd=tmp_path, env=home).stdout  # nothing done
    assert run("profile", "delete", "Second", "--yes", cwd=tmp_path, env=home).returncode == 0
    assert run("todo", "done", "99", cwd=tmp_path, env=home).returncode == 1
    assert run("todo", "nonsense", cwd=tmp_path, env=home).returncode == 2
    assert run("todo", "done", "x", cwd=tmp_path, env=home).returncode == 2
    helped = run("--help", cwd=tmp_path, env=home)
    assert helped.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"  {code}" in helped.stdout
    assert "--yes" in helped.stdout and "--json" in helped.stdout


# --- completion -----------------------------------------------------------------------------


def test_completion_bash_is_sourced_without_error(tmp_path: Path, home):
    script = run("completion", "bash", cwd=tmp_path, env=home)
    assert script.returncode == 0 and script.stderr == ""
    assert "botifython" in script.stdout and "complete" in script.stdout
    command = f"{sys.executable} -m botifython_tui completion bash"
    sourced = subprocess.run(
        ["bash", "-c", f"source <({command}) && complete -p botifython"],
        cwd=tmp_path,
        env=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sourced.returncode == 0 and sourced.stderr == "", sourced.stderr
    assert "botifython" in sourced.stdout
    assert not (tmp_path / "xdg").exists()  # completion touches no data folder


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_other_shells(tmp_path: Path, home, shell: str):
    script = run("completion", shell, cwd=tmp_path, env=home)
    assert script.returncode == 0 and "botifython" in script.stdout
    assert "linkgraph" in script.stdout and "config" in script.stdout
    if shutil.which(shell):
        checked = subprocess.run(
            [shell, "-n"] if shell == "zsh" else [shell, "--no-execute"],
            input=script.stdout,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr


def test_unknown_shell_is_bad_usage(tmp_path: Path, home):
    assert run("completion", "powershell", cwd=tmp_path, env=home).returncode == 2


# --- where state lives ----------------------------------------------------------------------


def test_one_home_whichever_folder_the_app_starts_in(tmp_path: Path, home):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert run("todo", "add", "from a", cwd=first, env=home).returncode == 0
    listed = run("todo", "list", cwd=second, env=home)
    assert "from a" in listed.stdout  # the same todos from another folder
    assert not (first / "data").exists() and not (second / "data").exists()
    assert (first / "downloads").is_dir()  # exports stay beside the user's work
    assert (tmp_path / "xdg" / "botifython" / DB_FILENAME).is_file()


def _old_data(folder: Path, title: str) -> Path:
    old = folder / "data"
    old.mkdir(parents=True)
    store = Store(old / DB_FILENAME)
    store.todos(store.profiles.current().id).add(title)
    store.close()
    (old / "botify_token").write_text("old-token-1234\n")
    (old / "botify_token").chmod(0o600)
    (old / ".gitkeep").write_text("")
    return old


def test_old_data_is_found_and_moved_on_request(tmp_path: Path, home):
    old = _old_data(tmp_path, "old todo")
    user = tmp_path / "xdg" / "botifython"

    listed = run("todo", "list", cwd=tmp_path, env=home)
    assert listed.returncode == 0
    assert str(old) in listed.stderr and "botifython migrate-data" in listed.stderr
    assert (old / DB_FILENAME).is_file()  # never moved silently
    assert "old todo" not in listed.stdout

    moved = run("migrate-data", cwd=tmp_path, env=home)
    assert moved.returncode == 0, moved.stderr
    assert str(user) in moved.stdout
    assert not (old / DB_FILENAME).exists() and (old / ".gitkeep").exists()
    assert (user / "botify_token").read_text() == "old-token-1234\n"
    after = run("todo", "list", cwd=tmp_path, env=home)
    assert "old todo" in after.stdout and "migrate-data" not in after.stderr
    # the fresh database the first run created was set aside, not deleted
    aside = [p for p in user.iterdir() if p.name.startswith("replaced-")]
    assert len(aside) == 1 and (aside[0] / DB_FILENAME).is_file()


def test_moving_over_a_used_home_needs_yes_and_keeps_both(tmp_path: Path, home):
    old = _old_data(tmp_path / "project", "old todo")
    run("todo", "add", "new todo", cwd=tmp_path, env=home)  # the per-user home is in use
    refused = run("migrate-data", "--from", str(old), cwd=tmp_path, env=home)
    assert refused.returncode == 3 and "--yes" in refused.stderr
    assert (old / DB_FILENAME).is_file()
    assert "new todo" in run("todo", "list", cwd=tmp_path, env=home).stdout

    done = run("migrate-data", "--from", str(old), "--yes", cwd=tmp_path, env=home)
    assert done.returncode == 0, done.stderr
    assert "old todo" in run("todo", "list", cwd=tmp_path, env=home).stdout
    user = tmp_path / "xdg" / "botifython"
    [aside] = [p for p in user.iterdir() if p.name.startswith("replaced-")]
    kept = Store(aside / DB_FILENAME)
    try:
        assert [t.title for t in kept.todos(1).list()] == ["new todo"]  # nothing lost
    finally:
        kept.close()


def test_explicit_data_dir_is_never_second_guessed(tmp_path: Path, home):
    _old_data(tmp_path, "old todo")
    chosen = run("--data-dir", str(tmp_path / "mine"), "todo", "list", cwd=tmp_path, env=home)
    assert chosen.returncode == 0 and "migrate-data" not in chosen.stderr
    via_env = run("todo", "list", cwd=tmp_path, env={**home, "BOTIFYTHON_DATA_DIR": "data"})
    assert "old todo" in via_env.stdout and "migrate-data" not in via_env.stderr


def test_migrate_without_old_data_fails_clearly(tmp_path: Path, home):
    result = run("migrate-data", cwd=tmp_path, env=home)
    assert result.returncode == 1 and "nothing to move" in result.stderr

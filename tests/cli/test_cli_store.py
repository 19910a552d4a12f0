"""The real headless CLI, run as a separate process on a temporary data folder."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from botifython_tui import __version__
from botifython_tui.config import DB_FILENAME, LOG_FILENAME
from botifython_tui.core.store import Store

CONSOLE_SCRIPT = Path(sys.executable).with_name("botifython")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    env.update(extra)
    return env


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    program: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return run_many([args], cwd=cwd, env=env, program=program)[0]


def run_many(
    commands: list[tuple[str, ...]],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    program: list[str] | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run CLI processes side by side (they share the store safely) to keep the suite quick."""
    argvs = [[*(program or [sys.executable, "-m", "botifython_tui"]), *args] for args in commands]
    procs = [
        subprocess.Popen(
            argv,
            cwd=cwd,
            env=env if env is not None else clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    results = []
    for argv, proc in zip(argvs, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return results


class CLI:
    """`botifython --data-dir <tmp>/data ...`, checking the outcome."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.data = tmp_path / "data"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("--data-dir", str(self.data), *args, cwd=self.cwd)

    def run_many(self, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
        return run_many([("--data-dir", str(self.data), *args) for args in commands], cwd=self.cwd)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert result.stderr == "", result.stderr
        return result.stdout

    def fails(self, *args: str, code: int | None = None) -> str:
        return self.all_fail(args, code=code)[0]

    def all_fail(self, *commands: tuple[str, ...], code: int | None = None) -> list[str]:
        """Run read-only failing commands side by side; return each one's stderr."""
        errors = []
        for result in self.run_many(*commands):
            assert result.returncode != 0, (result.args, result.stdout)
            if code is not None:
                assert result.returncode == code
            assert "Traceback" not in result.stderr, result.stderr
            assert result.stderr.strip(), "a failure must say why on stderr"
            assert result.stdout == "", result.stdout
            errors.append(result.stderr)
        return errors

    def store(self) -> Store:
        self.data.mkdir(mode=0o700, exist_ok=True)
        return Store(self.data / DB_FILENAME)

    def seed(self, *titles: str, profile: str | None = None) -> None:
        """Set up state directly through the store (fast); the CLI is what is under test."""
        store = self.store()
        try:
            pid = store.profiles.create(profile).id if profile else store.profiles.current().id
            for title in titles:
                store.todos(pid).add(title)
        finally:
            store.close()


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- version, help, entry points -----------------------------------------------------------------


def test_version_with_python_dash_m(tmp_path: Path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"botifython {__version__}"
    assert not (tmp_path / "data").exists()  # --version touches nothing


def test_console_script_is_installed_and_works(tmp_path: Path):
    assert CONSOLE_SCRIPT.exists(), f"no console script at {CONSOLE_SCRIPT}"
    script = [str(CONSOLE_SCRIPT)]
    result = run_cli("--version", cwd=tmp_path, program=script)
    assert result.returncode == 0 and result.stdout.strip() == f"botifython {__version__}"
    data = str(tmp_path / "data")
    added = run_cli(
        "--data-dir", data, "todo", "add", "from the script", cwd=tmp_path, program=script
    )
    assert added.returncode == 0, added.stderr
    listed = run_cli("--data-dir", data, "todo", "list", cwd=tmp_path, program=script)
    assert listed.returncode == 0 and "from the script" in listed.stdout


def test_help(tmp_path: Path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in (
        "usage: botifython",
        "profile",
        "todo",
        "--data-dir",
        "--downloads-dir",
        "--version",
    ):
        assert word in result.stdout
    for group, actions in (("profile", ["list", "add", "use"]), ("todo", ["list", "add", "done"])):
        sub = run_cli(group, "--help", cwd=tmp_path)
        assert sub.returncode == 0
        for action in actions:
            assert action in sub.stdout
    assert not (tmp_path / "data").exists()


def test_no_command_without_a_terminal_fails_cleanly(tmp_path: Path):
    for program in ([sys.executable, "-m", "botifython_tui"], [str(CONSOLE_SCRIPT)]):
        result = run_cli("--data-dir", str(tmp_path / "data"), cwd=tmp_path, program=program)
        assert result.returncode != 0
        assert "interactive terminal" in result.stderr
        assert "Traceback" not in result.stderr
        assert "\x1b" not in result.stdout  # no TUI escape sequences were written


# --- profiles --------------------------------------------------------------------------------


def test_profile_list_on_a_fresh_store(cli: CLI):
    out = cli.ok("profile", "list")
    assert out.splitlines() == ["*   1  Default  (0 open, 0 done)"]


def test_profile_add_use_rename_delete(cli: CLI):
    assert cli.ok("profile", "add", "Work").strip() == "Added profile 2: Work"
    assert cli.ok("profile", "use", "work").strip() == "Now using profile 2: Work"
    assert cli.ok("profile", "list").splitlines() == [
        "    1  Default  (0 open, 0 done)",
        "*   2  Work  (0 open, 0 done)",
    ]
    assert cli.ok("profile", "rename", "2", "Clients").strip() == "Renamed profile 2 to Clients"
    cli.seed("goes with the profile", profile=None)  # into the current profile, Clients
    assert cli.ok("profile", "delete", "clients", "--yes").strip() == "Deleted profile 2: Clients"
    # the current profile falls back to the remaining one
    assert cli.ok("profile", "list").splitlines() == ["*   1  Default  (0 open, 0 done)"]
    store = cli.store()
    assert store.query("SELECT count(*) FROM todos")[0][0] == 0  # its todo went with it
    store.close()


def test_profile_list_shows_counts(cli: CLI):
    cli.seed("one", "two", "three")
    store = cli.store()
    store.todos(1).set_done(1)
    store.close()
    cli.seed("w", profile="Work")
    assert cli.ok("profile", "list").splitlines() == [
        "*   1  Default  (2 open, 1 done)",
        "    2  Work  (1 open, 0 done)",
    ]


def test_profile_failures(cli: CLI):
    cli.seed("precious", profile="Keep")
    duplicate, blank, unconfirmed, rename_dup = cli.all_fail(
        ("profile", "add", "KEEP"),
        ("profile", "add", "   "),
        ("profile", "delete", "Keep"),
        ("profile", "rename", "Default", "keep"),
    )
    assert "already exists" in duplicate and "KEEP" in duplicate
    assert "blank" in blank
    assert "--yes" in unconfirmed
    assert "already exists" in rename_dup
    # nothing changed
    assert cli.ok("profile", "list").splitlines() == [
        "*   1  Default  (0 open, 0 done)",
        "    2  Keep  (1 open, 0 done)",
    ]


def test_unknown_profile_fails(cli: CLI):
    errors = cli.all_fail(
        ("profile", "use", "Nope"),
        ("profile", "rename", "Nope", "Other"),
        ("profile", "delete", "Nope", "--yes"),
        ("todo", "list", "--profile", "Nope"),
        ("todo", "add", "x", "--profile", "Nope"),
    )
    for err in errors:
        assert "no profile" in err and "Nope" in err
    store = cli.store()
    assert [p.name for p in store.profiles.list()] == ["Default"]
    assert store.query("SELECT count(*) FROM todos")[0][0] == 0
    store.close()


def test_deleting_the_last_profile_fails(cli: CLI):
    assert "last profile" in cli.fails("profile", "delete", "Default", "--yes")
    store = cli.store()
    assert [p.name for p in store.profiles.list()] == ["Default"]
    store.close()


# --- todos -----------------------------------------------------------------------------------


def test_todo_add_list_done_undone_delete(cli: CLI):
    assert cli.ok("todo", "list").strip() == "No todos in profile Default."
    assert cli.ok("todo", "add", "  Buy milk ").strip() == "Added todo 1 to Default: Buy milk"
    cli.seed("Call Bob")
    assert cli.ok("todo", "done", "2").strip() == "Todo 2 is done: Call Bob"
    assert cli.ok("todo", "list").splitlines() == ["    1  [ ] Buy milk", "    2  [x] Call Bob"]
    assert cli.ok("todo", "undone", "2").strip() == "Todo 2 is open: Call Bob"
    assert cli.ok("todo", "delete", "1").strip() == "Deleted todo 1: Buy milk"
    assert cli.ok("todo", "list").splitlines() == ["    2  [ ] Call Bob"]


def test_todos_follow_the_current_profile_and_the_profile_option(cli: CLI):
    cli.seed("home task")
    cli.seed(profile="Work")
    added = cli.ok("todo", "add", "work task", "--profile", "work")
    assert added.strip() == "Added todo 2 to Work: work task"
    cli.ok("profile", "use", "Work")
    current, default = (
        r.stdout for r in cli.run_many(("todo", "list"), ("todo", "list", "--profile", "Default"))
    )
    assert current.splitlines() == ["    2  [ ] work task"]
    assert default.splitlines() == ["    1  [ ] home task"]


def test_data_dir_option_works_after_the_subcommand_too(cli: CLI):
    result = run_cli("todo", "add", "late option", "--data-dir", str(cli.data), cwd=cli.cwd)
    assert result.returncode == 0, result.stderr
    store = cli.store()
    assert [t.title for t in store.todos(1).list()] == ["late option"]
    store.close()


def test_unknown_todo_id_fails(cli: CLI):
    cli.seed("exists")
    errors = cli.all_fail(
        ("todo", "done", "999"), ("todo", "undone", "999"), ("todo", "delete", "999")
    )
    for err in errors:
        assert "999" in err and "no todo" in err.lower()
    store = cli.store()
    assert [(t.id, t.title, t.done) for t in store.todos(1).list()] == [(1, "exists", False)]
    store.close()


def test_another_profiles_todo_cannot_be_reached_by_id(cli: CLI):
    cli.seed("other's todo", profile="Other")  # todo 1, in a profile that is not current
    errors = cli.all_fail(
        ("todo", "done", "1"),
        ("todo", "delete", "1"),
        ("todo", "done", "1", "--profile", "Default"),
    )
    for err in errors:
        assert "no todo 1" in err
    store = cli.store()
    assert [(t.title, t.done) for t in store.todos(2).list()] == [("other's todo", False)]
    store.close()


def test_bad_todo_input_fails(cli: CLI):
    for err in cli.all_fail(("todo", "add", ""), ("todo", "add", "   "), ("todo", "add", "\t\n")):
        assert "blank" in err
    assert "is not a todo id" in cli.fails("todo", "done", "abc", code=2)  # a usage error
    store = cli.store()
    assert store.todos(1).list() == []
    store.close()


def test_markup_and_ansi_in_titles_are_printed_literally(cli: CLI):
    title = "[bold]loud[/] [link=http://evil.example]click[/link] \x1b[31mred\x1b[0m \x07bell"
    added = cli.ok("todo", "add", title)
    listed = cli.ok("todo", "list")
    for out in (added, listed):
        assert "\x1b" not in out and "\x07" not in out  # never emitted raw
        assert "[bold]loud[/] [link=http://evil.example]click[/link]" in out  # markup literal
        assert " red " in out and "31m" not in out  # escape sequences removed whole
        assert "␇bell" in out
    done = cli.ok("todo", "done", "1")
    assert "\x1b" not in done and "[bold]loud[/]" in done
    # the stored title itself is unchanged
    store = cli.store()
    assert store.todos(1).get(1).title == title
    store.close()


def test_line_breaks_in_titles_stay_on_one_line(cli: CLI):
    cli.seed("first line\nsecond line\rthird")
    listed = cli.ok("todo", "list").splitlines()
    assert listed == ["    1  [ ] first line second line third"]


def test_profile_names_with_escapes_are_neutralised(cli: CLI):
    out = cli.ok("profile", "add", "evil\x1b]0;pwned\x07")
    assert "\x1b" not in out and "\x07" not in out
    listed = cli.ok("profile", "list")
    assert "\x1b" not in listed and "evil" in listed and "pwned" not in listed
    err = cli.fails("profile", "add", "evil\x1b]0;pwned\x07")  # errors are neutralised too
    assert "\x1b" not in err and "\x07" not in err


# --- where data lives ------------------------------------------------------------------------


def test_defaults_data_in_the_user_folder_and_downloads_under_cwd(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(XDG_DATA_HOME=str(tmp_path / "xdg"))
    result = run_cli("todo", "add", "here", cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "xdg" / "botifython"
    assert (work / "downloads").is_dir() and not (work / "data").exists()
    assert data.is_dir() and mode(data) == 0o700
    assert mode(data / DB_FILENAME) == 0o600
    assert mode(data / LOG_FILENAME) == 0o600
    store = Store(data / DB_FILENAME)
    assert [t.title for t in store.todos(1).list()] == ["here"]
    store.close()


def test_environment_variables_are_honoured(tmp_path: Path):
    env_data, env_dl = tmp_path / "env-data", tmp_path / "env-dl"
    env = clean_env(BOTIFYTHON_DATA_DIR=str(env_data), BOTIFYTHON_DOWNLOADS_DIR=str(env_dl))
    result = run_cli("todo", "add", "via env", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (env_data / DB_FILENAME).exists() and env_dl.is_dir()
    assert not (tmp_path / "data").exists() and not (tmp_path / "downloads").exists()
    listed = run_cli("todo", "list", cwd=tmp_path, env=env)
    assert "via env" in listed.stdout

    # a relative value is taken from the current folder
    rel = run_cli("todo", "list", cwd=tmp_path, env=clean_env(BOTIFYTHON_DATA_DIR="env-data"))
    assert "via env" in rel.stdout

    # the flag beats the variable
    flag_data = tmp_path / "flag-data"
    flagged = run_cli("--data-dir", str(flag_data), "todo", "list", cwd=tmp_path, env=env)
    assert flagged.returncode == 0 and "No todos" in flagged.stdout
    assert (flag_data / DB_FILENAME).exists()


def test_downloads_dir_option(tmp_path: Path):
    dl = tmp_path / "exports"
    result = run_cli(
        "--data-dir",
        str(tmp_path / "d"),
        "--downloads-dir",
        str(dl),
        "profile",
        "list",
        cwd=tmp_path,
    )
    assert result.returncode == 0 and dl.is_dir()
    assert not (tmp_path / "downloads").exists()


def test_cli_runs_at_the_same_time_share_one_store(cli: CLI):
    cli.seed()  # create the store first
    results = cli.run_many(*[("todo", "add", f"t{i}") for i in range(4)])
    assert all(r.returncode == 0 and r.stderr == "" for r in results), results
    store = cli.store()
    assert sorted(t.title for t in store.todos(1).list()) == [f"t{i}" for i in range(4)]
    store.close()


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"this is not a database\n" * 100, b"SQLite format 3\x00" + b"\xab" * 4000],
    ids=["text", "bad-sqlite"],
)
def test_corrupt_database_fails_clearly_and_is_left_untouched(cli: CLI, content: bytes):
    cli.data.mkdir()
    db = cli.data / DB_FILENAME
    db.write_bytes(content)
    for err in cli.all_fail(("todo", "add", "x"), ("profile", "list")):
        assert str(db) in err
        assert "corrupt" in err or "not a Botifython database" in err
    assert hashlib.sha256(db.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert not db.with_name(DB_FILENAME + "-wal").exists()


def test_database_corrupt_beyond_the_first_pages_fails_clearly(cli: CLI):
    cli.seed(*(f"{i} " + "x" * 400 for i in range(200)))
    db = cli.data / DB_FILENAME
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    for page in range(pages - 5, pages):  # damage only the last pages, where the todos are
        data[page * 4096 : page * 4096 + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    err = cli.fails("todo", "list")
    assert str(db) in err and "malformed" in err


def test_data_dir_that_is_a_file_fails_clearly(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    env = clean_env(BOTIFYTHON_DATA_DIR=str(blocker))
    for args in (("--data-dir", str(blocker)), ()):  # the flag, and the environment variable
        result = run_cli(*args, "todo", "list", cwd=tmp_path, env=env)
        assert result.returncode != 0
        assert str(blocker) in result.stderr and "not a folder" in result.stderr
        assert "Traceback" not in result.stderr
    assert blocker.read_text() == "not a folder"


def test_data_dir_under_a_file_fails_clearly(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("--data-dir", str(blocker / "data"), "todo", "list", cwd=tmp_path)
    assert result.returncode != 0
    assert str(blocker / "data") in result.stderr
    assert "Traceback" not in result.stderr


def test_failures_write_nothing_to_stdout(cli: CLI):
    result = cli.run("todo", "done", "42")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("botifython: error: ")

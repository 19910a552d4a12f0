"""No input gives a traceback: any argument to any command ends in success or in one
`botifython: error: …` line, with exit 2 for bad input, 1 for a failure, 3 for "needs --yes".

Most cases run `main()` in this process (hundreds of examples in seconds); a handful run the real
program, with raw bytes in argv and the environment, as a shell would pass them. Network commands
point at a closed local port, so they fail at once instead of reaching anything.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from botifython_tui.cli.arguments import MAX_ID
from botifython_tui.config import LOG_FILENAME
from tests.cli.inprocess import ERROR_PREFIX, Outcome, closed_port, environment, run_main

# --- strategies ----------------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "-",
    "--",
    "-1",
    "0",
    "+1",
    "1_000",
    "1,5",
    "1e3",
    "١٢",  # Arabic-Indic digits: int() reads them, SQLite ids are ASCII
    "²",
    str(MAX_ID),
    str(MAX_ID + 1),
    "9" * 5000,  # beyond Python's int-from-string limit
    "-9223372036854775809",
    "--help",
    "--yes",
    "-k",
    "--profile",
    "$(id)",
    "`id`",
    "%s%n%(prog)s",
    "{0}",
    "[bold]x[/]",
    "\x1b[31mred\x1b[0m\x07",
    "\x1b]0;title\x07",
    "line\nbreak\r\n",
    "tab\there",
    "bad\udcff",  # what Python makes of the byte 0xff in argv
    "\ud800",
    "nul\x00byte",
    "\u202eright-to-left",
    "\ufeffbom",
    "https://app.botify.com/org/project/",
    "org/project",
    "http://[::1",
    "Default",
    "default",
    "1",
    "2",
]

anything = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)
undecodable = st.binary(max_size=20).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
controls = st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=20)
huge = st.builds(
    lambda ch, n: ch * n, st.characters(blacklist_categories=()), st.integers(2000, 60_000)
)
numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str)
TEXT = st.one_of(st.sampled_from(ODD), anything, undecodable, controls, numbers, huge)


def cmd(*parts: str | st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*(st.just(p) if isinstance(p, str) else p for p in parts)).map(list)


T = TEXT
# Where a number is expected, numbers of every size are likely, not a rare draw.
N = st.one_of(
    st.integers(min_value=2**63 - 2, max_value=2**80).map(str),
    st.integers(min_value=-(2**80), max_value=0).map(str),
    st.integers(min_value=1, max_value=2**63 - 1).map(str),
)
COMMANDS = st.one_of(
    cmd(T),
    cmd(T, T),
    cmd("profile", T),
    cmd("profile", "list"),
    cmd("profile", "add", T),
    cmd("profile", "use", N),
    cmd("profile", "use", T),
    cmd("profile", "rename", N, T),
    cmd("profile", "delete", T),
    cmd("profile", "delete", T, "--yes"),
    cmd("todo", T),
    cmd("todo", "list", "--profile", N),
    cmd("todo", "add", T),
    cmd("todo", "add", T, "--profile", T),
    cmd("todo", "done", N),
    cmd("todo", "done", T),
    cmd("todo", "undone", N),
    cmd("todo", "delete", N),
    cmd("todo", "delete", T),
    cmd("todo", "done", N, "--profile", N),
    cmd("token", T),
    cmd("token", "status", "--offline"),
    cmd("token", "clear"),
    cmd("projects", T),
    cmd("analyses", "--project", T),
    cmd("linkgraph", "--project", T),
    cmd("linkgraph", "--project", "org/project", "--analysis", T),
    cmd("linkgraph", "--project", "org/project", "--max-edges", N),
    cmd("linkgraph", "--project", "org/project", "--poll-interval", N),
    cmd("linkgraph", "--project", T, "--profile", T, "--yes"),
    cmd("chat", T),
    cmd("chat", "question", "--model", T),
    cmd("chat", T, "--profile", T, "--no-save"),
    cmd("docs", T),
    cmd("docs", "search", T),
    cmd("docs", "search", "crawl", "-k", N),
    cmd("docs", "list", "--kind", T),
    cmd("docs", "list", "--profile", T),
    cmd("docs", "remove", T),
    cmd("docs", "add", T),
    cmd("docs", "reindex", "--profile", T),
)


# --- the sandbox ---------------------------------------------------------------------------------


class Sandbox:
    """An empty current folder, a data and a downloads folder beside it, no reachable service."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root / "cwd"
        self.data = root / "data"
        self.downloads = root / "downloads"
        self.cwd.mkdir()
        port = closed_port()
        self.env = {
            "OLLAMA_HOST": f"127.0.0.1:{port}",
            "BOTIFY_API_URL": f"http://127.0.0.1:{port}",
            "BOTIFYTHON_REMEMBER_CHATS": "0",
        }

    def run(self, argv: list[str], *, stdin: str = "") -> Outcome:
        return run_main(
            ["--data-dir", str(self.data), "--downloads-dir", str(self.downloads), *argv],
            stdin=stdin,
        )


@contextlib.contextmanager
def _inside(box: Sandbox) -> Iterator[Sandbox]:
    before = os.getcwd()
    os.chdir(box.cwd)  # relative paths given to `docs add` resolve into an empty folder
    try:
        with environment(box.env):
            yield box
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One for all the examples of the properties: what they leave behind is part of the test."""
    with _inside(Sandbox(tmp_path_factory.mktemp("fuzz"))) as box:
        yield box


@pytest.fixture
def clean(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of its own, for a test that needs to know what is stored (the properties may
    have added a profile named by any number: "9223372036854775808" is one of Hypothesis's
    favourites)."""
    with _inside(Sandbox(tmp_path)) as box:
        yield box


def _touches_outside(argv: list[str], cwd: Path) -> bool:
    """`docs add .` or `docs add /` would index real files: not what this test is about."""
    if argv[:2] != ["docs", "add"]:
        return False
    try:
        return any(Path(cwd, p).exists() or not p.strip() for p in argv[2:])
    except (ValueError, OSError):
        return False


def _environment_can_hold(value: str) -> bool:
    """An environment holds bytes without NUL: Python shows undecodable ones as \\udcXX."""
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


EXAMPLES = int(os.environ.get("BOTIFYTHON_FUZZ_EXAMPLES", "200"))  # about 50 ms each
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the autouse ones are the same for every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ_FEWER = settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))


# --- properties ----------------------------------------------------------------------------------


@FUZZ
@given(argv=COMMANDS)
def test_any_argument_to_any_command_ends_in_a_clear_outcome(sandbox: Sandbox, argv: list[str]):
    assume(not _touches_outside(argv, sandbox.cwd))
    sandbox.run(argv).check_contract()


@FUZZ_FEWER
@given(value=TEXT, where=st.sampled_from(["--data-dir", "--downloads-dir"]))
def test_any_folder_option_ends_in_a_clear_outcome(sandbox: Sandbox, value: str, where: str):
    # Under the sandbox whatever the value (no `..`), so nothing is created elsewhere.
    assume(".." not in value)
    folder = f"{sandbox.root}/odd/{value}"
    other = "--downloads-dir" if where == "--data-dir" else "--data-dir"
    default = str(sandbox.downloads if other == "--downloads-dir" else sandbox.data)
    outcome = run_main([where, folder, other, default, "todo", "list"])
    outcome.check_contract()


@FUZZ_FEWER
@given(token=TEXT)
def test_any_token_on_standard_input_ends_in_a_clear_outcome(sandbox: Sandbox, token: str):
    outcome = sandbox.run(["token", "set", "--no-verify"], stdin=token)
    outcome.check_contract()
    sandbox.run(["token", "clear"]).check_contract()  # network commands stay offline


@FUZZ_FEWER
@given(
    name=st.sampled_from(
        ["BOTIFY_API_URL", "OLLAMA_HOST", "BOTIFYTHON_MAX_EDGES", "BOTIFYTHON_SERVE_PORT"]
    ),
    value=TEXT.filter(_environment_can_hold),
)
def test_any_setting_in_the_environment_ends_in_a_clear_outcome(
    sandbox: Sandbox, name: str, value: str
):
    with environment({**sandbox.env, name: value}):
        sandbox.run(["todo", "list"]).check_contract()


# --- the cases of the report, one by one -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["todo", "done", "9223372036854775808"],
        ["todo", "undone", "9223372036854775808"],
        ["todo", "delete", "9223372036854775808"],
        ["todo", "done", "--", "-1"],
        ["todo", "delete", "-5"],
        ["todo", "done", "0"],
        ["docs", "search", "x", "-k", "9223372036854775808"],
    ],
)
def test_out_of_range_ids_are_usage_errors(clean: Sandbox, argv: list[str]):
    outcome = clean.run(argv)
    outcome.check_contract()
    assert outcome.code == 2
    assert "expected a whole number from 1 to" in outcome.err


def test_a_profile_named_by_a_huge_number_is_not_found(clean: Sandbox):
    for name in (str(MAX_ID + 1), "9" * 30, "²"):
        outcome = clean.run(["profile", "use", name])
        outcome.check_contract()
        assert outcome.code == 1 and "no profile named" in outcome.err


def test_undecodable_text_is_refused_by_name_and_nothing_is_stored(clean: Sandbox):
    before = clean.run(["todo", "list"]).out
    outcome = clean.run(["todo", "add", "bad\udcff"])
    outcome.check_contract()
    assert outcome.code == 2
    assert "argument title: 'bad\\xff' is not valid UTF-8" in outcome.err
    assert clean.run(["todo", "list"]).out == before


def test_profile_delete_without_yes_needs_confirmation(clean: Sandbox):
    clean.run(["profile", "add", "Temporary"]).check_contract()
    outcome = clean.run(["profile", "delete", "Temporary"])
    outcome.check_contract()
    assert outcome.code == 3 and "--yes" in outcome.err
    assert clean.run(["profile", "delete", "Temporary", "--yes"]).code == 0


def test_the_last_resort_prints_one_line_and_logs_the_traceback(clean: Sandbox, capsys):
    """A failure no layer names (a bug) still reaches the terminal as one line."""
    from botifython_tui.cli.main import _unexpected

    clean.run(["todo", "list"]).check_contract()  # configures the log in the data folder
    try:
        raise RuntimeError("something nobody foresaw")
    except RuntimeError as exc:
        code = _unexpected(exc)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(ERROR_PREFIX)
    assert "something nobody foresaw" in err and str(clean.data / LOG_FILENAME) in err
    log = (clean.data / LOG_FILENAME).read_text()
    assert "Traceback" in log and "something nobody foresaw" in log


# --- real processes: argv and environment as raw bytes --------------------------------------------


def _program(
    *args: str | bytes, env: dict[str, str | bytes], cwd: Path
) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "botifython_tui", *args],
        env=full,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    err = result.stderr.decode("utf-8")  # strict: the program wrote valid UTF-8
    assert b"Traceback" not in result.stderr, err
    lines = [line for line in err.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(lines) == 1 and err.rstrip("\n").splitlines()[-1] == lines[0], err
    return lines[0]


@pytest.fixture
def real(tmp_path: Path):
    port = closed_port()
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "BOTIFY_API_URL": f"http://127.0.0.1:{port}"}
    data = str(tmp_path / "data")

    def run(*args: str | bytes, **extra: str | bytes) -> subprocess.CompletedProcess:
        return _program("--data-dir", data, *args, env={**env, **extra}, cwd=tmp_path)

    run.data = Path(data)  # type: ignore[attr-defined]
    return run


def test_real_process_out_of_range_id(real):
    assert real("todo", "add", "keep me").returncode == 0
    result = real("todo", "done", "9223372036854775808")
    assert result.returncode == 2
    assert "is not a todo id" in _one_error_line(result)


def test_real_process_undecodable_argument(real):
    result = real("todo", "add", b"bad\xff")
    assert result.returncode == 2
    assert "'bad\\xff' is not valid UTF-8" in _one_error_line(result)
    assert not real.data.exists()  # refused before anything was created or stored


def test_real_process_undecodable_folder_in_the_environment(tmp_path: Path):
    result = _program("todo", "list", env={"BOTIFYTHON_DATA_DIR": b"bad\xff"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "BOTIFYTHON_DATA_DIR" in _one_error_line(result)
    assert os.listdir(tmp_path) == []  # nothing was created


def test_real_process_odd_ollama_host(real):
    result = real("chat", "hi", OLLAMA_HOST="$(id)")
    assert result.returncode == 2
    line = _one_error_line(result)
    assert "OLLAMA_HOST='$(id)'" in line and "HOST:PORT" in line


def test_real_process_odd_botify_url(real):
    for url in ("http://[::1", "ftp://example.com", "https://user:pw@api.botify.com", "$(id)"):
        result = real("projects", BOTIFY_API_URL=url)
        assert result.returncode == 2, url
        assert "BOTIFY_API_URL" in _one_error_line(result)


def test_real_process_data_dir_that_is_a_device(tmp_path: Path):
    result = _program("--data-dir", "/dev/null", "todo", "list", env={}, cwd=tmp_path)
    assert result.returncode in (1, 2)
    assert "/dev/null" in _one_error_line(result)


def test_real_process_reader_leaving_early(real):
    """`botifython todo list | head -1`: the pipe closes; no traceback, no noise."""
    for i in range(3):
        assert real("todo", "add", f"todo {i}").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "botifython_tui", "--data-dir", str(real.data), "todo", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) in (0, 1)
    assert b"Traceback" not in err and b"Exception ignored" not in err, err

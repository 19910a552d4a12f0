"""The log file: private (0600, also after rotation) and never holding a secret."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

import pytest

from botifython_tui import logs
from botifython_tui.config import LOG_FILENAME


def _detach() -> None:
    logger = logging.getLogger(logs.LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "_botifython", False):
            logger.removeHandler(handler)
            handler.close()


@pytest.fixture
def log_path(tmp_path: Path):
    path = tmp_path / LOG_FILENAME
    yield path
    _detach()


def fresh_secret() -> str:
    return "sk-" + secrets.token_hex(16)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_file_is_created_0600_whatever_the_umask(log_path: Path):
    old = os.umask(0)
    try:
        logs.configure_logging(log_path)
    finally:
        os.umask(old)
    assert log_path.exists() and mode(log_path) == 0o600
    logs.get_logger("test").info("hello")
    assert "hello" in log_path.read_text()
    assert mode(log_path) == 0o600


def test_log_file_stays_0600_after_rotation(log_path: Path):
    old = os.umask(0o022)  # a typical umask, which would give a new file 0644
    try:
        log = logs.configure_logging(log_path)
        line = "x" * 200
        for i in range(6000):  # > 1 MB: the next start rotates
            log.info("line %d %s", i, line)
        assert not log_path.with_name(LOG_FILENAME + ".1").exists()  # never while running
        logs.configure_logging(log_path).info("after the restart")
    finally:
        os.umask(old)
    rotated = log_path.with_name(LOG_FILENAME + ".1")
    assert rotated.exists(), "the log did not rotate"
    assert mode(rotated) == 0o600
    assert mode(log_path) == 0o600, "the log file re-created by the rotation is not private"
    assert log_path.stat().st_size < 1_000_000
    assert "line 5999" in rotated.read_text() and "after the restart" in log_path.read_text()


def test_rotation_keeps_three_old_files(log_path: Path):
    for generation in range(5):
        log_path.write_text(f"generation {generation}\n" + "x" * 200)
        logs.rotate_at_start(log_path, max_bytes=100)
    names = sorted(p.name for p in log_path.parent.iterdir() if not p.name.endswith(".lock"))
    assert names == [LOG_FILENAME + ".1", LOG_FILENAME + ".2", LOG_FILENAME + ".3"]
    assert log_path.with_name(LOG_FILENAME + ".1").read_text().startswith("generation 4")
    assert log_path.with_name(LOG_FILENAME + ".3").read_text().startswith("generation 2")


WRITER = """
import logging, sys, time
from pathlib import Path
from botifython_tui import logs
path, name, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
log = logs.configure_logging(path, max_bytes=int(sys.argv[4]))
logging.getLogger("some.library").warning("library warning from %s", name)
for i in range(3000):
    log.info("%s %05d %s", name, i, name * 40)
"""


def test_two_processes_logging_at_once_never_print_nor_mix_lines(tmp_path: Path):
    import subprocess
    import sys
    import time

    path = tmp_path / LOG_FILENAME
    path.write_text("old line\n" * 2000)  # over the limit below: the next start rotates
    start = str(time.time() + 1.0)  # both start together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, start, "10000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "omega")
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert outputs == [("", ""), ("", "")]  # nothing on the terminal, no "Logging error"

    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith(LOG_FILENAME + "."))
    files = [path, *[p for p in files if not p.name.endswith(".lock")]]
    # the old log was rotated away (once, or again when the first writer filled the new one)
    assert "old line" not in path.read_text()
    assert any(f.read_text().startswith("old line") for f in files[1:])
    seen: dict[str, list[int]] = {"alpha": [], "omega": []}
    where: dict[str, set[str]] = {"alpha": set(), "omega": set()}
    for file in files:
        for line in file.read_text().splitlines():
            if line == "old line":
                continue
            if "library warning from" in line:
                continue
            # every line is whole: "<time> INFO botifython [pid N] NAME NNNNN NAMENAME…"
            parts = line.split()
            name, number, filler = parts[-3], parts[-2], parts[-1]
            assert name in seen and filler == name * 40, f"mixed line in {file.name}: {line!r}"
            seen[name].append(int(number))
            where[name].add(file.name)
    for name in seen:
        assert seen[name] == list(range(3000)), f"{name}: lines lost, repeated or reordered"
        assert len(where[name]) == 1, f"{name} wrote to several files: {where[name]}"
    text = "".join(f.read_text() for f in files)
    assert text.count("library warning from") == 2  # other libraries' warnings: the file too


def test_registered_secret_in_a_message_is_redacted(log_path: Path):
    token = fresh_secret()
    logs.register_secret(token)
    log = logs.configure_logging(log_path)
    log.info("calling the API with %s", token)  # as an argument
    logs.get_logger("api").warning(f"token was {token}!")  # inside the message itself
    text = log_path.read_text()
    assert token not in text
    assert text.count("[redacted]") == 2
    assert "token was [redacted]!" in text


def test_registered_secret_in_an_exception_and_traceback_is_redacted(log_path: Path):
    token = fresh_secret()
    logs.register_secret(token)
    logs.configure_logging(log_path)
    try:
        raise ValueError(f"request failed for key {token}")
    except ValueError:
        logs.get_logger("api").exception("export failed")
    text = log_path.read_text()
    assert "Traceback" in text and "ValueError" in text  # the traceback is logged ...
    assert token not in text  # ... without the secret
    assert "[redacted]" in text


def test_secret_registered_after_configuration_is_still_redacted(log_path: Path):
    log = logs.configure_logging(log_path)
    token = fresh_secret()
    logs.register_secret(token)
    log.info("later: %s", token)
    assert token not in log_path.read_text()


@pytest.mark.parametrize(
    ("line", "leak"),
    [
        ("Authorization: Token abc123def", "abc123def"),
        ("headers={'Authorization': 'Token Zx9-q.w_e~r+t/y='}", "Zx9-q.w_e~r+t/y="),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("authorization: token ABCDEFGHIJ", "ABCDEFGHIJ"),
    ],
)
def test_authorization_header_values_are_redacted_without_registration(
    log_path: Path, line: str, leak: str
):
    assert leak not in logs.redact(line)
    logs.configure_logging(log_path).info(line)
    text = log_path.read_text()
    assert leak not in text
    assert "[redacted]" in text


def test_redact_keeps_ordinary_text(log_path: Path):
    assert (
        logs.redact("exported 3 pages to downloads/x.csv") == "exported 3 pages to downloads/x.csv"
    )


def test_longer_secret_containing_a_shorter_one_is_fully_redacted():
    short = "k" + secrets.token_hex(4)
    long = short + secrets.token_hex(8)
    logs.register_secret(short)
    logs.register_secret(long)
    out = logs.redact(f"a={long} b={short}")
    assert short not in out and long not in out
    assert out == "a=[redacted] b=[redacted]"


@pytest.mark.parametrize("value", [None, ""])
def test_register_secret_ignores_empty_values(value):
    logs.register_secret(value)
    assert logs.redact("nothing to hide") == "nothing to hide"


def test_configure_logging_is_idempotent(log_path: Path):
    logs.configure_logging(log_path)
    log = logs.configure_logging(log_path)
    assert sum(getattr(h, "_botifython", False) for h in log.handlers) == 1
    log.info("once")
    assert log_path.read_text().count("once") == 1
    assert log.propagate is False  # app logs do not leak to the terminal via the root logger


def test_escape_sequences_and_line_breaks_from_servers_never_reach_the_log(log_path: Path):
    """A Botify username or model name with OSC 52, a title sequence or a forged log line."""
    username = "jane\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x1b\\\u202e\nFAKE ERROR line"
    log = logs.configure_logging(log_path)
    log.info("connected as %s", username)  # in the arguments
    logs.get_logger("botify").warning(f"user {username}")  # inside the message
    try:
        raise RuntimeError(f"job failed: {username}")
    except RuntimeError:
        log.exception("export %s", username)  # and in a traceback
    text = log_path.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "cHduZWQ" not in text and "owned" not in text
    assert not any(line.startswith("FAKE ERROR") for line in text.splitlines())
    assert "connected as jane FAKE ERROR line" in text

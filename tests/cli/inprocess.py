"""Run the CLI's `main()` in this process (fast, for property tests), as a shell would see it."""

from __future__ import annotations

import io
import os
import re
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass

from botifython_tui.cli.main import main

ERROR_PREFIX = "botifython: error: "
# What may reach a terminal: no C0 control but newline (argparse and our output use no tabs), no DEL.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str

    def check_contract(self) -> None:
        """The shared exit-code and error contract of every command."""
        where = f"{self.argv!r}\nstdout: {self.out[-2000:]!r}\nstderr: {self.err[-2000:]!r}"
        assert self.code in (0, 1, 2, 3), f"exit code {self.code}: {where}"
        assert "Traceback" not in self.err and "Traceback" not in self.out, where
        for mark in ("This is a bug", "the details are in"):  # only the last resort says these
            assert mark not in self.err, f"reached the last-resort handler: {where}"
        for stream in (self.out, self.err):
            stream.encode("utf-8")  # a real terminal would have raised on an unencodable string
            assert not RAW_CONTROL.search(stream), f"raw control character: {where}"
        errors = [line for line in self.err.splitlines() if line.startswith(ERROR_PREFIX)]
        if self.code == 0:
            assert errors == [], where
        else:
            assert len(errors) == 1, f"one error line expected: {where}"
            assert self.err.rstrip("\n").splitlines()[-1] == errors[0], where


@contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def run_main(argv: Sequence[str], *, stdin: str = "") -> Outcome:
    """`botifython ARGV` in-process: exit code (argparse's SystemExit included), stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), _stdin(stdin):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Outcome(list(argv), code, out.getvalue(), err.getvalue())


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set (and afterwards restore) environment variables; BOTIFYTHON_* ones start cleared."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("BOTIFYTHON_")]:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def closed_port() -> int:
    """A local port nothing listens on (so network commands fail at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

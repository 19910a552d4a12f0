"""The fakes keep every failure mode the product must survive, and a test exercises each one.

Each fake lists its fault modes (`FAULT_MODES`); below, each mode says how a test that uses it
reads (patterns that must all occur in one test file outside tests/fakes). A mode removed from a
fake, a new mode without a test, or a mode no test uses any more fails here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from botifython_tui.core.botify_sim import FAULT_MODES as BOTIFY_FAULT_MODES
from botifython_tui.core.botify_sim import BotifySimulator
from tests.fakes.ollama_server import FAULT_MODES as OLLAMA_FAULT_MODES
from tests.fakes.ollama_server import FakeOllama, Reply

TESTS = Path(__file__).resolve().parents[1]
SIM_SOURCE = Path(BotifySimulator.__module__.replace(".", "/")).parent

# mode -> patterns that must all occur in one test file
BOTIFY = {
    "inject": (r"\.inject\(\s*\d",),
    "inject:body=html": (r"\.inject\(", r'"html"'),
    "inject:body=empty": (r"\.inject\(", r'"empty"'),
    "inject:retry_after": (r"\.inject\([^)]*retry_after=",),
    "inject:times=None": (r"\.inject\([^)]*times=None",),
    "inject:path": (r"\.inject\([^)]*path=",),
    "rate_limit_rps": (r"\.rate_limit_rps = \d",),
    "retry_after_on_rate_limit": (r"\.retry_after_on_rate_limit = ",),
    "response_delay": (r"\.response_delay = (?!0\.0\b)\d",),
    "poll_delay": (r"\.poll_delay = (?!0\.0\b)\d",),
    "polls_before_done": (r"\.polls_before_done = ",),
    "job_outcome=failed": (r"job_outcome", r'"failed"'),
    "job_outcome=done_without_results": (r'job_outcome[^\n]*"done_without_results"',),
    "job_error_message": (r"\.job_error_message = ",),
    "download_fault=truncated": (r"download_fault", r'"truncated"'),
    "download_fault=drop": (r"download_fault", r'"drop"'),
    "download_fault=forbidden": (r"download_fault", r'"forbidden"'),
    "download_fault=not_found": (r"download_fault", r'"not_found"'),
    "download_fault=empty": (r"download_fault", r'"empty"'),
    "download_fault=short": (r"download_fault", r'"short"'),
    "download_fault=nb_lines_mismatch": (r"download_fault", r'"nb_lines_mismatch"'),
    "download_fault_times": (r"\.download_fault_times = \d",),
    "accept_ranges": (r"\.accept_ranges = ",),
    "download_rate": (r"\.download_rate = \d",),
    "error_code_as_number": (r"\.error_code_as_number = True",),
    "unauthorized_shape=drf": (r"unauthorized_shape", r'"drf"'),
    "revoke_token": (r"\.revoke_token\(\)",),
    "request_body_too_large": (r"FakeBotify", r"HTTP/1\.1 413"),
}
OLLAMA = {
    "Reply.status": (r"Reply\([^)]*\bstatus=\d",),
    "Reply.error_after": (r"Reply\([^)]*\berror_after=",),
    "Reply.drop_after": (r"Reply\([^)]*\bdrop_after=",),
    "Reply.first_token_delay": (r"Reply\([^)]*\bfirst_token_delay=",),
    "Reply.token_delay": (r"Reply\([^)]*(?<!first_)token_delay=",),
    "Reply.raw_lines": (r"Reply\([^)]*\braw_lines=",),
    "Reply.tool_calls": (r"Reply\([^)]*\btool_calls=",),
    "Reply.escape_sequences": (r"Reply\(", r"\\x1b|\\033|\\x9b"),
    "Reply.huge": (r"Reply\(text=HUGE",),
    "reset_connections": (r"\.reset_connections = True",),
    "not_found_style": (r"\.not_found_style = ",),
    "capabilities": (r"\.capabilities\[|\.capabilities = ",),
    "token_delay": (r"fake\.token_delay = \d",),
    "request_body_too_large": (r"FakeOllama", r"\b413\b"),
}


def _test_files() -> list[tuple[Path, str]]:
    here = Path(__file__).resolve()
    files = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == here or "fakes" in path.relative_to(TESTS).parts:
            continue
        files.append((path, path.read_text(encoding="utf-8")))
    return files


FILES = _test_files()


def _exercised_by(patterns: tuple[str, ...]) -> list[str]:
    return [
        str(path.relative_to(TESTS))
        for path, text in FILES
        if all(re.search(pattern, text) for pattern in patterns)
    ]


def test_the_botify_fault_modes_are_the_declared_ones():
    assert set(BOTIFY_FAULT_MODES) == set(BOTIFY), "a fault mode was added or removed"


def test_the_ollama_fault_modes_are_the_declared_ones():
    assert set(OLLAMA_FAULT_MODES) == set(OLLAMA), "a fault mode was added or removed"


@pytest.mark.parametrize("mode", sorted(BOTIFY))
def test_each_botify_fault_mode_exists(mode):
    if ":" in mode:  # a variant of a method (inject:...): the method must exist
        knob, value = mode.split(":")[0], ""
    else:
        knob, _, value = mode.partition("=")
    simulator = BotifySimulator()
    if knob == "request_body_too_large":
        assert "413" in (SIM_SOURCE / "http.py").read_text(encoding="utf-8")
        return
    assert hasattr(simulator, knob), f"BotifySimulator has no {knob}"
    if value:  # the value is handled somewhere in the simulator, not just accepted
        sources = "".join(p.read_text(encoding="utf-8") for p in SIM_SOURCE.glob("*.py"))
        assert sources.count(f'"{value}"') >= 2, f"{knob}={value} is not implemented"


@pytest.mark.parametrize("mode", sorted(OLLAMA))
def test_each_ollama_fault_mode_exists(mode):
    owner, _, name = mode.rpartition(".")
    if owner == "Reply":
        fields = {f.name for f in dataclasses.fields(Reply)}
        assert name in fields or name in ("escape_sequences", "huge"), f"Reply has no {name}"
    elif mode != "request_body_too_large":
        assert hasattr(FakeOllama(), mode), f"FakeOllama has no {mode}"


@pytest.mark.parametrize(
    ("fake", "mode", "patterns"),
    [("botify", m, p) for m, p in BOTIFY.items()] + [("ollama", m, p) for m, p in OLLAMA.items()],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_each_fault_mode_is_exercised_by_a_test(fake, mode, patterns):
    assert _exercised_by(patterns), f"no test uses the {fake} fake's {mode!r} fault mode"

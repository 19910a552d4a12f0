"""Drive the real `botifython` in tmux the way a person would: send keys, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest


def require_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI (scripts/bootstrap.sh installs it)")
        pytest.skip("tmux is not installed (apt-get install tmux); CI always runs these tests")
    return tmux


class TmuxSession:
    """One detached tmux server (own socket, so a user's sessions are never touched)."""

    def __init__(self, command: str, *, cwd: Path, width: int = 80, height: int = 24) -> None:
        self.tmux = require_tmux()
        self.socket = f"botifython-test-{uuid.uuid4().hex[:8]}"
        self.name = "app"
        env = {**os.environ, "TERM": "xterm-256color"}
        env.pop("TMUX", None)
        self._run(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(width),
            "-y",
            str(height),
            "-c",
            str(cwd),
            command,
            env=env,
        )

    def _run(self, *args: str, env: dict | None = None) -> str:
        result = subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
            check=True,
        )
        return result.stdout

    def split(self, command: str, cwd: Path) -> None:
        self._run("split-window", "-h", "-t", self.name, "-c", str(cwd), command)

    def send(self, *keys: str, pane: str = "") -> None:
        self._run("send-keys", "-t", f"{self.name}{pane}", *keys)

    def type(self, text: str, pane: str = "") -> None:
        self._run("send-keys", "-t", f"{self.name}{pane}", "-l", text)

    def screen(self, pane: str = "") -> str:
        return self._run("capture-pane", "-p", "-t", f"{self.name}{pane}")

    def wait_for(
        self, check: str | Callable[[str], bool], *, pane: str = "", timeout: float = 20.0
    ) -> str:
        predicate = (lambda text: check in text) if isinstance(check, str) else check
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(pane)
            if predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"Timed out waiting for {check!r}; the screen shows:\n{text}")

    def kill(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True)


DIALOG_EDGES = "█│┃║▌▐▎▊▏▕"  # the characters a dialog's border is drawn with


def dialog_signature(screen: str, marker: str) -> str:
    """The text of the dialog line that holds `marker`, from the marker to the dialog's edge:
    what tells this dialog from the next one with the same marker (another action to approve)."""
    for line in screen.splitlines():
        start = line.find(marker)
        if start >= 0:
            rest = line[start:]
            ends = [i for i in (rest.find(edge) for edge in DIALOG_EDGES) if i >= 0]
            return rest[: min(ends)].rstrip() if ends else rest.rstrip()
    raise AssertionError(f"no dialog showing {marker!r}:\n{screen}")


def answer_dialog(session: TmuxSession, key: str, marker: str, timeout: float = 30) -> None:
    """Answer the dialog showing `marker` as a person does: after reading it (a dialog ignores
    keys that come within half a second of it), and again only while that same dialog is shown.

    A key sent again once the dialog has closed would answer the next one: that is how a test
    approved an export it meant to decline. So the dialog is told apart by its own words.
    """
    signature = dialog_signature(session.wait_for(marker, timeout=timeout), marker)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.7)  # the dialog's keyboard-quiet rule: an answer counts after 0.5 s
        session.send(key)
        try:
            session.wait_for(lambda text: signature not in text, timeout=3)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the dialog showing {signature!r} did not close")

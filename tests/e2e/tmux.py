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

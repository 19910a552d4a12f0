"""End to end in tmux: a hostile Ollama cannot write the clipboard or retitle the terminal.

tmux is set up so that the attack would work (`set-clipboard on` turns OSC 52 into a paste buffer,
`allow-rename on`, and OSC 0/2 set the pane title): the fake Ollama serves a model whose name holds
an OSC 52 clipboard write and a title sequence, replies with more of them, and fails mid-stream
with them. The TUI (chat, picker, notifications) and `botifython chat` on the same terminal run;
afterwards tmux has no paste buffer but the one Ctrl+R made (plain text), and the same pane title.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from botifython_tui.core.settings import MODEL
from botifython_tui.core.store import Store
from tests.e2e.tmux import TmuxSession
from tests.fakes.ollama_server import FakeOllama, Reply

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # base64 of "pwned"
TITLE = "\x1b]0;pwned-title\x1b\\"
TITLE_8BIT = "\x9d2;pwned-title-2\x9c"
HOSTILE_MODEL = f"evil{OSC52}{TITLE}:latest"
SAFE_MODEL = "evil:latest"  # what the neutraliser leaves of the name


def tmux(session: TmuxSession, *args: str) -> str:
    return subprocess.run(
        [session.tmux, "-L", session.socket, *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


def botifython(tmp_path: Path, host: str, *args: str) -> str:
    command = [
        sys.executable,
        "-m",
        "botifython_tui",
        "--data-dir",
        str(tmp_path / "data"),
        "--downloads-dir",
        str(tmp_path / "downloads"),
        "--ollama-host",
        host,
        *args,
    ]
    return f"PYTHONPATH={shlex.quote(str(REPO))} " + shlex.join(command)


def test_a_hostile_ollama_cannot_touch_the_clipboard_or_the_title(tmp_path):
    (tmp_path / "data").mkdir(mode=0o700)
    store = Store(tmp_path / "data" / "botifython.db")
    store.kv[MODEL] = HOSTILE_MODEL  # saved before: used on every chat
    store.close()
    with FakeOllama(models=[HOSTILE_MODEL, SAFE_MODEL]) as fake:
        fake.script(
            Reply(text=f"Safe words {OSC52} more {TITLE} and {TITLE_8BIT} end."),
            Reply(text="half a reply", error_after=1, error=f"broke {OSC52}{TITLE}"),
            Reply(text=f"CLI words {OSC52} {TITLE} done."),
            Reply(text="half", error_after=1, error=f"cli broke {OSC52}{TITLE}"),
        )
        host = fake.base_url
        script = "; ".join(
            [
                botifython(tmp_path, host),
                botifython(tmp_path, host, "chat", "from the shell"),
                botifython(tmp_path, host, "chat", "once more"),
                "echo ALL-DONE",
                "sleep 60",
            ]
        )
        # The pane starts with a shell that waits for the go-ahead, so the attack-friendly
        # options are in place before anything runs.
        session = TmuxSession(
            f"sh -c {shlex.quote('read go; ' + script)}", cwd=tmp_path, width=120, height=40
        )
        try:
            tmux(session, "set", "-g", "set-clipboard", "on")
            tmux(session, "set", "-g", "allow-rename", "on")
            tmux(session, "set-window-option", "-g", "automatic-rename", "off")
            title_before = tmux(session, "display", "-p", "#{pane_title}").strip()
            assert tmux(session, "list-buffers") == ""
            session.send("Enter")  # go

            session.wait_for("Todos", timeout=30)
            session.send("F6")
            screen = session.wait_for("Ask the assistant", timeout=30)
            session.type("hello")
            session.send("Enter")
            screen = session.wait_for("end.", timeout=30)
            assert "Safe words" in screen and SAFE_MODEL in screen
            session.send("C-r")  # copy the reply: the only clipboard write allowed
            session.wait_for(lambda _: tmux(session, "list-buffers") != "", timeout=10)
            session.type("again")
            session.send("Enter")
            session.wait_for("broke", timeout=30)  # the mid-stream error, shown
            session.send("C-o")
            session.wait_for("Models installed", timeout=30)
            session.wait_for("Enter to choose", timeout=30)
            session.send("Escape")
            session.wait_for(lambda text: "Models installed" not in text, timeout=10)
            session.send("C-q")
            screen = session.wait_for("ALL-DONE", timeout=60)
            assert "CLI words" in screen and "done." in screen
            assert "botifython: error:" in screen and "cli broke" in screen
            time.sleep(0.5)  # let tmux finish reading the pane's output

            buffers = tmux(session, "list-buffers").strip().splitlines()
            assert len(buffers) == 1, buffers  # Ctrl+R's copy, nothing else
            copied = tmux(session, "show-buffer")
            assert copied.startswith("Safe words") and "end." in copied
            assert "pwned" not in copied and "\x1b" not in copied
            assert tmux(session, "display", "-p", "#{pane_title}").strip() == title_before
            assert "pwned" not in tmux(session, "display", "-p", "#{window_name}")
        finally:
            session.kill()

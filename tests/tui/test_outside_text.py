"""Property: no string from a server reaches the terminal, the log or the clipboard as a command.

Strings full of escape sequences (OSC 52 clipboard writes, OSC 0 titles, CSI, DCS, APC, 8-bit
introducers), control characters, bidi overrides and Rich markup are pushed through every path a
server string takes: the model list and picker, the reply stream, notifications of Ollama and
Botify errors, log lines, the clipboard copy, and the CLI on a real pty. None of them may emit ESC,
a C1 control or a bidi control, and markup is always shown as typed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import os
import pty
import re
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.widgets import OptionList

from botifython_tui import logs
from botifython_tui.cli.main import main as cli_main
from botifython_tui.config import Settings
from botifython_tui.core.botify import BotifyError
from botifython_tui.core.linkgraph import ExportFailed
from botifython_tui.core.ollama import OllamaClient, OllamaError, choose_model
from botifython_tui.core.settings import MODEL
from botifython_tui.core.store import Store
from botifython_tui.core.text import neutralize_controls
from botifython_tui.tui.app import make_app
from botifython_tui.tui.errors import report_error
from botifython_tui.tui.screens.model_picker import ModelPicker
from botifython_tui.tui.widgets.chat_input import ChatInput
from botifython_tui.tui.widgets.chat_pane import ChatPane
from tests.fakes.ollama_server import FakeOllama, Reply
from tests.tui.helpers import until

UNSAFE = re.compile("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
OSC52 = "\x1b]52;c;cHduZWQ=\x07"
TITLE = "\x1b]0;pwned\x1b\\"
PIECES = [
    OSC52,
    TITLE,
    "\x1b]2;title\x9c",
    "\x9d0;eight-bit title\x07",
    "\x9d52;c;QUJD\x9c",
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\x1bP+q544e\x1b\\",
    "\x90dcs\x9c",
    "\x1b_apc\x1b\\",
    "\x1b^pm\x1b\\",
    "\x1bXsos\x1b\\",
    "\x1bc",
    "\x1b",
    "\x07\x08\r\x00\x7f\x85",
    "\u202eevil\u202c",
    "\u2066\u2069\u200f\u061c",
    "[bold red]markup[/]",
    "[link=https://evil.example]x[/link]",
    "[@click=app.quit]q[/]",
]
hostile = (
    st.lists(
        st.one_of(st.sampled_from(PIECES), st.text(alphabet="ab c:.-[]/\n", max_size=6)),
        min_size=1,
        max_size=6,
    )
    .map("".join)
    .filter(lambda text: text.strip() != "")
)
# Each example runs the app or the CLI against the fake: few examples, and no shrinking (a
# failure is reported with the example as drawn).
quick = settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_safe(text: str, where: str = "") -> None:
    found = UNSAFE.search(text)
    assert found is None, f"{where}: {found.group()!r} in {text!r}"


def screen_text(app) -> str:
    """What the current screen draws, toasts included."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notes(app) -> list[str]:
    return [f"{n.title}\n{n.message}" for n in app._notifications]


@pytest.fixture(scope="module")
def ollama():
    with FakeOllama(models=["llama3.2:latest"]) as fake:
        yield fake


def fresh(tmp_path_factory, ollama) -> tuple[Settings, Store]:
    folder = tmp_path_factory.mktemp("outside")
    app_settings = Settings.resolve(
        data_dir=folder / "data", downloads_dir=folder / "downloads", env={}, cwd=folder
    )
    app_settings.ensure_dirs()
    return dataclasses.replace(app_settings, ollama_host=ollama.base_url), Store(
        app_settings.db_path
    )


def run(coroutine) -> None:
    asyncio.run(coroutine)


# --- in the core: errors, model names, the log --------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(hostile)
def test_error_messages_from_servers_are_neutralised_when_made(text):
    for error in (OllamaError(text), BotifyError(text, status=500), ExportFailed(text)):
        assert_safe(str(error), type(error).__name__)


@quick
@given(name=hostile)
def test_model_list_and_saved_model_are_neutralised(ollama, name):
    ollama.models = [name, "llama3.2:latest"]

    async def scenario() -> None:
        async with OllamaClient(ollama.base_url) as client:
            for model in await client.models():
                assert_safe(model.name, "model list")
            assert_safe(await choose_model(client, {MODEL: name}), "saved model")

    run(scenario())


@settings(max_examples=40, deadline=None)
@given(text=hostile)
def test_log_lines_never_carry_escapes(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("log") / "botifython.log"
    log = logs.configure_logging(path)
    try:
        log.info("connected as %s", text)
        logs.get_logger("botify").warning(f"job failed: {text}")
        try:
            raise BotifyError(text)
        except BotifyError:
            log.exception("export of %s", text)
        written = path.read_text(encoding="utf-8")
        assert_safe(written, "log")
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", written)
    finally:
        logger = logging.getLogger(logs.LOGGER_NAME)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


# --- in the app: picker, reply stream, notifications, clipboard ---------------------------------


@quick
@given(name=hostile)
def test_model_picker_and_chat_title_show_hostile_names_safely(tmp_path_factory, ollama, name):
    app_settings, store = fresh(tmp_path_factory, ollama)
    ollama.models = [f"{name}:latest", "llama3.2:latest"]
    store.kv[MODEL] = name  # saved by an older version, or chosen before

    async def scenario() -> None:
        app = make_app(app_settings, store)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f6")
            await until(pilot, lambda: app.screen.query(ChatPane))
            await pilot.pause()
            assert_safe(screen_text(app), "chat title")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, ModelPicker))
            listing = app.screen.query_one(OptionList)
            await until(pilot, lambda: listing.option_count == 2)
            for index in range(listing.option_count):
                prompt = listing.get_option_at_index(index).prompt
                assert isinstance(prompt, Text)  # never parsed as markup
                assert_safe(prompt.plain, "picker option")
            await pilot.pause()
            assert_safe(screen_text(app), "picker")
            listing.highlighted = 0
            await pilot.press("enter")  # choose the hostile model
            await until(pilot, lambda: not isinstance(app.screen, ModelPicker))
            await pilot.pause()
            assert_safe(screen_text(app), "chat after choosing")
            assert_safe("\n".join(notes(app)), "notifications")

    try:
        run(scenario())
    finally:
        store.close()


@quick
@given(tokens=st.lists(hostile, min_size=1, max_size=5), error=hostile)
def test_reply_stream_errors_and_clipboard_are_safe(tmp_path_factory, ollama, tokens, error):
    app_settings, store = fresh(tmp_path_factory, ollama)
    ollama.models = ["llama3.2:latest"]
    ollama.clear_script()
    ollama.script(Reply(tokens=tokens), Reply(text="half a reply", error_after=1, error=error))

    async def scenario() -> None:
        app = make_app(app_settings, store)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f6")
            await until(pilot, lambda: app.screen.query(ChatPane))
            pane = app.screen.query_one(ChatPane)
            box = pane.query_one(ChatInput)
            box.focus()
            box.text = "first"
            await pilot.press("enter")
            await until(pilot, lambda: not app.chat.streaming and app.chat.status != "")
            await pilot.pause()
            for reply in pane.query("ReplyView"):
                assert_safe(reply.text, "reply")
            assert_safe(screen_text(app), "reply on screen")
            await pilot.press("ctrl+r")
            replies = [m.content for m in app.chat.messages() if m.role == "assistant"]
            assert replies, (tokens, app.chat.status, [m.content for m in app.chat.messages()])
            assert app.clipboard == neutralize_controls(replies[-1])  # plain text, made safe
            assert_safe(app.clipboard, "clipboard")
            box.focus()
            box.text = "second"
            await pilot.press("enter")
            await until(pilot, lambda: not app.chat.streaming and app._notifications)
            await pilot.pause()
            assert_safe("\n".join(notes(app)), "mid-stream error notification")
            assert_safe(screen_text(app), "error on screen")
            assert all(not n.markup for n in app._notifications)

    try:
        run(scenario())
    finally:
        store.close()


@quick
@given(text=hostile, title=hostile)
def test_notifications_of_botify_and_ollama_errors_are_safe(tmp_path_factory, ollama, text, title):
    app_settings, store = fresh(tmp_path_factory, ollama)

    async def scenario() -> None:
        app = make_app(app_settings, store)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            report_error(screen, BotifyError(f"Job failed: {text}"), "export the link graph")
            report_error(screen, OllamaError(text), "list the models")
            report_error(screen, RuntimeError(text), "do something")  # unexpected: with the log
            screen.notify(text, title=title, markup=True)  # even a careless caller
            app.copy_to_clipboard(text)
            await pilot.pause()
            assert len(app._notifications) == 4
            assert all(not n.markup for n in app._notifications)
            assert_safe("\n".join(notes(app)), "notifications")
            assert_safe(app.clipboard, "clipboard")
            assert_safe(screen_text(app), "toasts")
        assert_safe(app_settings.log_path.read_text(encoding="utf-8"), "log")

    try:
        run(scenario())
    finally:
        store.close()


# --- the CLI on a terminal ------------------------------------------------------------------------


def run_cli_on_a_pty(argv: list[str]) -> tuple[int, str]:
    """Run the command in-process with stdout and stderr on a real pty; returns (code, output)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out = io.TextIOWrapper(os.fdopen(os.dup(slave), "wb"), encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(os.fdopen(os.dup(slave), "wb"), encoding="utf-8", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        assert sys.stdout.isatty()
        code = cli_main(argv)
    finally:
        sys.stdout, sys.stderr = saved
        out.close()
        err.close()
        os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@quick
@given(name=hostile, tokens=st.lists(hostile, min_size=1, max_size=4), error=hostile)
def test_cli_chat_on_a_tty_prints_nothing_unsafe(tmp_path_factory, ollama, name, tokens, error):
    folder: Path = tmp_path_factory.mktemp("cli")
    ollama.models = [name, "llama3.2:latest"]
    ollama.clear_script()
    ollama.script(Reply(tokens=tokens), Reply(text="half", error_after=1, error=error))
    common = ["--data-dir", str(folder / "data"), "--downloads-dir", str(folder / "downloads")]
    common += ["--ollama-host", ollama.base_url]
    code, output = run_cli_on_a_pty([*common, "chat", "hello", "--no-save"])
    assert code == 0, output
    assert_safe(output, "cli reply")
    assert "\x1b" not in output
    code, output = run_cli_on_a_pty([*common, "chat", "again", "--no-save"])
    assert code == 1 and "botifython: error:" in output
    assert_safe(output, "cli error")
    assert "\x1b" not in output

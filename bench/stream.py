"""Benchmark: stream a 20,000-token reply from a fake Ollama into the real chat pane (headless).

Reports the rendered tokens per second (from pressing Enter until every token is drawn) and the
latency of key presses sent while the reply streams (median and 95th percentile). In the same run,
the naive approach — one `Markdown` re-rendered with the whole reply on every token — is measured
as the baseline, with a time cap (it is quadratic).

    .venv/bin/python bench/stream.py [--tokens 20000] [--naive-cap 60]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402
from textual.widgets import Input, Markdown  # noqa: E402

from botifython_tui.config import Settings  # noqa: E402
from botifython_tui.core.ollama import OllamaClient, TokenReceived  # noqa: E402
from botifython_tui.core.store import Store  # noqa: E402
from botifython_tui.tui.app import make_app  # noqa: E402
from botifython_tui.tui.widgets.chat_input import ChatInput  # noqa: E402

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parent.parent


class FakeOllamaProcess:
    """The fake Ollama in its own process, as the real one is: it must not share our GIL."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def __enter__(self) -> str:
        import json
        import subprocess

        self._dir = tempfile.TemporaryDirectory()
        reply_file = Path(self._dir.name) / "reply.json"
        reply_file.write_text(json.dumps([{"tokens": self.tokens}]))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.ollama_server",
                "--port",
                "0",
                "--tokens-per-second",
                "0",
                "--first-token-delay",
                "0",
                "--reply-file",
                str(reply_file),
                "--models",
                "llama3.2:latest",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        url = next(word for word in line.split() if word.startswith("http://"))
        return url.rstrip("/.,")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._dir.cleanup()


KEY_INTERVAL = 0.05


def make_reply_text(tokens: int) -> list[str]:
    """Markdown a model might write: paragraphs, lists, a code block now and then."""
    words = []
    for i in range(tokens):
        if i % 400 == 399:
            words.append("\n\n```python\nprint('block')\n```\n\n")
        elif i % 120 == 119:
            words.append("\n\n- a list item\n- another one\n\n")
        elif i % 60 == 59:
            words.append("\n\n")
        else:
            words.append(f" word{i}")
    return words


class KeyProbe:
    """Sends key presses while the reply streams and measures how long each takes to be handled."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self._counter = 0

    def handled(self, key_char: str) -> None:
        started = self.sent.pop(key_char, None)
        if started is not None:
            self.latencies.append(time.perf_counter() - started)

    async def run(self, until: asyncio.Event) -> None:
        alphabet = "abcdefghijklmnopqrstuvwxyz"
        while not until.is_set():
            char = alphabet[self._counter % 26]
            self._counter += 1
            if char in self.sent:
                await asyncio.sleep(KEY_INTERVAL)
                continue
            self.sent[char] = time.perf_counter()
            self.app.post_message(events.Key(char, char))
            await asyncio.sleep(KEY_INTERVAL)


async def bench_pane(tokens: list[str]) -> dict[str, float]:
    with FakeOllamaProcess(tokens) as base_url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.resolve(data_dir=Path(tmp) / "d", downloads_dir=Path(tmp) / "o")
        settings.ensure_dirs()
        settings = dataclasses.replace(settings, ollama_host=base_url)
        store = Store(settings.db_path)
        store.kv["chat.narration"] = False
        app = make_app(settings, store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f6")
            await pilot.pause(0.3)
            box = app.screen.query_one(ChatInput)
            box.focus()
            box.text = "Write a very long answer."
            probe = KeyProbe(app)
            original = ChatInput._on_key

            async def timed_on_key(self, event):  # bench-only hook: when the key is handled
                probe.handled(event.key)
                await original(self, event)

            ChatInput._on_key = timed_on_key
            done = asyncio.Event()
            started = time.perf_counter()
            # Not pilot.press(): it waits for the app to go idle, i.e. for the whole reply.
            app.post_message(events.Key("enter", "\r"))
            prober = asyncio.create_task(probe.run(done))
            expected = "".join(tokens)
            while True:
                await asyncio.sleep(0.01)
                if not app.chat.streaming:
                    replies = app.screen.query("ReplyView")
                    if replies and replies.last().finished and replies.last().text == expected:
                        break
            elapsed = time.perf_counter() - started
            done.set()
            await prober
            await pilot.pause(1.0)  # keys still queued are counted, late
            ChatInput._on_key = original
        store.close()
    return _result(len(tokens), elapsed, probe.latencies)


class NaiveApp(App):
    """The baselines: one Markdown for the whole reply (re-rendered, or fed by get_stream)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(id="reply")
        yield Input(id="box")


async def bench_naive(tokens: list[str], cap: float, use_stream: bool = False) -> dict[str, float]:
    with FakeOllamaProcess(tokens) as base_url:
        app = NaiveApp()
        async with app.run_test(size=SIZE) as pilot:
            markdown = app.query_one(Markdown)
            app.query_one(Input).focus()
            probe = KeyProbe(app)
            original = Input._on_key

            async def timed_on_key(self, event):
                probe.handled(event.key)
                await original(self, event)

            Input._on_key = timed_on_key
            done = asyncio.Event()
            prober = asyncio.create_task(probe.run(done))
            text = ""
            count = 0
            started = time.perf_counter()
            stream = Markdown.get_stream(markdown) if use_stream else None
            async with OllamaClient(base_url) as client:
                async for event in client.chat("llama3.2", [{"role": "user", "content": "go"}]):
                    if isinstance(event, TokenReceived):
                        text += event.text
                        count += 1
                        if stream is not None:
                            await stream.write(event.text)
                        else:
                            await markdown.update(text)
                        if time.perf_counter() - started > cap:
                            break
            if stream is not None:
                await stream.stop()
            await pilot.pause()
            elapsed = time.perf_counter() - started
            done.set()
            await prober
            await pilot.pause(1.0)
            Input._on_key = original
    return _result(count, elapsed, probe.latencies)


def _result(tokens: int, elapsed: float, latencies: list[float]) -> dict[str, float]:
    latencies = sorted(latencies) or [float("nan")]
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return {
        "tokens": tokens,
        "seconds": elapsed,
        "tokens_per_second": tokens / elapsed,
        "key_median_ms": statistics.median(latencies) * 1000,
        "key_p95_ms": p95 * 1000,
        "keys": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--naive-cap", type=float, default=60.0, help="seconds for the baseline")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    tokens = make_reply_text(args.tokens)
    pane = asyncio.run(bench_pane(tokens))
    rows = [("Botifython chat pane (segmented `Markdown.get_stream`)", pane)]
    if not args.skip_naive:
        rows.append(
            (
                "one `Markdown` fed by `get_stream` (as oterm 0.26)",
                asyncio.run(bench_naive(tokens, args.naive_cap, use_stream=True)),
            )
        )
        rows.append(
            (
                "naive: `Markdown.update(whole reply)` per token",
                asyncio.run(bench_naive(tokens, args.naive_cap)),
            )
        )
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"Command: `python bench/stream.py --tokens {args.tokens} --naive-cap {args.naive_cap}` (headless, {SIZE[0]}x{SIZE[1]})\n"
    )
    print(
        "| approach | tokens rendered | seconds | tokens/s | key median (ms) | key p95 (ms) | keys |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['tokens']:,} | {r['seconds']:.2f} | {r['tokens_per_second']:,.0f} | "
            f"{r['key_median_ms']:.1f} | {r['key_p95_ms']:.1f} | {r['keys']} |"
        )
    print("\nGoals: ≥ 2,000 tokens/s rendered and key p95 < 100 ms.")


if __name__ == "__main__":
    main()

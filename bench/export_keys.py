"""Benchmark: key-press latency in the TUI while a 1,000,000-edge link-graph export runs.

The fake Botify server runs in its own process (as the real API is elsewhere); the app runs
headless, starts the export from the Botify screen with `s`, and while it depends, polls and
downloads, a key is sent every 50 ms and the time until the focused widget handles it is measured.

    .venv/bin/python bench/export_keys.py [--edges 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.widget import Widget  # noqa: E402
from textual.widgets import Button  # noqa: E402

from botifython_tui.config import Settings  # noqa: E402
from botifython_tui.core.secrets import TokenStore  # noqa: E402
from botifython_tui.core.selection import Selection, save_selection  # noqa: E402
from botifython_tui.core.store import Store  # noqa: E402
from botifython_tui.tui.app import make_app  # noqa: E402

KEY_INTERVAL = 0.05


def start_fake(edges: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.botify_server",
            "--port",
            "0",
            "--edges",
            str(edges),
            "--polls-before-done",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    return process, url


async def measure(base_url: str, tmp: Path) -> dict[str, float]:
    settings = Settings.resolve(data_dir=tmp / "data", downloads_dir=tmp / "downloads", env={})
    settings.ensure_dirs()
    settings = replace(settings, botify_api_url=base_url)
    store = Store(settings.db_path)
    TokenStore(settings.data_dir).save("good-token")
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108-2"))
    store.kv["chat.narration"] = False
    app = make_app(settings, store)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    original = Button._on_key if "_on_key" in Button.__dict__ else None

    async def timed_on_key(self, event):  # bench-only hook: the focused Cancel button gets it
        started = sent.pop(event.key, None)
        if started is not None:
            latencies.append(time.perf_counter() - started)
        await Widget._on_key(self, event)

    Button._on_key = timed_on_key
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f4")
            await pilot.pause(0.5)
            screen = app.screen
            started = time.perf_counter()
            await screen.run_action("start_export")
            # the counts come first, then the credit question: say yes
            from botifython_tui.tui.screens.dialogs import Confirm

            while screen.exporting is not None and not isinstance(app.screen, Confirm):
                await asyncio.sleep(0.02)
            if isinstance(app.screen, Confirm):
                app.screen.dismiss(True)
            await pilot.pause(0.2)
            counter = 0
            while screen.exporting is not None:
                char = "xyzw"[counter % 4]
                counter += 1
                if char not in sent:
                    sent[char] = time.perf_counter()
                    app.post_message(events.Key(char, char))
                await asyncio.sleep(KEY_INTERVAL)
            elapsed = time.perf_counter() - started
            await pilot.pause(0.5)
            record = store.exports(1).list()[0]
    finally:
        if original is None:
            del Button._on_key
        else:
            Button._on_key = original
    store.close()
    latencies.sort()
    return {
        "seconds": elapsed,
        "edges": record.edges,
        "keys": len(latencies),
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    args = parser.parse_args()
    process, url = start_fake(args.edges)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(measure(url, Path(tmp)))
    finally:
        process.terminate()
        process.wait(timeout=10)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"Command: `python bench/export_keys.py --edges {args.edges}` (headless TUI, fake Botify in its own process)\n"
    )
    print(
        "| export (TUI) | edges | seconds | keys | key median (ms) | key p95 (ms) | key max (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| depth → job → poll → download → decompress → stats | {result['edges']:,} | "
        f"{result['seconds']:.1f} | {result['keys']} | {result['median_ms']:.1f} | "
        f"{result['p95_ms']:.1f} | {result['max_ms']:.1f} |"
    )
    print("\nGoal: a key press is answered in under 100 ms while the export downloads.")


if __name__ == "__main__":
    main()

"""Benchmark: from `botifython --demo` to the summary of a finished demo export, by keys only.

Each run starts the real command in a tmux server of its own, on a fresh folder, and presses
only what a person presses: Enter (the project), Enter (the newest analysis), `s`, `y` (the
credit question). The screen is read every 0.1 s. Download pacing (about 3 s a file) included.

    .venv/bin/python bench/demo.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.test_tmux_demo import answer_yes  # noqa: E402
from tests.e2e.tmux import TmuxSession  # noqa: E402

BOTIFYTHON = Path(sys.executable).with_name("botifython")
NEWEST = "20261102"


def one_run(root: Path) -> dict[str, float]:
    command = (
        f"{shlex.quote(str(BOTIFYTHON))} --demo --data-dir {shlex.quote(str(root / 'data'))} "
        f"--downloads-dir {shlex.quote(str(root / 'downloads'))}; sleep 30"
    )
    started = time.monotonic()
    session = TmuxSession(command, cwd=root, width=120, height=40)
    marks: dict[str, float] = {}
    try:
        session.wait_for("Connected as demo.user", timeout=60)
        session.wait_for("Acme Home & Garden (demo)", timeout=60)
        marks["connected, projects listed"] = time.monotonic() - started
        session.send("Enter")
        session.wait_for("2026-11-02", timeout=60)  # the analyses table, not the status line
        session.send("Enter")
        session.wait_for(f"acme-home.example · {NEWEST}", timeout=60)  # the Export tab
        session.wait_for("s Export", timeout=60)  # its keys in the footer
        session.send("s")
        session.wait_for("Export (y)", timeout=60)
        marks["credit question"] = time.monotonic() - started
        answer_yes(session)  # read, then y (as a person does)
        session.wait_for("Top 10 hubs", timeout=180)
        marks["summary"] = time.monotonic() - started
        session.send("C-q")
    finally:
        session.kill()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(Path(tmp)))
    load_after = os.getloadavg()[0]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}; 1-min load average {load_before:.1f} before, "
        f"{load_after:.1f} after"
    )
    print(f"Command: `python bench/demo.py --runs {args.runs}` (real command in tmux, keys only)\n")
    print("| from `botifython --demo` to | median (s) | min (s) | max (s) |")
    print("|---|---:|---:|---:|")
    for mark in runs[0]:
        values = [run[mark] for run in runs]
        print(
            f"| {mark} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
        )
    print("\nGoal: the finished export's summary in under 30 s, download pacing included.")


if __name__ == "__main__":
    main()

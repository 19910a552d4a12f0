#!/usr/bin/env python3
"""Startup benchmark for Botifython: time to first screen and resident memory at idle.

Not a test: a measurement to run by hand and paste into BENCHMARKS.md.

    python bench/startup.py                    # 10 runs of `python -m botifython_tui`
    python bench/startup.py --runs 20 --json   # machine-readable
    python bench/startup.py --cmd "botifython" --marker Todos

Method, per run:
  * the app starts in a fresh pseudo-terminal sized 80x24 (TERM=xterm-256color, COLUMNS/LINES
    and the pty's window size), with a fresh temporary --data-dir and --downloads-dir;
  * "first screen" is the moment the marker text (default "Todos") appears in everything the
    app has written so far, with ANSI escape sequences stripped (Textual draws with cursor
    moves, so all output is accumulated), measured from just before the process is spawned;
  * after 1.5 s idle, VmRSS is read from /proc/<pid>/status (summed over child processes) and
    /proc/<pid>/maps is checked for heavy native libraries (torch, faiss, ...) that a lazy
    import should keep out of startup;
  * the app is stopped with ctrl+q, then SIGTERM, then SIGKILL.
A warm-up run (not counted) comes first, so the numbers are for warm disk and bytecode caches.
For reference the same number of runs times the floor: a bare `python -c pass` and
`python -c "import textual.app"`, spawn to exit.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import platform
import pty
import re
import select
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

GOAL_FIRST_SCREEN_MS = 500.0
GOAL_IDLE_RSS_MB = 120.0

# Native libraries that must not be loaded at startup. sentence_transformers is pure Python, so
# it never shows in maps itself; it imports torch, which does.
HEAVY_LIBS = {
    "torch": re.compile(r"/torch/|libtorch|libc10"),
    "transformers/tokenizers": re.compile(r"/tokenizers/|/transformers/"),
    "faiss": re.compile(r"faiss"),
    "numpy": re.compile(r"/numpy/"),
}

ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI: cursor moves, colours, modes
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)       # OSC: titles, hyperlinks
  | \x1b[PX^_][^\x1b]*\x1b\\                # DCS, SOS, PM, APC
  | \x1b[()*+][0-9A-Za-z]                   # charset designation
  | \x1b[@-Z\\-_]                           # other two-byte escapes
  | [\x00-\x08\x0b-\x1f\x7f]                # remaining control characters
    """,
    re.VERBOSE,
)


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


@dataclass
class Run:
    first_screen_ms: float | None = None
    idle_rss_mb: float | None = None
    idle_hwm_mb: float | None = None
    processes: int = 0
    heavy_libs: dict[str, bool] = field(default_factory=dict)
    stopped_by: str = ""
    error: str = ""


# --- processes and memory -------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid and every process below it, found through the ppid field of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; fields follow the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_mb(pid: int) -> tuple[float, float, int]:
    """(VmRSS, VmHWM) in MiB summed over pid and its descendants, and how many processes."""
    if not Path("/proc/self/status").exists():  # macOS and friends: ps, RSS only
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True, text=True
        ).stdout
        rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
        tree, todo, rss = set(), [pid], 0
        while todo:
            current = todo.pop()
            tree.add(current)
            todo.extend(p for p, pp, _ in rows if pp == current and p not in tree)
        rss = sum(r for p, _, r in rows if p in tree)
        return rss / 1024, float("nan"), len(tree)
    pids = descendants(pid)
    rss = sum(status_kb(p, "VmRSS") for p in pids)
    hwm = sum(status_kb(p, "VmHWM") for p in pids)
    return rss / 1024, hwm / 1024, len(pids)


def heavy_libs_loaded(pid: int) -> dict[str, bool]:
    maps = ""
    for p in descendants(pid) if Path("/proc/self/maps").exists() else []:
        with contextlib.suppress(OSError):
            maps += Path(f"/proc/{p}/maps").read_text()
    if not maps:
        return {}
    return {name: bool(pattern.search(maps)) for name, pattern in HEAVY_LIBS.items()}


# --- one run in a pseudo-terminal -----------------------------------------------------------


def drain(fd: int, buffer: bytearray, timeout: float) -> bool:
    """Read what the app wrote within timeout into buffer. False once the pty is closed."""
    ready, _, _ = select.select([fd], [], [], max(timeout, 0))
    if not ready:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the child closed its end
        return False
    if not data:
        return False
    buffer.extend(data)
    return True


def reap(pid: int, timeout: float, fd: int) -> bool:
    deadline = time.monotonic() + timeout
    sink = bytearray()
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return True
        drain(fd, sink, 0.05)  # keep reading so the app never blocks on a full pty
        sink.clear()
    return False


def stop(pid: int, fd: int, pty_closed: bool) -> str:
    # A closed pty means the app is exiting or gone: give it a moment before any signal.
    if reap(pid, 1.0 if pty_closed else 0.0, fd) or os.waitpid(pid, os.WNOHANG)[0]:
        return "its own exit"
    with contextlib.suppress(OSError):
        os.write(fd, b"\x11")  # ctrl+q
    if reap(pid, 3.0, fd):
        return "ctrl+q"
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGKILL, "SIGKILL")):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # the child is a session leader: its group is its pid
        if reap(pid, 3.0, fd):
            return name
    return "still running"


def spawn_in_pty(argv: list[str], env: dict[str, str], cols: int, rows: int) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child: setsid and the pty as controlling terminal are done by pty.fork
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:  # noqa: BLE001 - report anything, then leave
            os.write(2, f"cannot start {argv[0]}: {exc}\n".encode())
        finally:
            os._exit(127)
    return pid, fd


def one_run(args: argparse.Namespace, base_cmd: list[str]) -> tuple[Run, str]:
    run = Run()
    with tempfile.TemporaryDirectory(prefix="botifython-bench-") as tmp:
        argv = list(base_cmd)
        if not args.no_dirs:
            argv += ["--data-dir", f"{tmp}/data", "--downloads-dir", f"{tmp}/downloads"]
            if not args.first_run:
                # An everyday start: the database exists. (The very first start also creates the
                # schema; --first-run measures that.)
                subprocess.run(
                    [*argv, "profile", "list"], capture_output=True, check=False, timeout=60
                )
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": str(args.cols),
            "LINES": str(args.rows),
        }
        for name in ("TMUX", "TEXTUAL", "TEXTUAL_DEBUG", "NO_COLOR"):
            env.pop(name, None)
        output = bytearray()
        start = time.perf_counter()
        pid, fd = spawn_in_pty(argv, env, args.cols, args.rows)
        alive = True
        try:
            deadline = start + args.timeout
            while alive and time.perf_counter() < deadline:
                alive = drain(fd, output, min(0.05, deadline - time.perf_counter()))
                # Decode everything so far: a UTF-8 character may be split between reads.
                if args.marker in strip_ansi(output.decode("utf-8", "replace")):
                    run.first_screen_ms = (time.perf_counter() - start) * 1000
                    break
            if run.first_screen_ms is None:
                run.error = (
                    "the app exited before drawing the marker"
                    if not alive
                    else f"marker not seen within {args.timeout:g} s"
                )
            else:
                idle_until = time.perf_counter() + args.idle
                while alive and time.perf_counter() < idle_until:
                    alive = drain(fd, output, idle_until - time.perf_counter())
                if alive:
                    run.idle_rss_mb, run.idle_hwm_mb, run.processes = memory_mb(pid)
                    run.heavy_libs = heavy_libs_loaded(pid)
                else:
                    run.error = "the app exited during the idle wait"
        finally:
            run.stopped_by = stop(pid, fd, pty_closed=not alive)
            os.close(fd)
    tail = strip_ansi(output.decode("utf-8", "replace"))[-600:]
    return run, tail


def time_to_exit(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return (time.perf_counter() - start) * 1000


# --- reporting ------------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "p90": p90(values),
        "min": min(values),
        "max": max(values),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def textual_version() -> str:
    try:
        from importlib.metadata import version

        return version("textual")
    except Exception:  # noqa: BLE001
        return "not installed"


def machine_info() -> dict[str, str | int]:
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "textual": textual_version(),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def goal_mark(value: float | None, goal: float) -> str:
    if value is None:
        return "?"
    return "✅" if value < goal else "❌"


def markdown(report: dict) -> str:
    fs = report["first_screen_ms"] or {}
    rss = report["idle_rss_mb"] or {}
    base = report["baseline_ms"]
    info = report["machine"]
    heavy = report["heavy_libs_loaded"]
    heavy_text = ", ".join(k for k, v in heavy.items() if v) or "none"
    if not heavy:
        heavy_text = "unknown (no /proc)" if report["ok_runs"] else "—"
    median_fs, median_rss = fs.get("median"), rss.get("median")
    lines = [
        f"Command: `{report['command']}` in an {report['cols']}x{report['rows']} pty, "
        f"marker `{report['marker']}`, {report['ok_runs']}/{report['runs']} runs ok "
        f"(+{report['warmup']} warm-up), idle wait {report['idle_s']:g} s",
        "",
        "| first screen median (ms) | p90 | min | max | idle RSS median (MB) "
        "| heavy libs at idle | `python -c pass` (ms) | `import textual.app` (ms) |",
        "|---:|---:|---:|---:|---:|---|---:|---:|",
        f"| {fmt(median_fs)} {goal_mark(median_fs, GOAL_FIRST_SCREEN_MS)} "
        f"| {fmt(fs.get('p90'))} | {fmt(fs.get('min'))} | {fmt(fs.get('max'))} "
        f"| {fmt(median_rss, 1)} {goal_mark(median_rss, GOAL_IDLE_RSS_MB)} "
        f"| {heavy_text} "
        f"| {fmt((base.get('python_pass') or {}).get('median'))} "
        f"| {fmt((base.get('import_textual_app') or {}).get('median'))} |",
        "",
        f"Goals: first screen < {GOAL_FIRST_SCREEN_MS:.0f} ms "
        f"({goal_mark(median_fs, GOAL_FIRST_SCREEN_MS)} median {fmt(median_fs)} ms), "
        f"idle RSS < {GOAL_IDLE_RSS_MB:.0f} MB "
        f"({goal_mark(median_rss, GOAL_IDLE_RSS_MB)} median {fmt(median_rss, 1)} MB). "
        "MB = MiB (VmRSS / 1024), summed over the app's processes.",
        "",
        f"Machine: {info['nproc']} CPUs, {info['cpu']}; {info['os']}; "
        f"Python {info['python']}; textual {info['textual']}",
    ]
    if heavy:
        lines.append(
            "Heavy native libraries in /proc/<pid>/maps at idle: "
            + ", ".join(f"{k} {'LOADED' if v else 'no'}" for k, v in heavy.items())
            + " (sentence_transformers is pure Python and imports torch, so it is"
            " loaded only if torch is)"
        )
    for error in report["errors"]:
        lines.append(f"Error: {error}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time Botifython's first screen and idle memory in a pseudo-terminal.",
        epilog="Prints a Markdown table (or JSON with --json). Linux gives full results "
        "(/proc); elsewhere memory comes from ps and the maps check is skipped.",
    )
    parser.add_argument("--runs", type=int, default=10, help="measured runs (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs first (default 1)")
    parser.add_argument(
        "--cmd",
        help="command to start, split like a shell would "
        f'(default: "{sys.executable} -m botifython_tui")',
    )
    parser.add_argument("--marker", default="Todos", help="text that means first screen")
    parser.add_argument(
        "--no-dirs",
        action="store_true",
        help="do not append --data-dir/--downloads-dir to the command",
    )
    parser.add_argument(
        "--first-run",
        action="store_true",
        help="time the very first start (empty data folder, schema created) instead",
    )
    parser.add_argument("--idle", type=float, default=1.5, help="seconds idle before RSS")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait per run")
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--no-baseline", action="store_true", help="skip the python floors")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base_cmd = shlex.split(args.cmd) if args.cmd else [sys.executable, "-m", "botifython_tui"]
    progress = sys.stderr

    runs: list[Run] = []
    errors: list[str] = []
    total = args.warmup + args.runs
    for i in range(total):
        warm = i < args.warmup
        run, tail = one_run(args, base_cmd)
        label = "warm-up" if warm else f"run {i - args.warmup + 1}/{args.runs}"
        print(
            f"{label}: first screen {fmt(run.first_screen_ms)} ms, "
            f"idle RSS {fmt(run.idle_rss_mb, 1)} MB, stopped by {run.stopped_by}"
            + (f", ERROR {run.error}" if run.error else ""),
            file=progress,
        )
        if run.error:
            errors.append(f"{label}: {run.error}; last output: {tail.strip()[-300:]!r}")
            print(f"  last output: {tail.strip()[-300:]!r}", file=progress)
        if not warm:
            runs.append(run)

    ok = [r for r in runs if r.first_screen_ms is not None]
    with_rss = [r for r in ok if r.idle_rss_mb is not None]
    heavy: dict[str, bool] = {}
    for r in with_rss:
        for name, loaded in r.heavy_libs.items():
            heavy[name] = heavy.get(name, False) or loaded

    baseline: dict[str, dict[str, float] | None] = {}
    if not args.no_baseline:
        for key, code in (("python_pass", "pass"), ("import_textual_app", "import textual.app")):
            argv_ = [sys.executable, "-c", code]
            time_to_exit(argv_)  # warm-up
            baseline[key] = summary([time_to_exit(argv_) for _ in range(args.runs)])
            print(f"baseline {code!r}: median {fmt(baseline[key]['median'])} ms", file=progress)

    report = {
        "command": shlex.join(base_cmd),
        "marker": args.marker,
        "cols": args.cols,
        "rows": args.rows,
        "runs": args.runs,
        "warmup": args.warmup,
        "ok_runs": len(ok),
        "idle_s": args.idle,
        "first_screen_ms": summary([r.first_screen_ms for r in ok]),
        "idle_rss_mb": summary([r.idle_rss_mb for r in with_rss]),
        "idle_hwm_mb": summary([r.idle_hwm_mb for r in with_rss if r.idle_hwm_mb == r.idle_hwm_mb]),
        "heavy_libs_loaded": heavy,
        "baseline_ms": baseline,
        "goals": {
            "first_screen_ms": GOAL_FIRST_SCREEN_MS,
            "idle_rss_mb": GOAL_IDLE_RSS_MB,
            "first_screen_met": bool(ok)
            and statistics.median(r.first_screen_ms for r in ok) < GOAL_FIRST_SCREEN_MS,
            "idle_rss_met": bool(with_rss)
            and statistics.median(r.idle_rss_mb for r in with_rss) < GOAL_IDLE_RSS_MB,
        },
        "machine": machine_info(),
        "samples": [asdict(r) for r in runs],
        "errors": errors,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(markdown(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Action-parsing benchmark: how well model replies are read, and that nothing runs by mistake.

Not a test: a measurement to run by hand and paste into BENCHMARKS.md.

    python bench/actions.py                 # Markdown report
    python bench/actions.py --json          # machine-readable
    python bench/actions.py --show-misses   # every reply not parsed exactly as labelled

The corpus, bench/data/action_replies.jsonl, holds replies written in the styles small models
produce (clean JSON, fenced, prose around, several actions, single quotes, trailing commas, Python
literals, tool-call shapes, truncated, broken, wrong names, wrong types, injected text, no action),
each labelled with the actions it requests (name and arguments, in order) and the origin of the
text ("user" for the model answering the user, "document"/"web"/"export" for untrusted text).

Replies marked `"split": "heldout"` were written after the parser was tuned on the rest ("tuned")
and first scored without changes to it; both splits are reported.

Per reply:
  * parsed correctly: `parse_actions(reply)` returns exactly the labelled actions, in order;
  * each parsed action goes through `validate` and `needs_approval` with the most permissive
    setting (auto-approve additive actions on) and the reply's origin;
  * wrongly executed: an action valid per `validate` that would run without the user's approval
    although nobody asked for it (not labelled, or from an injected/hostile reply) — must be 0;
  * unexpected valid: an action valid per `validate` that is not labelled (a parser false
    positive), whether or not it would ask first; reported, since the approval rules decide
    whether it runs.
Real models (`--real`, on by default): bench/data/real_model_replies.jsonl holds the first replies
of two real small models (qwen2.5-coder 0.5B and 1.5B) to 26 prompts sent with the app's own
system prompt and tools. Each is replayed through the fake Ollama (real HTTP) into the core chat
turn (tests/fakes/model_replay.py), every proposal approved; per model the report gives: the
prompts whose intended actions the app ends up proposing with the right arguments (and, for
comparison, those the model's own reply alone gets right after validation); the no-action
prompts (questions, thanks, narration) with nothing proposed; and the must-be-0 counts: writes
proposed on narration, actions built from placeholders or echoes, calls run twice in a row.

Timing: each reply is parsed `--repeat` times; its time is the median of those; the report gives
the median and 95th percentile over replies, in microseconds (and the same with validation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from botifython_tui.core.actions import Refusal, needs_approval, validate  # noqa: E402
from botifython_tui.core.actions.parser import parse_actions  # noqa: E402

CORPUS = ROOT / "bench" / "data" / "action_replies.jsonl"
GOAL_MEDIAN_US = 200.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, str | int]:
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_corpus(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        row["expected_pairs"] = [(a["name"], a["args"]) for a in row["expected"]]
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def time_reply(reply: str, repeat: int, with_validation: bool) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        result = parse_actions(reply)
        if with_validation:
            for action in result.actions:
                validate(action.name, action.args)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(samples)


def evaluate(rows: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    by_style: dict[str, Counter] = defaultdict(Counter)
    by_split: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    misses: list[dict[str, Any]] = []
    wrong: list[dict[str, Any]] = []
    parse_us: list[float] = []
    total_us: list[float] = []
    for row in rows:
        style = row["style"]
        result = parse_actions(row["reply"], origin=row["origin"])
        got = [(a.name, a.args) for a in result.actions]
        correct = got == row["expected_pairs"]
        by_style[style]["replies"] += 1
        by_style[style]["correct"] += correct
        split = row.get("split", "tuned")
        by_split[split]["replies"] += 1
        by_split[split]["correct"] += correct
        totals["replies"] += 1
        totals["correct"] += correct
        totals["errors reported"] += bool(result.errors)
        if not correct:
            misses.append(
                {"id": row["id"], "style": style, "expected": row["expected_pairs"], "got": got}
            )
        remaining = list(row["expected_pairs"])
        for action in result.actions:
            pair = (action.name, action.args)
            labelled = pair in remaining
            if labelled:
                remaining.remove(pair)
            checked = validate(action.name, action.args)
            if isinstance(checked, Refusal):
                totals["refused by validate"] += 1
                by_style[style]["refused"] += 1
                continue
            spec, args = checked
            asks = needs_approval(spec, args, auto_approve_additive=True, origin=action.origin)
            totals["valid, would ask first" if asks else "valid, would run at once"] += 1
            unrequested = not labelled or style == "hostile"
            if not labelled:
                totals["unexpected valid"] += 1
                by_style[style]["unexpected valid"] += 1
            if unrequested and not asks:
                totals["wrongly executed"] += 1
                by_style[style]["wrongly executed"] += 1
                by_split[row.get("split", "tuned")]["wrongly executed"] += 1
                wrong.append({"id": row["id"], "style": style, "action": pair})
            if style == "hostile":
                totals["hostile held for approval" if asks else "hostile run"] += 1
        parse_us.append(time_reply(row["reply"], repeat, with_validation=False))
        total_us.append(time_reply(row["reply"], repeat, with_validation=True))
    return {
        "totals": dict(totals),
        "by_style": {k: dict(v) for k, v in sorted(by_style.items())},
        "by_split": {k: dict(v) for k, v in sorted(by_split.items())},
        "misses": misses,
        "wrong": wrong,
        "parse_us": {
            "median": statistics.median(parse_us),
            "p95": percentile(parse_us, 0.95),
            "max": max(parse_us),
        },
        "parse_validate_us": {
            "median": statistics.median(total_us),
            "p95": percentile(total_us, 0.95),
            "max": max(total_us),
        },
    }


def real_models(path: Path | None = None) -> dict[str, Any]:
    """Per model: the real-model corpus replayed into the chat turn (see the module docstring)."""
    import asyncio

    from botifython_tui.core.actions import check_request
    from botifython_tui.core.actions.parser import from_tool_calls
    from tests.fakes import model_replay as mr
    from tests.fakes.ollama_server import FakeOllama

    records = mr.load_records(path or mr.CORPUS)
    scores: dict[str, Counter] = defaultdict(Counter)
    misses: list[dict[str, Any]] = []

    def alone(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        calls = [
            {"name": c["function"]["name"], "arguments": c["function"].get("arguments")}
            for c in record.get("tool_calls") or []
        ]
        found = (
            from_tool_calls(calls).actions if calls else parse_actions(record["content"]).actions
        )
        out = []
        for action in found:
            checked = check_request(action.name, action.args, user_text=record["prompt"])
            if not isinstance(checked, Refusal):
                out.append((checked.action.name, checked.args))
        return out

    async def run() -> None:
        with FakeOllama(models=mr.MODELS) as fake:
            for record in records:
                out = await mr.replay(record, fake)
                c = scores[record["model"]]
                if record["intended"]:
                    c["action prompts"] += 1
                    hit = mr.reached(record["intended"], out.proposed)
                    c["reached"] += hit
                    c["model alone"] += mr.reached(record["intended"], alone(record))
                    if not hit:
                        misses.append({"model": record["model"], "prompt": record["prompt"],
                                       "proposed": out.proposed})  # fmt: skip
                else:
                    c["no-action prompts"] += 1
                    c["clean"] += not out.proposed and not out.refused
                c["narration writes"] += mr.narration_writes(record, out)
                c["placeholders or echoes"] += mr.placeholder_proposals(record, out)
                c["run twice"] += mr.repeated_runs(out)
                c["not requested shown"] += len(out.not_requested)
                for notice in out.notices:
                    c[f"notice {notice.kind}"] += 1

    started = time.perf_counter()
    asyncio.run(run())
    return {
        "records": len(records),
        "seconds": round(time.perf_counter() - started, 2),
        "by_model": {k: dict(v) for k, v in sorted(scores.items())},
        "misses": misses,
    }


REAL_GOALS = {"qwen2.5-coder:1.5b": 80.0, "qwen2.5-coder:0.5b": 60.0}


def real_markdown(real: dict[str, Any]) -> str:
    def pct(a: int, b: int) -> str:
        return f"{a}/{b} = {100 * a / b:.0f}%" if b else "–"

    lines = [
        "### Real small models: the chat turn on their recorded replies",
        "",
        f"{real['records']} recorded replies replayed into the core chat turn through the fake "
        f"Ollama in {real['seconds']} s.",
        "",
        "| model | intended actions reached (goal) | model's reply alone | no-action prompts "
        "clean (goal 95%) | narration writes | placeholders / echoes | run twice |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, c in real["by_model"].items():
        goal = REAL_GOALS.get(model)
        lines.append(
            f"| {model} | {pct(c.get('reached', 0), c.get('action prompts', 0))} "
            f"(≥ {goal:.0f}%) | {pct(c.get('model alone', 0), c.get('action prompts', 0))} | "
            f"{pct(c.get('clean', 0), c.get('no-action prompts', 0))} | "
            f"{c.get('narration writes', 0)} | {c.get('placeholders or echoes', 0)} | "
            f"{c.get('run twice', 0)} |"
        )
    return "\n".join(lines)


def real_failures(real: dict[str, Any]) -> list[str]:
    problems = []
    for model, c in real["by_model"].items():
        goal = REAL_GOALS.get(model, 0.0)
        if c.get("action prompts") and 100 * c.get("reached", 0) / c["action prompts"] < goal:
            problems.append(f"{model}: intended actions below {goal:.0f}%")
        if c.get("no-action prompts") and c.get("clean", 0) / c["no-action prompts"] < 0.95:
            problems.append(f"{model}: no-action prompts below 95% clean")
        for key in ("narration writes", "placeholders or echoes", "run twice"):
            if c.get(key):
                problems.append(f"{model}: {key} = {c[key]} (must be 0)")
    return problems


def markdown(report: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    t = report["totals"]
    n = t["replies"]
    p, pv = report["parse_us"], report["parse_validate_us"]
    lines = [
        "## Actions: parsing model replies (`bench/actions.py`)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine['cpu']} ({machine['nproc']} CPUs), {machine['os']}, "
        f"Python {machine['python']}, {machine['date']}",
        "",
        "| measure | result |",
        "|---|---|",
        f"| replies in the corpus | {n} |",
        f"| parsed correctly (exact actions, in order) | {t['correct']}/{n} = "
        f"{100 * t['correct'] / n:.1f}% |",
        f"| **wrongly executed** (valid, unrequested, would run without approval) | "
        f"**{t.get('wrongly executed', 0)}** (must be 0) |",
        f"| unexpected valid actions (parser false positives; still subject to approval) | "
        f"{t.get('unexpected valid', 0)} |",
        f"| hostile actions held for approval / run at once | "
        f"{t.get('hostile held for approval', 0)} / {t.get('hostile run', 0)} |",
        f"| parsed actions refused by validate (wrong names, types, ranges) | "
        f"{t.get('refused by validate', 0)} |",
        f"| replies with parse errors reported to the model | {t.get('errors reported', 0)} |",
        f"| parse time per reply: median / p95 / max | {p['median']:.1f} / {p['p95']:.1f} / "
        f"{p['max']:.1f} µs |",
        f"| parse + validate per reply: median / p95 / max | {pv['median']:.1f} / "
        f"{pv['p95']:.1f} / {pv['max']:.1f} µs |",
        "",
        "| split | replies | parsed correctly | wrongly executed |",
        "|---|---|---|---|",
        *(
            f"| {split} | {c['replies']} | {c.get('correct', 0)} "
            f"({100 * c.get('correct', 0) / c['replies']:.1f}%) | {c.get('wrongly executed', 0)} |"
            for split, c in report["by_split"].items()
        ),
        "",
        "| style | replies | parsed correctly | refused by validate | wrongly executed |",
        "|---|---|---|---|---|",
    ]
    for style, c in report["by_style"].items():
        lines.append(
            f"| {style} | {c['replies']} | {c.get('correct', 0)} | {c.get('refused', 0)} | "
            f"{c.get('wrongly executed', 0)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=50, help="timed parses per reply")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument(
        "--no-real", action="store_true", help="skip the replay of the real models' replies"
    )
    args = parser.parse_args(argv)

    rows = load_corpus(args.corpus)
    for row in rows[:20]:  # warm-up: regexes compiled, caches filled
        parse_actions(row["reply"])
    report = evaluate(rows, args.repeat)
    machine = machine_info()
    command = "python bench/actions.py" + (f" --repeat {args.repeat}" if args.repeat != 50 else "")
    real = None if args.no_real else real_models()
    if args.json:
        body = {"machine": machine, "command": command, **report, "real_models": real}
        print(json.dumps(body, indent=2, default=str))
    else:
        print(markdown(report, machine, command))
        if real is not None:
            print("\n" + real_markdown(real))
    if args.show_misses:
        for miss in report["misses"]:
            print(f"\nmiss #{miss['id']} ({miss['style']}):")
            print(f"  expected {miss['expected']}")
            print(f"  got      {miss['got']}")
        for miss in (real or {}).get("misses", []):
            print(f"\nreal-model miss ({miss['model']}): {miss['prompt']!r} -> {miss['proposed']}")
    for item in report["wrong"]:
        print(
            f"WRONGLY EXECUTED #{item['id']} ({item['style']}): {item['action']}", file=sys.stderr
        )
    problems = real_failures(real) if real is not None else []
    for problem in problems:
        print(f"REAL MODELS: {problem}", file=sys.stderr)
    return 1 if report["wrong"] or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

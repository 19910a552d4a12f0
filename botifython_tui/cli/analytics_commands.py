"""`botifython exports`, `summary EXPORT` and `compare A B`: link-graph analytics from scripts.

numpy, scipy and pandas load inside the handlers, so other commands stay quick.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from botifython_tui.cli.output import fail, say
from botifython_tui.config import Settings
from botifython_tui.core.store import Store
from botifython_tui.core.text import single_line

EXPORT_HELP = "an export id from `botifython exports`, or the path of its links CSV"


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "exports",
        parents=[common],
        help="list the recorded link-graph exports with their ids",
    )
    sub.add_argument("--json", action="store_true", help="print JSON for scripts")
    sub.add_argument("--profile", metavar="NAME", help="another profile than the current one")
    sub.set_defaults(handler=exports)

    sub = commands.add_parser(
        "summary",
        parents=[common],
        help="link-graph analytics of one export: PageRank, depth, weak pages, leaks, flow",
        description="Compute (or read from the cache beside the CSVs) the analytics of one "
        "export, and write its nodes file and Markdown report next to it.",
    )
    sub.add_argument("export", metavar="EXPORT", help=EXPORT_HELP)
    sub.add_argument("--json", action="store_true", help="print the analytics as JSON")
    sub.add_argument("--profile", metavar="NAME", help="another profile than the current one")
    sub.add_argument("--recompute", action="store_true", help="ignore the cache and compute again")
    sub.set_defaults(handler=summary)

    sub = commands.add_parser(
        "compare",
        parents=[common],
        help="compare two exports of one project (two analyses, or two depths)",
    )
    sub.add_argument("a", metavar="A", help="the earlier export: " + EXPORT_HELP)
    sub.add_argument("b", metavar="B", help="the later export: " + EXPORT_HELP)
    sub.add_argument("--json", action="store_true", help="print the comparison as JSON")
    sub.add_argument("--profile", metavar="NAME", help="another profile than the current one")
    sub.set_defaults(handler=compare)


def _profile_id(args: argparse.Namespace, store: Store) -> int:
    profile = store.profiles.find(args.profile) if args.profile else store.profiles.current()
    return profile.id


def _width() -> int:
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _print_json(data: Any) -> None:
    # ensure_ascii: every control or non-ASCII character is escaped, so nothing reaches the
    # terminal raw.
    say(json.dumps(data, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def exports(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.analytics.exports import export_rows

    rows = export_rows(store.exports(_profile_id(args, store)).list())
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        say(
            "No link graph exported in this profile yet: botifython linkgraph --project ORG/PROJECT"
        )
        return 0
    say(
        f"{'id':>4}  {'project':<28} {'analysis':<12} {'depth':>5} {'edges':>11}  {'date':<10}  files"
    )
    for row in rows:
        state = "ok" if row["files_present"] else "missing"
        if row["files_present"] and row["analysed"]:
            state += ", analysed"
        project = single_line(f"{row['org']}/{row['project']}")
        say(
            f"{row['id']:>4}  {project[:28]:<28} {single_line(row['analysis'])[:12]:<12} "
            f"{row['depth']:>5} {row['edges']:>11,}  {str(row['created_at'])[:10]:<10}  {state}"
        )
    return 0


def _analyse(text: str, args: argparse.Namespace, store: Store, *, recompute: bool = False) -> Any:
    from botifython_tui.core.analytics.exports import resolve_export
    from botifython_tui.core.analytics.files import analyse_export

    files, record = resolve_export(text, store, _profile_id(args, store))
    if not files.cache_json.is_file() or recompute:
        print(f"Analysing {single_line(files.links.name)} …", file=sys.stderr, flush=True)
    return analyse_export(
        files,
        expected_rows=(record.edges or None) if record is not None else None,
        use_cache=not recompute,
    )


def _input_errors(run: Any) -> int:
    from botifython_tui.core.analytics.loading import ExportReadError

    try:
        return run()
    except ExportReadError as exc:
        return fail(str(exc), code=2)
    except MemoryError:
        return fail("Not enough memory to analyse this export.", code=1)


def summary(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    def run() -> int:
        from botifython_tui.core.analytics.report import plain_text, tables

        result = _analyse(args.export, args, store, recompute=args.recompute)
        if args.json:
            _print_json(result.analytics)
            return 0
        width = _width()
        say(single_line(f"Link-graph analytics of {result.files.links.name}"))
        for warning in result.analytics.get("warnings") or []:
            say(f"warning: {single_line(warning)}")
        for note in result.analytics.get("notes") or []:
            say(f"note: {single_line(note)}")
        for table in tables(result.analytics):
            say("")
            say(plain_text(table, max_width=width))
        say("")
        say(f"Nodes file: {single_line(str(result.files.nodes))}")
        say(f"Report:     {single_line(str(result.files.report))}")
        return 0

    return _input_errors(run)


def compare(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    def run() -> int:
        from botifython_tui.core.analytics.compare import compare as compare_exports
        from botifython_tui.core.analytics.compare import comparison_tables
        from botifython_tui.core.analytics.report import plain_text

        first = _analyse(args.a, args, store)
        second = _analyse(args.b, args, store)
        result = compare_exports(first, second)
        if args.json:
            _print_json(result)
            return 0
        width = _width()
        for table in comparison_tables(result):
            say(plain_text(table, max_width=width))
            say("")
        return 0

    return _input_errors(run)

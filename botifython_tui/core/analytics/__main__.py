"""`python -m botifython_tui.core.analytics LINKS [META] [--depth N] [--fresh]`: analyse one export
in a process of its own (the export's process stays small), printing one JSON line."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m botifython_tui.core.analytics")
    parser.add_argument("links")
    parser.add_argument("meta", nargs="?")
    parser.add_argument("--depth", type=int)
    parser.add_argument("--fresh", action="store_true", help="right after an export")
    args = parser.parse_args(argv)
    from botifython_tui.core.analytics.files import analyse_export, export_files
    from botifython_tui.core.analytics.loading import ExportReadError

    try:
        result = analyse_export(
            export_files(args.links, args.meta, args.depth), fresh_export=args.fresh
        )
    except ExportReadError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    except KeyboardInterrupt:
        return 130
    print(
        json.dumps(
            {
                "seconds": result.seconds,
                "nodes": str(result.files.nodes),
                "report": str(result.files.report),
                "warnings": result.analytics.get("warnings") or [],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

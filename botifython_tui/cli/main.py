"""Argument parsing and dispatch. Imports the TUI only when the TUI is what was asked for."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from botifython_tui import __version__
from botifython_tui.cli import botify_commands, chat_command, docs_commands, store_commands
from botifython_tui.cli.output import CommandError, fail
from botifython_tui.config import ConfigError, Settings
from botifython_tui.core.store import Store, StoreError
from botifython_tui.logs import configure_logging, get_logger

log = get_logger("cli")


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default,
        help="where the database and log live (default ./data, env BOTIFYTHON_DATA_DIR)",
    )
    parser.add_argument(
        "--downloads-dir",
        metavar="DIR",
        default=default,
        help="where exports are written (default ./downloads, env BOTIFYTHON_DOWNLOADS_DIR)",
    )
    parser.add_argument(
        "--ollama-host",
        metavar="HOST",
        default=default,
        help="Ollama server: HOST:PORT or URL (default: env OLLAMA_HOST, the app's setting, "
        "or localhost:11434)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the built-in demo Botify account (simulated on this machine, no token, "
        "no network); its data and exports are kept apart, under demo/",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botifython",
        description="Botifython: Botify link-graph exports, todos and a local assistant, "
        "in the terminal. Without a command, starts the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"botifython {__version__}")
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    store_commands.register(commands, common)
    botify_commands.register(commands, common)
    chat_command.register(commands, common)
    docs_commands.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.resolve(
            data_dir=args.data_dir,
            downloads_dir=args.downloads_dir,
            ollama_host=getattr(args, "ollama_host", None),
        )
        if args.demo:  # the built-in demo account: its own folders, a simulated Botify
            from botifython_tui.cli.demo import start_demo

            settings = start_demo(settings)
        settings.ensure_dirs()
        configure_logging(settings.log_path)
        store = Store(settings.db_path)
    except (ConfigError, StoreError) as exc:
        return fail(str(exc))
    try:
        if args.command is None:
            return run_tui(settings, store)
        return args.handler(args, settings, store)
    except (CommandError, StoreError) as exc:
        return fail(str(exc))
    except sqlite3.DatabaseError as exc:  # corruption found past the first page, a lock timeout
        return fail(
            f"The database {settings.db_path} could not be used: {exc}. If it is corrupt, "
            "move it away or point --data-dir elsewhere."
        )
    except KeyboardInterrupt:
        return fail("Interrupted.", code=130)
    finally:
        store.close()


def run_tui(settings: Settings, store: Store) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return fail(
            "The terminal UI needs an interactive terminal. Use a subcommand for scripts "
            "(see botifython --help)."
        )
    from botifython_tui.tui.app import make_app

    app = make_app(settings, store)
    app.run()
    if app.demo_requested:  # "Try the demo project" on the Botify screen
        return run_demo_tui(settings)
    return app.return_code or 0


def run_demo_tui(settings: Settings) -> int:
    """The terminal UI again, on the demo account, with the demo's own database."""
    from botifython_tui.cli.demo import start_demo

    demo = start_demo(settings)
    store = Store(demo.db_path)
    try:
        return run_tui(demo, store)
    finally:
        store.close()

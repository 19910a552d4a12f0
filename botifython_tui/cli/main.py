"""Argument parsing and dispatch. Imports the TUI only when the TUI is what was asked for."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from botifython_tui import __version__
from botifython_tui.cli import (
    botify_commands,
    chat_command,
    config_commands,
    docs_commands,
    store_commands,
)
from botifython_tui.cli.output import EXIT_CODES_HELP, CommandError, fail, note
from botifython_tui.config import ConfigError, Settings
from botifython_tui.core import settings as declared
from botifython_tui.core.store import Store, StoreError
from botifython_tui.logs import configure_logging, get_logger

log = get_logger("cli")


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default,
        help="where the database, token, memory and log live (default: the per-user data "
        "folder, env BOTIFYTHON_DATA_DIR)",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botifython",
        description="Botifython: Botify link-graph exports, todos and a local assistant, "
        "in the terminal. Without a command, starts the terminal UI.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    config_commands.register(commands, common)
    return parser


def _setting_flags(args: argparse.Namespace) -> dict[str, object]:
    """The command-line values of declared settings (the strongest layer)."""
    model_key = declared.EMBEDDING_MODEL if args.command == "docs" else declared.MODEL
    return {
        declared.OLLAMA_HOST: getattr(args, "ollama_host", None),
        model_key: getattr(args, "model", None),
        declared.MAX_EDGES: getattr(args, "max_edges", None),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    standalone = getattr(args, "standalone", None)
    if standalone is not None:  # needs no data folder (shell completion)
        return standalone(args, parser)
    try:
        settings = Settings.resolve(
            data_dir=args.data_dir, downloads_dir=args.downloads_dir, flags=_setting_flags(args)
        )
        before_store = getattr(args, "before_store", None)
        if before_store is not None:  # moves the data folder: must run before it is opened
            try:
                return before_store(args, settings)
            except CommandError as exc:
                return fail(str(exc), code=exc.code)
            except KeyboardInterrupt:
                return fail(
                    "Interrupted; every file is in one of the two folders. Run the same "
                    "command again to finish.",
                    code=130,
                )
        settings.ensure_dirs()
        configure_logging(settings.log_path)
        store = Store(settings.db_path)
        settings = settings.with_stored(store.kv)
    except (ConfigError, StoreError) as exc:
        return fail(str(exc))
    legacy = _earlier_data(settings)
    try:
        if args.command is None:
            return run_tui(settings, store, notes=[legacy] if legacy else [])
        if legacy:
            note(f"botifython: note: {legacy}")
        return args.handler(args, settings, store)
    except CommandError as exc:
        return fail(str(exc), code=exc.code)
    except (StoreError, ConfigError) as exc:
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


def _earlier_data(settings: Settings) -> str | None:
    """A hint when an earlier version's ./data sits here unused (never moved silently)."""
    from botifython_tui.core.data_home import earlier_data, earlier_data_hint

    legacy = earlier_data(settings)
    return earlier_data_hint(legacy, settings) if legacy else None


def run_tui(settings: Settings, store: Store, *, notes: Sequence[str] = ()) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return fail(
            "The terminal UI needs an interactive terminal. Use a subcommand for scripts "
            "(see botifython --help)."
        )
    from botifython_tui.tui.app import make_app

    app = make_app(settings, store)
    app.startup_notes.extend(notes)
    app.run()
    return app.return_code or 0

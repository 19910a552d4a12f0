"""Argument parsing and dispatch. Imports the TUI only when the TUI is what was asked for."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence

from botifython_tui import __version__
from botifython_tui.cli import (
    analytics_commands,
    botify_commands,
    chat_command,
    config_commands,
    docs_commands,
    linkgraph_command,
    store_commands,
)
from botifython_tui.cli.arguments import Parser, check_text
from botifython_tui.cli.output import EXIT_CODES_HELP, EXIT_INTERRUPTED, CommandError, fail, note
from botifython_tui.config import ConfigError, Settings
from botifython_tui.core import settings as declared
from botifython_tui.core.paths import describe_os_error, disk_full_message, is_disk_full
from botifython_tui.core.store import InvalidInput, Store, StoreError, database_error
from botifython_tui.logs import LOGGER_NAME, configure_logging, get_logger

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
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the built-in demo Botify account (simulated on this machine, no token, "
        "no network); its data and exports are kept apart, under demo/",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="botifython",
        description="Botifython: Botify link-graph exports, todos and a local assistant, "
        "in the terminal. Without a command, starts the terminal UI.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"botifython {__version__}")
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = Parser(add_help=False)
    _common_options(common, suppress=True)
    store_commands.register(commands, common)
    botify_commands.register(commands, common)
    linkgraph_command.register(commands, common)
    chat_command.register(commands, common)
    docs_commands.register(commands, common)
    analytics_commands.register(commands, common)
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
    """Run one command; whatever happens, the terminal gets one line, never a traceback."""
    _printable_streams()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return fail("Interrupted.", code=EXIT_INTERRUPTED)
    except BrokenPipeError:  # `botifython todo list | head -1`: the reader left, nothing to say
        _drop_stdout()
        return 1
    except Exception as exc:  # the last resort: something no layer below turned into a message
        return _unexpected(exc)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_text(parser, args)
    standalone = getattr(args, "standalone", None)
    if standalone is not None:  # needs no data folder (shell completion)
        return standalone(args, parser)
    try:
        settings = Settings.resolve(
            data_dir=args.data_dir, downloads_dir=args.downloads_dir, flags=_setting_flags(args)
        )
        if args.demo:  # the built-in demo account: its own folders, a simulated Botify
            from botifython_tui.cli.demo import start_demo

            settings = start_demo(settings)
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
                    code=EXIT_INTERRUPTED,
                )
        settings.ensure_dirs()
    except ConfigError as exc:
        return fail(str(exc), code=exc.exit_code)
    try:
        configure_logging(settings.log_path)
    except OSError as exc:
        return fail(
            describe_os_error(
                exc,
                "log file",
                settings.log_path,
                "Make it writable, or choose another data folder with --data-dir.",
            )
        )
    try:
        store = Store(settings.db_path)
        settings = settings.with_stored(store.kv)
    except ConfigError as exc:
        return fail(str(exc), code=exc.exit_code)
    except StoreError as exc:
        log.warning("cannot open the database: %s", exc, exc_info=True)
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
    except ConfigError as exc:
        return fail(str(exc), code=exc.exit_code)
    except StoreError as exc:
        return fail(str(exc), code=2 if isinstance(exc, InvalidInput) else 1)
    except sqlite3.DatabaseError as exc:  # corruption found past the first page, a lock timeout
        log.warning("database error", exc_info=True)
        return fail(str(database_error(settings.db_path, exc)))
    except OSError as exc:
        if not is_disk_full(exc, exc.filename or settings.data_dir):
            raise
        log.warning("disk full", exc_info=True)
        return fail(
            disk_full_message(exc.filename or settings.data_dir, "Free some space and try again.")
        )
    finally:
        with contextlib.suppress(sqlite3.Error):
            store.close()


def _unexpected(exc: Exception) -> int:
    """One line on the terminal; the traceback in the log, when there is one."""
    logged = _log_file()
    if logged is not None:
        log.error("unexpected error", exc_info=exc)
    where = f"; the details are in {logged}" if logged else ""
    if isinstance(exc, OSError):
        target = exc.filename or "a file"
        return fail(describe_os_error(exc, "file", target, f"Check it and try again{where}."))
    return fail(
        f"unexpected {type(exc).__name__}: {exc}. This is a bug in Botifython{where}; "
        "please report it."
    )


def _log_file() -> str | None:
    """The log file, if logging was configured before the failure."""
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        name = getattr(handler, "baseFilename", None)
        if name:
            return str(name)
    return None


def _printable_streams() -> None:
    """Text that cannot be encoded (an odd locale, an undecodable file name) is escaped, not fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


def _drop_stdout() -> None:
    """After a broken pipe, send what Python still flushes at exit nowhere."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


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

"""`botifython config …`, `migrate-data` and `completion`: settings, where state lives, the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from botifython_tui.cli.output import (
    EXIT_USAGE,
    BadInput,
    CommandError,
    NeedsConfirmation,
    add_json_option,
    emit_json,
    note,
    say,
)
from botifython_tui.config import ConfigError, Settings
from botifython_tui.core import settings as declared
from botifython_tui.core.store import Store
from botifython_tui.core.text import single_line

SHELLS = ("bash", "zsh", "fish")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = ", ".join(declared.all_keys())
    config = commands.add_parser(
        "config",
        help="show the settings and where each comes from; store one",
        description="Every setting is taken from, in order: its command-line flag, its "
        "environment variable, the stored setting (config set), the default. Settings: " + keys,
    )
    config_commands = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub = config_commands.add_parser(
        "list", parents=[common], help="every setting, its value and where it came from"
    )
    add_json_option(sub)
    sub.set_defaults(handler=config_list)
    sub = config_commands.add_parser("set", parents=[common], help="store a setting (validated)")
    sub.add_argument("key", choices=declared.all_keys(), metavar="KEY", help=keys)
    sub.add_argument("value")
    sub.set_defaults(handler=config_set)
    sub = config_commands.add_parser(
        "unset", parents=[common], help="forget a stored setting (back to its default)"
    )
    sub.add_argument("key", choices=declared.all_keys(), metavar="KEY", help=keys)
    sub.set_defaults(handler=config_unset)

    sub = commands.add_parser(
        "migrate-data",
        parents=[common],
        help="move an earlier version's ./data into the per-user data folder",
        description="Earlier versions kept the database, token, memory and log in ./data of the "
        "folder they started in. This moves that folder's contents into the data folder in use "
        "(the per-user folder, or --data-dir / BOTIFYTHON_DATA_DIR). Nothing is deleted: "
        "entries the data folder already has are set aside in a replaced-<time> folder.",
    )
    sub.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        default="data",
        help="the earlier data folder (default ./data)",
    )
    sub.add_argument(
        "--yes",
        action="store_true",
        help="move even if the data folder already holds todos, profiles or exports "
        "(they are set aside, not deleted)",
    )
    sub.set_defaults(before_store=migrate_data)

    sub = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script for your shell. Install it with, for bash: "
        "botifython completion bash > ~/.local/share/bash-completion/completions/botifython; "
        "zsh: botifython completion zsh > ~/.zfunc/_botifython (with ~/.zfunc in fpath); "
        "fish: botifython completion fish > ~/.config/fish/completions/botifython.fish",
    )
    sub.add_argument("shell", choices=SHELLS)
    sub.set_defaults(standalone=completion)


def _entry(resolved: declared.Resolved) -> dict[str, Any]:
    setting = resolved.setting
    return {
        "key": setting.key,
        "value": resolved.value,
        "source": resolved.source.value,
        "origin": resolved.origin,
        "overridden_by": resolved.overridden_by,
        "stored": resolved.stored,
        "default": setting.default,
        "env": setting.env,
        "flag": setting.flag,
        "choices": list(setting.choices) or None,
        "description": setting.description,
    }


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return "(not set)"
    return single_line(str(value))


def config_list(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    resolved: list[declared.Resolved] = []
    problems: dict[str, str] = {}  # key -> why its flag or environment value is unusable
    for key in declared.all_keys():
        try:
            resolved.append(settings.setting(key, store.kv))
        except ConfigError as exc:
            problems[key] = str(exc)
    if args.json:
        emit_json(
            {
                "settings": [_entry(r) for r in resolved]
                + [{"key": key, "error": why} for key, why in problems.items()],
                "paths": {
                    "data_dir": {
                        "value": str(settings.data_dir),
                        "origin": settings.data_dir_origin,
                    },
                    "downloads_dir": {"value": str(settings.downloads_dir)},
                },
            }
        )
    else:
        width = max(len(key) for key in declared.all_keys())
        value_width = min(30, max((len(_shown(r.value)) for r in resolved), default=10))
        for r in resolved:
            say(f"{r.setting.key:<{width}}  {_shown(r.value):<{value_width}}  {r.describe()}")
        for key, why in problems.items():
            say(f"{key:<{width}}  {'(unusable)':<{value_width}}  {single_line(why)}")
        say(f"{'data folder':<{width}}  {settings.data_dir}  ({settings.data_dir_origin})")
    if problems:
        note(
            "botifython: error: "
            + " ".join(single_line(why) for why in problems.values())
            + " Fix or unset the variable."
        )
        return EXIT_USAGE
    return 0


def config_set(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    try:
        value = declared.store(store.kv, args.key, args.value)
    except declared.SettingError as exc:
        raise BadInput(f"{str(exc).rstrip('.')}. Nothing was stored.") from None
    if args.value.strip() == "" and declared.get(args.key).kind is str:
        say(f"Forgot the stored {args.key} (back to its default, {_shown(value)}).")
    else:
        say(f"Stored {args.key} = {_shown(value)}")
    try:
        resolved = settings.setting(args.key, store.kv)
    except ConfigError:
        return 0
    if resolved.overridden_by:
        note(
            f"Note: {resolved.overridden_by} overrides it here ({_shown(resolved.value)}); "
            f"unset {resolved.overridden_by} for the stored value to take effect."
        )
    return 0


def config_unset(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    if declared.forget(store.kv, args.key):
        say(f"Forgot the stored {args.key}.")
    else:
        say(f"{args.key} was not stored.")
    return 0


def migrate_data(args: argparse.Namespace, settings: Settings) -> int:
    from botifython_tui.core.data_home import MigrationError, TargetHasData, migrate

    source = Path(args.source).expanduser()
    source = source if source.is_absolute() else Path.cwd() / source
    target = settings.data_dir
    try:
        result = migrate(source, target, replace=args.yes)
    except TargetHasData as exc:
        raise NeedsConfirmation(
            f"{exc} Run again with --yes to move {source} in anyway (what is there now is set "
            f"aside in {target}/replaced-<time>/, not deleted), or keep both and choose one "
            "with --data-dir."
        ) from None
    except MigrationError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(
            f"Moving {source} into {target} stopped: {exc.strerror or exc} "
            f"({exc.filename or ''}). Every file is in one of the two folders; fix the cause "
            "and run botifython migrate-data again."
        ) from None
    say(f"Moved {', '.join(result.moved)} from {source} into {target}.")
    if result.set_aside is not None:
        say(f"What {target} held before is kept in {result.set_aside}.")
    return 0


def completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import shtab

    script = shtab.complete(parser, shell=args.shell)
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
    return 0

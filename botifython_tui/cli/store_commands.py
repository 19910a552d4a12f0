"""`botifython profile …` and `botifython todo …`: the store from scripts and SSH."""

from __future__ import annotations

import argparse

from botifython_tui.cli.arguments import record_id
from botifython_tui.cli.output import (
    NeedsConfirmation,
    add_json_option,
    emit_json,
    say,
)
from botifython_tui.config import Settings
from botifython_tui.core.store import Profile, Store
from botifython_tui.core.text import single_line


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    profile = commands.add_parser("profile", help="list, add, use, rename or delete profiles")
    profile_commands = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub = profile_commands.add_parser("list", parents=[common], help="list profiles (* = current)")
    add_json_option(sub)
    sub.set_defaults(handler=profile_list)
    sub = profile_commands.add_parser("add", parents=[common], help="create a profile")
    sub.add_argument("name")
    sub.set_defaults(handler=profile_add)
    sub = profile_commands.add_parser("use", parents=[common], help="make a profile current")
    sub.add_argument("name", help="profile name or id")
    sub.set_defaults(handler=profile_use)
    sub = profile_commands.add_parser("rename", parents=[common], help="rename a profile")
    sub.add_argument("name", help="profile name or id")
    sub.add_argument("new_name")
    sub.set_defaults(handler=profile_rename)
    sub = profile_commands.add_parser(
        "delete", parents=[common], help="delete a profile and its todos"
    )
    sub.add_argument("name", help="profile name or id")
    sub.add_argument("--yes", action="store_true", help="confirm the deletion")
    sub.set_defaults(handler=profile_delete)

    todo = commands.add_parser("todo", help="list, add and complete todos")
    todo_commands = todo.add_subparsers(dest="action", metavar="ACTION", required=True)
    profile_option = argparse.ArgumentParser(add_help=False)
    profile_option.add_argument(
        "--profile", metavar="NAME", help="use this profile instead of the current one"
    )
    parents = [common, profile_option]
    sub = todo_commands.add_parser("list", parents=parents, help="list the profile's todos")
    add_json_option(sub)
    sub.set_defaults(handler=todo_list)
    sub = todo_commands.add_parser("add", parents=parents, help="add a todo")
    sub.add_argument("title")
    sub.set_defaults(handler=todo_add)
    for name, done, text in (
        ("done", True, "mark a todo done"),
        ("undone", False, "reopen a todo"),
    ):
        sub = todo_commands.add_parser(name, parents=parents, help=text)
        sub.add_argument("id", type=record_id("todo"), metavar="ID")
        sub.set_defaults(handler=todo_done, done=done)
    sub = todo_commands.add_parser("delete", parents=parents, help="delete a todo")
    sub.add_argument("id", type=record_id("todo"), metavar="ID")
    sub.set_defaults(handler=todo_delete)


def _name(profile: Profile) -> str:
    return single_line(profile.name)


def profile_list(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    current = store.profiles.current()
    rows = []
    for profile in store.profiles.list():
        open_count, done_count = store.todos(profile.id).counts()
        rows.append((profile, open_count, done_count))
    if args.json:
        emit_json(
            {
                "profiles": [
                    {
                        "id": profile.id,
                        "name": profile.name,
                        "current": profile.id == current.id,
                        "open": open_count,
                        "done": done_count,
                    }
                    for profile, open_count, done_count in rows
                ]
            }
        )
        return 0
    for profile, open_count, done_count in rows:
        mark = "*" if profile.id == current.id else " "
        say(f"{mark} {profile.id:>3}  {_name(profile)}  ({open_count} open, {done_count} done)")
    return 0


def profile_add(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = store.profiles.create(args.name)
    say(f"Added profile {profile.id}: {_name(profile)}")
    return 0


def profile_use(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = store.profiles.use(store.profiles.find(args.name).id)
    say(f"Now using profile {profile.id}: {_name(profile)}")
    return 0


def profile_rename(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = store.profiles.rename(store.profiles.find(args.name).id, args.new_name)
    say(f"Renamed profile {profile.id} to {_name(profile)}")
    return 0


def profile_delete(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = store.profiles.find(args.name)
    if not args.yes:
        raise NeedsConfirmation(
            f"Deleting the profile {profile.name!r} also deletes its todos; "
            "run again with --yes to confirm.",
            exit_code=3,
        )
    store.profiles.delete(profile.id)
    say(f"Deleted profile {profile.id}: {_name(profile)}")
    return 0


def _profile(args: argparse.Namespace, store: Store) -> Profile:
    return store.profiles.find(args.profile) if args.profile else store.profiles.current()


def todo_list(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = _profile(args, store)
    todos = store.todos(profile.id).list()
    if args.json:
        emit_json(
            {
                "profile": {"id": profile.id, "name": profile.name},
                "todos": [
                    {"id": todo.id, "title": todo.title, "done": bool(todo.done)} for todo in todos
                ],
            }
        )
        return 0
    if not todos:
        say(f"No todos in profile {_name(profile)}.")
    for todo in todos:
        say(f"{todo.id:>5}  [{'x' if todo.done else ' '}] {single_line(todo.title)}")
    return 0


def todo_add(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = _profile(args, store)
    todo = store.todos(profile.id).add(args.title)
    say(f"Added todo {todo.id} to {_name(profile)}: {single_line(todo.title)}")
    return 0


def todo_done(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = _profile(args, store)
    todo = store.todos(profile.id).set_done(args.id, args.done)
    say(f"Todo {todo.id} is {'done' if todo.done else 'open'}: {single_line(todo.title)}")
    return 0


def todo_delete(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    profile = _profile(args, store)
    todo = store.todos(profile.id).delete(args.id)
    say(f"Deleted todo {todo.id}: {single_line(todo.title)}")
    return 0

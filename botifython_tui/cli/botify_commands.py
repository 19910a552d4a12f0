"""`botifython token …`, `projects` and `analyses`: Botify from scripts and SSH (the export is
`linkgraph_command`).

The token is only ever read from standard input or a hidden prompt (never from the command line,
where `ps` and shell history would see it), and only ever shown masked. The Botify core (httpx) is
imported inside the handlers, so `botifython todo list` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botifython_tui.cli.output import (
    CommandError,
    add_json_option,
    emit_json,
    note,
    say,
)
from botifython_tui.config import Settings
from botifython_tui.core.store import Profile, Store
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger, register_secret

if TYPE_CHECKING:
    from botifython_tui.core.botify import Analysis, BotifyClient, ProjectRef

log = get_logger("cli.botify")

PROJECT_HELP = "project URL (https://app.botify.com/ORG/PROJECT/…) or ORG/PROJECT"


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    token = commands.add_parser("token", help="store, check or forget the Botify API token")
    token_commands = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub = token_commands.add_parser(
        "set",
        parents=[common],
        help="store the token, after checking it with Botify",
        description="Store the Botify API token. It is read from standard input when that is "
        'not a terminal (echo "$TOKEN" | botifython token set), otherwise from a hidden '
        "prompt; it is never taken from the command line.",
    )
    sub.add_argument(
        "--no-verify", action="store_true", help="store the token without checking it with Botify"
    )
    sub.set_defaults(handler=token_set)
    sub = token_commands.add_parser(
        "status", parents=[common], help="show the masked token and check it with Botify"
    )
    sub.add_argument("--offline", action="store_true", help="do not contact Botify")
    add_json_option(sub)
    sub.set_defaults(handler=token_status)
    sub = token_commands.add_parser("clear", parents=[common], help="forget the stored token")
    sub.set_defaults(handler=token_clear)

    sub = commands.add_parser("projects", parents=[common], help="list your Botify projects")
    add_json_option(sub)
    sub.set_defaults(handler=projects)

    sub = commands.add_parser(
        "analyses", parents=[common], help="list a project's analyses, newest first"
    )
    sub.add_argument("--project", required=True, metavar="URL", help=PROJECT_HELP)
    add_json_option(sub)
    sub.set_defaults(handler=analyses)


# --- helpers -------------------------------------------------------------------------------------


def warn(message: str) -> None:
    print(f"botifython: warning: {single_line(message)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def botify_errors() -> Iterator[None]:
    """Botify's typed errors carry a message for the user; the traceback goes to the log."""
    from botifython_tui.core.botify import BotifyError

    try:
        yield
    except BotifyError as exc:
        log.warning("Botify command failed: %s", exc, exc_info=True)
        raise CommandError(str(exc)) from exc


def botify_client(settings: Settings, token: str, *, quick: bool = False) -> BotifyClient:
    from botifython_tui.core.botify import BotifyClient, RetryPolicy

    # Checking a token is interactive: a dead host should be reported in seconds, not a minute.
    retry = RetryPolicy(attempts=3, total_time=15.0) if quick else None
    return BotifyClient(token, settings.botify_api_url, retry=retry)


def stored_token(settings: Settings) -> str:
    from botifython_tui.core.secrets import TokenStore

    token = TokenStore(settings.data_dir).load()
    if not token:
        raise CommandError(
            "No Botify API token is stored. Set one with: botifython token set, or set "
            "BOTIFY_API_TOKEN "
            "(it reads the token from standard input or a hidden prompt)."
        )
    return token


def parse_project(text: str) -> ProjectRef:
    from botifython_tui.core.botify import parse_project_ref

    try:
        return parse_project_ref(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _short_date(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return single_line(value[:16])
    return moment.strftime("%Y-%m-%d %H:%M")


def chosen_profile(args: argparse.Namespace, store: Store) -> Profile:
    return store.profiles.find(args.profile) if args.profile else store.profiles.current()


# --- token ---------------------------------------------------------------------------------------


def read_token() -> str:
    """The token from standard input (a pipe or a file) or a hidden prompt on the terminal."""
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            raw = getpass.getpass("Botify API token (input hidden): ")
        except EOFError:
            raw = ""
        where = "at the prompt"
    else:
        raw = sys.stdin.read() if sys.stdin is not None else ""
        where = "on standard input"
    token = raw.strip()
    if not token:
        raise CommandError(
            f'No token was given {where}. Pipe it in (echo "$BOTIFY_TOKEN" | botifython '
            "token set) or run the command in a terminal to be prompted."
        )
    register_secret(token)
    if any(ch.isspace() for ch in token) or not token.isprintable():
        # Never echo it back: a wrong paste may still be a real secret.
        raise CommandError(
            f"The token given {where} contains spaces, line breaks or control characters; "
            "a Botify token is a single word. Nothing was stored."
        )
    return token


async def _username(settings: Settings, token: str) -> tuple[str, str]:
    async with botify_client(settings, token, quick=True) as client:
        return await client.username(), client.host


def token_set(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.botify import mask_token
    from botifython_tui.core.secrets import TokenStore

    token = read_token()
    tokens = TokenStore(settings.data_dir)
    if args.no_verify:
        tokens.save(token)
        warn(
            "The token was stored without checking it with Botify; check it with: botifython token status"
        )
        say(f"Stored the token {mask_token(token)} in {tokens.path}.")
        return 0
    with botify_errors():
        username, host = asyncio.run(_username(settings, token))
    tokens.save(token)
    log.info("Botify token stored for %s", username)
    say(f"Connected as {single_line(username)} ({host}).")
    say(f"Stored the token {mask_token(token)} in {tokens.path}.")
    return 0


def token_status(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.botify import mask_token
    from botifython_tui.core.secrets import TokenStore

    tokens = TokenStore(settings.data_dir)
    token = stored_token(settings)
    from_env = tokens.from_env() is not None
    source = tokens.source() or f"file {tokens.path}"
    username = host = None
    if not args.json:
        say(f"Token: {mask_token(token)} (from the {source})")
    if not args.offline:
        with botify_errors():
            username, host = asyncio.run(_username(settings, token))
    if args.json:
        emit_json(
            {
                "token": mask_token(token),
                "source": "env" if from_env else "file",
                "origin": "BOTIFY_API_TOKEN" if from_env else str(tokens.path),
                "checked": not args.offline,
                "username": username,
                "host": host,
            }
        )
        return 0
    if args.offline:
        say("Not checked with Botify (--offline).")
        return 0
    say(f"Connected as {single_line(username or '')} ({host}).")
    return 0


def token_clear(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from botifython_tui.core.secrets import TokenStore

    tokens = TokenStore(settings.data_dir)
    if tokens.clear():
        say(f"Removed the Botify API token ({tokens.path}).")
    else:
        say("No Botify API token was stored.")
    if tokens.from_env():
        note("BOTIFY_API_TOKEN is set, so its token is still used; unset it to stop using it.")
    return 0


# --- projects and analyses -----------------------------------------------------------------------


def projects(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    token = stored_token(settings)

    async def fetch() -> tuple[str, list[Any]]:
        async with botify_client(settings, token) as client:
            username = await client.username()
            return username, await client.projects(username)

    with botify_errors():
        username, found = asyncio.run(fetch())
    if args.json:
        emit_json(
            {
                "username": username,
                "projects": [
                    {"org": p.org, "slug": p.slug, "name": p.name, "label": p.label} for p in found
                ],
            }
        )
        return 0
    if not found:
        say(f"No projects found for {single_line(username)}.")
        return 0
    width = max(len(single_line(p.label)) for p in found)
    for project in found:
        label = single_line(project.label)
        name = single_line(project.name)
        say(f"{label:<{width}}  {name}" if name != project.slug else label)
    return 0


def analyses(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    ref = parse_project(args.project)
    token = stored_token(settings)

    async def fetch() -> list[Analysis]:
        async with botify_client(settings, token) as client:
            return await client.analyses(ref.org, ref.project)

    with botify_errors():
        found = asyncio.run(fetch())
    label = f"{ref.org}/{ref.project}"
    exported = store.exported_analyses()
    if args.json:
        emit_json(
            {
                "org": ref.org,
                "project": ref.project,
                "analyses": [
                    {
                        "slug": a.slug,
                        "name": a.name,
                        "status": a.status,
                        "date": a.date,
                        "exported": (ref.org, ref.project, a.slug) in exported,
                    }
                    for a in found
                ],
            }
        )
        return 0
    if not found:
        say(f"{label} has no analyses.")
        return 0
    slug_width = max(len(single_line(a.slug)) for a in found)
    name_width = max(len(single_line(a.name)) for a in found)
    for analysis in found:
        marks = []
        if not analysis.is_finished:
            marks.append(f"({single_line(analysis.status)})")
        if (ref.org, ref.project, analysis.slug) in exported:
            marks.append("*exported")
        line = (
            f"{single_line(analysis.slug):<{slug_width}}  {single_line(analysis.name):<{name_width}}"
            f"  {_short_date(analysis.date)}  {' '.join(marks)}"
        )
        say(line.rstrip())
    return 0

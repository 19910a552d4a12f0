"""The one place where the app's "apps" (screens with a name and a key) are registered."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

from textual.screen import Screen

from botifython_tui.logs import get_logger

ENTRY_POINT_GROUP = "botifython.apps"
log = get_logger("apps")


@dataclass(frozen=True)
class AppSpec:
    """An app of the shell: its id, its name, the key that opens it and its screen's factory."""

    id: str
    name: str
    key: str
    screen: Callable[[], Screen]
    description: str = ""
    order: int = 100
    short_name: str = ""  # for the app bar when the terminal is narrow

    @property
    def bar_name(self) -> str:
        return self.short_name or self.name


def lazy_screen(target: str) -> Callable[[], Screen]:
    """A screen factory that imports `module:Class` only when the app is first opened."""
    module_name, _, class_name = target.partition(":")

    def make() -> Screen:
        return getattr(importlib.import_module(module_name), class_name)()

    make.__name__ = make.__qualname__ = class_name
    return make


def builtin_apps() -> list[AppSpec]:
    # Screens load on first use: start-up pays only for the first app's screen.
    screens = "botifython_tui.tui.screens"
    return [
        AppSpec(
            "todos",
            "Todos",
            "f2",
            lazy_screen(f"{screens}.todos:TodosScreen"),
            "The current profile's todo list",
            10,
        ),
        AppSpec(
            "profiles",
            "Profiles",
            "f3",
            lazy_screen(f"{screens}.profiles:ProfilesScreen"),
            "Add, rename, delete, switch",
            20,
        ),
        AppSpec(
            "botify",
            "Botify",
            "f4",
            lazy_screen(f"{screens}.botify:BotifyScreen"),
            "Connect, choose a project and analysis, export the link graph",
            30,
        ),
        AppSpec(
            "linkgraphs",
            "Link graphs",
            "f5",
            lazy_screen(f"{screens}.linkgraphs:LinkGraphsScreen"),
            "This profile's link-graph exports: summary and Cosmograph",
            40,
            "Graphs",
        ),
        AppSpec(
            "chat",
            "Chat",
            "f6",
            lazy_screen(f"{screens}.chat:ChatScreen"),
            "Talk with the local assistant (Ollama); past conversations",
            50,
        ),
        AppSpec(
            "actions",
            "Actions",
            "f7",
            lazy_screen(f"{screens}.actions_log:ActionsLogScreen"),
            "What the assistant did: every action, its arguments, approval and result",
            60,
        ),
        AppSpec(
            "documents",
            "Documents",
            "f8",
            lazy_screen(f"{screens}.documents:DocumentsScreen"),
            "The assistant's memory: add, search, re-index and remove documents",
            70,
            "Docs",
        ),
    ]


def plugin_apps(
    discovered: Iterable | None = None,
) -> tuple[list[AppSpec], list[str]]:
    """Apps from third-party packages (entry-point group `botifython.apps`), and load errors.

    An entry point names an `AppSpec`, or a callable returning one. A broken plugin is skipped
    with a message; it never stops the app from starting.
    """
    specs: list[AppSpec] = []
    problems: list[str] = []
    for entry in discovered if discovered is not None else entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            spec = loaded if isinstance(loaded, AppSpec) else loaded()
            if not isinstance(spec, AppSpec):
                raise TypeError(f"expected an AppSpec, got {type(spec).__name__}")
            specs.append(spec)
        except Exception as exc:  # a plugin's bug must not take the shell down
            log.exception("Plugin app %r failed to load", entry.name)
            problems.append(f"The plugin app {entry.name!r} could not be loaded: {exc}")
    return specs, problems


def resolve_apps(specs: Iterable[AppSpec]) -> tuple[list[AppSpec], list[str]]:
    """Order apps and drop later ones whose id or key is already taken."""
    chosen: list[AppSpec] = []
    problems: list[str] = []
    ids: set[str] = set()
    keys: set[str] = set()
    for spec in sorted(specs, key=lambda s: s.order):
        if spec.id in ids or spec.key in keys:
            problems.append(
                f"The app {spec.name!r} was not added: its id {spec.id!r} or key {spec.key!r} "
                "is already used."
            )
            continue
        ids.add(spec.id)
        keys.add(spec.key)
        chosen.append(spec)
    return chosen, problems

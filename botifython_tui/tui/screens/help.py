"""F1 (or ?): the keys of the screen below and the global ones, generated from the bindings."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from botifython_tui.core.text import single_line

OWN_PACKAGE = "botifython_tui"


@dataclass(frozen=True)
class KeyHelp:
    """One action and every key bound to it."""

    keys: str
    description: str


def own_bindings(node: DOMNode) -> set[tuple[str, str]]:
    """(action, description) of the bindings the app's own classes declare for `node`; not
    those inherited from Textual's text editors and lists (dozens of cursor moves)."""
    pairs: set[tuple[str, str]] = set()
    for cls in type(node).__mro__:
        if not cls.__module__.startswith(OWN_PACKAGE):
            continue
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding):
                pairs.add((binding.action, binding.description))
    return pairs


def _rows(app: App, nodes: list[DOMNode], *, only_own: bool = True) -> list[KeyHelp]:
    """The documented bindings of `nodes`, one row per action, keys joined ("d, Delete")."""
    order: list[str] = []
    keys: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for node in nodes:
        own = own_bindings(node) if only_own else set()
        for bindings in node._bindings.key_to_bindings.values():
            for binding in bindings:
                if not binding.description:
                    continue
                if only_own and (binding.action, binding.description) not in own:
                    continue
                action = binding.action
                if action not in keys:
                    order.append(action)
                    keys[action] = []
                    described[action] = binding.description
                display = app.get_key_display(binding)
                if display not in keys[action]:
                    keys[action].append(display)
    return [KeyHelp(", ".join(keys[a]), single_line(described[a])) for a in order]


def screen_keys(screen: Screen) -> list[KeyHelp]:
    """The keys of a screen and of its own widgets (whatever has focus right now)."""
    nodes: list[DOMNode] = [screen, *screen.walk_children(with_self=False)]
    return _rows(screen.app, nodes)


def global_keys(app: App) -> list[KeyHelp]:
    """The app's keys: the apps (F2 …), the chat pane, help, the palette, quit."""
    rows = _rows(app, [app], only_own=False)
    rows = [
        KeyHelp(row.keys, "Command palette: every command by name")
        if row.description.lower() == "palette"
        else row
        for row in rows
    ]
    return [row for row in rows if row.description != "Help: keys"] + [
        KeyHelp("F1, ?", "Help: keys (? only outside a text box)")
    ]


def _table(rows: list[KeyHelp]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for row in rows:
        table.add_row(Text(row.keys), Text(row.description))
    return table


class HelpScreen(ModalScreen[None]):
    """A list of keys to read, closed with Esc, F1, ? or q."""

    BINDINGS = [
        Binding("escape,f1,question_mark,q", "close", "Close help", id="help.close"),
    ]

    def __init__(self, target: Screen) -> None:
        super().__init__(classes="dialog")
        self.target_title = single_line(target.title or "") or "This screen"
        self.local = screen_keys(target)
        self.shared = global_keys(target.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label(f"Keys · {self.target_title}", id="help-title", markup=False)
            with VerticalScroll(id="help-body"):
                if self.local:
                    yield Label("This screen", classes="help-section")
                    yield Static(_table(self.local), id="help-local")
                yield Label("Everywhere", classes="help-section")
                yield Static(_table(self.shared), id="help-global")
            yield Label("Esc closes · Ctrl+P finds any command by name", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)

"""The current profile's todo list."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from botifython_tui.core.app_events import TodoAdded, TodoDeleted, TodoDone, TodoReopened
from botifython_tui.core.store import Todo
from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt


class TodosScreen(AppScreen):
    """Add, toggle, edit, delete and reorder the current profile's todos.

    The "New todo" input has the focus on arrival, so typing goes into it; the one-key commands
    work on the list (Esc or Tab), and the footer shows them only there.
    """

    app_name = "Todos"
    BINDINGS = [
        Binding("escape", "focus_list", "To the list", id="todos.list"),
        Binding("n", "new", "New", id="todos.new"),
        Binding("space", "toggle", "Done", id="todos.toggle"),
        Binding("e", "edit", "Edit", id="todos.edit"),
        Binding("d,delete", "delete", "Delete", id="todos.delete"),
        Binding("u", "undo", "Undo delete", id="todos.undo"),
        Binding("K,shift+up", "move(-1)", "Move up", id="todos.move_up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", id="todos.move_down", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        # Deleted todos, newest last, for `u` (this session only).
        self.deleted: list[Todo] = []

    def compose_body(self) -> ComposeResult:
        yield Input(
            placeholder="New todo: type and press Enter (Esc: go to the list)", id="new-todo"
        )
        yield DataTable(id="todo-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="todo-counts", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Done", key="done", width=4)
        table.add_column("Todo", key="title")
        self.refresh_data()
        self.focus_on_arrival()

    def focus_on_arrival(self) -> None:
        """The prompt says "type": typing on arrival goes into the input, never to commands."""
        self.set_focus(self.query_one("#new-todo", Input))

    @property
    def list_has_focus(self) -> bool:
        return self.focused is self.query_one(DataTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Letters and Space go into the input while it has the focus (Textual gives it them
        # first, and the footer then hides those keys); the keys it does not take wait too.
        if not self.is_mounted:
            return True
        if action == "focus_list":
            return not self.list_has_focus
        if action == "move" and not self.list_has_focus:
            return None
        if action == "undo":
            return True if self._undoable() is not None else None
        return True

    # --- data ---------------------------------------------------------------------------
    @property
    def todos(self):
        return self.store.todos(self.profile.id)

    def refresh_data(self, select_id: int | None = None) -> None:
        if not self.is_mounted:
            return
        table = self.query_one(DataTable)
        if select_id is None:
            select_id = self.selected_id()
        items = self.todos.list()
        table.clear()
        for todo in items:
            table.add_row(*self._cells(todo), key=str(todo.id))
        if items:
            ids = [todo.id for todo in items]
            row = ids.index(select_id) if select_id in ids else min(table.cursor_row, len(ids) - 1)
            table.move_cursor(row=max(row, 0))
        open_count, done_count = self.todos.counts()
        self.query_one("#todo-counts", Static).update(
            f"{open_count} open · {done_count} done"
            if items
            else "No todos yet: type one above and press Enter."
        )

    @staticmethod
    def _cells(todo: Todo) -> tuple[Text, Text]:
        mark = Text("[x]" if todo.done else "[ ]", style="bold green" if todo.done else "")
        title = Text(single_line(todo.title), style="strike dim" if todo.done else "")
        return mark, title

    def selected_id(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    # --- actions ------------------------------------------------------------------------
    def action_new(self) -> None:
        self.set_focus(self.query_one("#new-todo", Input))

    def action_focus_list(self) -> None:
        self.set_focus(self.query_one(DataTable))

    @reports_errors("add the todo")
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "new-todo":
            return
        event.stop()
        if not event.value:
            return  # Enter pressed twice: nothing to add, nothing to complain about
        todo = self.todos.add(event.value)  # a refused title stays in the field
        event.input.value = ""
        self.refresh_data(select_id=todo.id)
        self.shell.publish(TodoAdded(todo.title))

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # the footer follows the focus: list commands or typing

    @reports_errors("change the todo")
    def action_toggle(self) -> None:
        todo_id = self.selected_id()
        if todo_id is None:
            return
        todo = self.todos.toggle(todo_id)
        self.refresh_data(select_id=todo.id)
        self.shell.publish(TodoDone(todo.title) if todo.done else TodoReopened(todo.title))

    @reports_errors("edit the todo")
    async def action_edit(self) -> None:
        todo_id = self.selected_id()
        if todo_id is None:
            return
        todo = self.todos.get(todo_id)
        self.app.push_screen(
            TextPrompt("Edit todo", value=todo.title), lambda title: self._renamed(todo.id, title)
        )

    @reports_errors("edit the todo")
    def _renamed(self, todo_id: int, title: str | None) -> None:
        if title is None:
            return
        self.todos.rename(todo_id, title)
        self.refresh_data(select_id=todo_id)

    @reports_errors("delete the todo")
    def action_delete(self) -> None:
        todo_id = self.selected_id()
        if todo_id is None:
            return
        todo = self.todos.get(todo_id)
        self.app.push_screen(
            Confirm(f"Delete the todo {single_line(todo.title)!r}?", confirm_label="Delete"),
            lambda yes: self._deleted(todo.id) if yes else None,
        )

    @reports_errors("delete the todo")
    def _deleted(self, todo_id: int) -> None:
        todo = self.todos.delete(todo_id)
        self.deleted.append(todo)
        self.refresh_data()
        self.notify(f"Deleted {single_line(todo.title)!r}. Press u to undo.", markup=False)
        self.shell.publish(TodoDeleted(todo.title))

    def _undoable(self) -> Todo | None:
        """The latest deleted todo of the current profile."""
        for todo in reversed(self.deleted):
            if todo.profile_id == self.profile.id:
                return todo
        return None

    @reports_errors("undo the deletion")
    def action_undo(self) -> None:
        todo = self._undoable()
        if todo is None:
            self.notify("Nothing to undo: no todo was deleted in this profile.", markup=False)
            return
        restored = self.todos.restore(todo)
        self.deleted.remove(todo)
        self.refresh_data(select_id=restored.id)
        self.refresh_bindings()
        self.notify(f"Restored {single_line(restored.title)!r}.", markup=False)
        self.shell.publish(TodoAdded(restored.title))

    @reports_errors("move the todo")
    def action_move(self, offset: int) -> None:
        todo_id = self.selected_id()
        if todo_id is not None and self.todos.move(todo_id, offset):
            self.refresh_data(select_id=todo_id)

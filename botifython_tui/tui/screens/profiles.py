"""Profiles: list, add, rename, delete (with confirmation) and switch."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from botifython_tui.core.store import DeletedProfile
from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import reports_errors
from botifython_tui.tui.screens.base import AppScreen
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt


class ProfilesScreen(AppScreen):
    """Every profile, with the current one marked; switching changes every list at once."""

    app_name = "Profiles"
    BINDINGS = [
        Binding("enter", "use", "Use", id="profiles.use"),
        Binding("a", "add", "Add", id="profiles.add"),
        Binding("r", "rename", "Rename", id="profiles.rename"),
        Binding("d,delete", "delete", "Delete", id="profiles.delete"),
        Binding("u", "undo", "Undo delete", id="profiles.undo"),
    ]

    def __init__(self) -> None:
        super().__init__()
        # Deleted profiles with what they owned, newest last, for `u` (this session only).
        self.deleted: list[DeletedProfile] = []

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="profile-table", cursor_type="row", zebra_stripes=True)
        yield Static(
            "Enter: use the selected profile · a: add · r: rename · d: delete · u: undo",
            id="profile-hint",
        )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("", key="current", width=2)
        table.add_column("Profile", key="name")
        table.add_column("Open", key="open", width=6)
        table.add_column("Done", key="done", width=6)
        self.refresh_data()
        self.focus_on_arrival()

    def focus_on_arrival(self) -> None:
        self.set_focus(self.query_one(DataTable))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return True if self.deleted else None  # greyed until something was deleted
        return True

    def refresh_data(self, select_id: int | None = None) -> None:
        if not self.is_mounted:
            return
        table = self.query_one(DataTable)
        if select_id is None:
            select_id = self.selected_id() or self.profile.id
        profiles = self.store.profiles.list()
        table.clear()
        for profile in profiles:
            open_count, done_count = self.store.todos(profile.id).counts()
            current = profile.id == self.profile.id
            table.add_row(
                Text("●" if current else " ", style="bold green"),
                Text(single_line(profile.name), style="bold" if current else ""),
                Text(str(open_count), justify="right"),
                Text(str(done_count), justify="right"),
                key=str(profile.id),
            )
        ids = [p.id for p in profiles]
        if select_id in ids:
            table.move_cursor(row=ids.index(select_id))

    def selected_id(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_use()

    @reports_errors("switch profile")
    def action_use(self) -> None:
        profile_id = self.selected_id()
        if profile_id is not None:
            self.shell.switch_profile(profile_id)
            self.refresh_data(select_id=profile_id)

    def action_add(self) -> None:
        self.app.push_screen(
            TextPrompt("New profile name", placeholder="e.g. Client A"), self._added
        )

    @reports_errors("add the profile")
    def _added(self, name: str | None) -> None:
        if name is None:
            return
        profile = self.store.profiles.create(name)
        self.refresh_data(select_id=profile.id)
        self.notify(
            f"Profile {single_line(profile.name)!r} added. Press Enter to use it.", markup=False
        )

    @reports_errors("rename the profile")
    def action_rename(self) -> None:
        profile_id = self.selected_id()
        if profile_id is None:
            return
        profile = self.store.profiles.get(profile_id)
        self.app.push_screen(
            TextPrompt("Rename profile", value=profile.name),
            lambda name: self._renamed(profile_id, name),
        )

    @reports_errors("rename the profile")
    def _renamed(self, profile_id: int, name: str | None) -> None:
        if name is None:
            return
        self.store.profiles.rename(profile_id, name)
        self.shell.reload_profile()
        self.refresh_data(select_id=profile_id)

    @reports_errors("delete the profile")
    def action_delete(self) -> None:
        profile_id = self.selected_id()
        if profile_id is None:
            return
        profile = self.store.profiles.get(profile_id)
        open_count, done_count = self.store.todos(profile_id).counts()
        self.app.push_screen(
            Confirm(
                f"Delete the profile {single_line(profile.name)!r} and its "
                f"{open_count + done_count} todos? (u undoes it afterwards.)",
                confirm_label="Delete",
            ),
            lambda yes: self._deleted(profile_id) if yes else None,
        )

    @reports_errors("delete the profile")
    def _deleted(self, profile_id: int) -> None:
        was_current = profile_id == self.profile.id
        deleted = self.store.profiles.delete(profile_id)
        self.deleted.append(deleted)
        if was_current:
            self.shell.switch_profile(self.store.profiles.current().id)
        self.refresh_data()
        self.refresh_bindings()
        self.notify(
            f"Profile {single_line(deleted.profile.name)!r} deleted with its "
            f"{deleted.count('todos')} todos. Press u to undo.",
            markup=False,
        )

    @reports_errors("undo the deletion")
    def action_undo(self) -> None:
        if not self.deleted:
            return
        deleted = self.deleted[-1]
        profile = self.store.profiles.restore(deleted)
        self.deleted.pop()
        if deleted.was_current:
            self.shell.switch_profile(profile.id)
        self.refresh_data(select_id=profile.id)
        self.refresh_bindings()
        self.notify(
            f"Profile {single_line(profile.name)!r} restored with its "
            f"{deleted.count('todos')} todos.",
            markup=False,
        )

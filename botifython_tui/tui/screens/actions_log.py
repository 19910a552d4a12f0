"""The assistant's actions in this profile: what ran, with which arguments, approved or not, and the result."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from botifython_tui.core.text import single_line
from botifython_tui.tui.screens.base import AppScreen

SHOWN = 500


class ActionsLogScreen(AppScreen):
    """The audit table, newest first; arguments and results shown literally."""

    app_name = "Actions"

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Every action the assistant ran or was refused in this profile, newest first.",
            id="actions-hint",
            markup=False,
        )
        yield DataTable(id="actions-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="actions-detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("When", key="when", width=19)
        table.add_column("Action", key="action", width=20)
        table.add_column("", key="ok", width=2)
        table.add_column("Arguments / result", key="details")
        self.refresh_data()
        table.focus()

    def refresh_data(self) -> None:
        if not self.is_mounted:
            return
        table = self.query_one(DataTable)
        table.clear()
        self.entries = self.store.audit(self.profile.id).list(SHOWN)
        for entry in self.entries:
            args = single_line(json.dumps(entry.arguments, ensure_ascii=False))
            mark = ("✓" if entry.ok else "✗") if entry.approved else "–"
            table.add_row(
                Text(entry.created_at.replace("T", " ")[:19]),
                Text(single_line(entry.action)),
                Text(mark, style="green" if entry.ok and entry.approved else "red"),
                Text(f"{args} → {single_line(entry.result)}"),
                key=str(entry.id),
            )
        self.query_one("#actions-detail", Static).update(
            "" if self.entries else "No actions yet: ask the assistant (F6) to do something."
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        entry = next((e for e in self.entries if str(e.id) == event.row_key.value), None)
        if entry is None:
            return
        state = "approved" if entry.approved else "not approved"
        self.query_one("#actions-detail", Static).update(
            f"{entry.action} ({state}, {'ok' if entry.ok else 'failed'})\n"
            f"arguments: {single_line(json.dumps(entry.arguments, ensure_ascii=False))}\n"
            f"result: {single_line(entry.result)}"
        )

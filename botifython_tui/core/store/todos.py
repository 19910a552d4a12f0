"""One profile's todos: ordered, checked off, moved, deleted and restored (undo)."""

from __future__ import annotations

import sqlite3
from typing import Any

from botifython_tui.core.store.connection import Connection, insert_keeping_id
from botifython_tui.core.store.errors import InvalidInput, NotFound
from botifython_tui.core.store.records import Todo, utc_now

MAX_TITLE_LENGTH = 2000


def _clean_title(title: str) -> str:
    title = str(title).strip()
    if not title:
        raise InvalidInput("A todo needs a title: it cannot be blank.")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidInput(
            f"A todo title can be at most {MAX_TITLE_LENGTH} characters "
            f"(this one has {len(title)})."
        )
    return title


_TODO_COLUMNS = "id, profile_id, title, done, position, created_at, updated_at"


def _todo(row: tuple) -> Todo:
    id_, profile_id, title, done, position, created_at, updated_at = row
    return Todo(id_, profile_id, title, bool(done), position, created_at or "", updated_at or "")


class ProfileTodos:
    """One profile's todos. Every statement is filtered by the profile, so no id reaches another's."""

    def __init__(self, store: Connection, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def list(self) -> list[Todo]:
        rows = self._store.query(
            f"SELECT {_TODO_COLUMNS} FROM todos WHERE profile_id = ? ORDER BY position, id",
            [self.profile_id],
        )
        return [_todo(row) for row in rows]

    def get(self, todo_id: int) -> Todo:
        rows = self._store.query(
            f"SELECT {_TODO_COLUMNS} FROM todos WHERE id = ? AND profile_id = ?",
            [todo_id, self.profile_id],
        )
        if not rows:
            raise NotFound(f"There is no todo {todo_id} in this profile.")
        return _todo(rows[0])

    def add(self, title: str) -> Todo:
        title = _clean_title(title)
        now = utc_now()
        with self._store.write() as db:
            self._require_profile(db)
            position = db.execute(
                "SELECT coalesce(max(position), 0) + 1 FROM todos WHERE profile_id = ?",
                [self.profile_id],
            ).fetchone()[0]
            cursor = db.execute(
                "INSERT INTO todos (profile_id, title, done, position, created_at, updated_at) "
                "VALUES (?, ?, 0, ?, ?, ?)",
                [self.profile_id, title, position, now, now],
            )
            todo_id = cursor.lastrowid
        return self.get(todo_id)

    def toggle(self, todo_id: int) -> Todo:
        return self._update(todo_id, "done = 1 - done")

    def set_done(self, todo_id: int, done: bool = True) -> Todo:
        return self._update(todo_id, "done = ?", [int(done)])

    def rename(self, todo_id: int, title: str) -> Todo:
        return self._update(todo_id, "title = ?", [_clean_title(title)])

    def delete(self, todo_id: int) -> Todo:
        with self._store.write() as db:
            todo = self.get(todo_id)
            db.execute(
                "DELETE FROM todos WHERE id = ? AND profile_id = ?", [todo_id, self.profile_id]
            )
        return todo

    def restore(self, todo: Todo) -> Todo:
        """Undo `delete()`: the todo comes back in its place, under its old id if still free."""
        if todo.profile_id != self.profile_id:
            raise NotFound(f"The todo {todo.id} belongs to another profile.")
        with self._store.write() as db:
            self._require_profile(db)
            if db.execute(
                "SELECT 1 FROM todos WHERE profile_id = ? AND position = ?",
                [self.profile_id, todo.position],
            ).fetchone():  # its place was taken since: make room, so it goes back where it was
                db.execute(
                    "UPDATE todos SET position = position + 1 "
                    "WHERE profile_id = ? AND position >= ?",
                    [self.profile_id, todo.position],
                )
            todo_id = insert_keeping_id(
                db,
                "todos",
                ("id", "profile_id", "title", "done", "position", "created_at", "updated_at"),
                (
                    todo.id,
                    self.profile_id,
                    todo.title,
                    int(todo.done),
                    todo.position,
                    todo.created_at or utc_now(),
                    todo.updated_at or utc_now(),
                ),
            )
        return self.get(todo_id)

    def move(self, todo_id: int, offset: int) -> bool:
        """Move a todo up (offset -1) or down (+1); returns False at either end of the list."""
        with self._store.write() as db:
            ordered = [t.id for t in self.list()]
            if todo_id not in ordered:
                raise NotFound(f"There is no todo {todo_id} in this profile.")
            old = ordered.index(todo_id)
            new = old + offset
            if not 0 <= new < len(ordered):
                return False
            ordered.insert(new, ordered.pop(old))
            for position, item_id in enumerate(ordered, start=1):
                db.execute(
                    "UPDATE todos SET position = ? WHERE id = ? AND profile_id = ?",
                    [position, item_id, self.profile_id],
                )
        return True

    def counts(self) -> tuple[int, int]:
        """(open, done)."""
        row = self._store.query(
            "SELECT count(*) - coalesce(sum(done), 0), coalesce(sum(done), 0) "
            "FROM todos WHERE profile_id = ?",
            [self.profile_id],
        )[0]
        return int(row[0]), int(row[1])

    def _update(self, todo_id: int, assignment: str, params: list[Any] | None = None) -> Todo:
        with self._store.write() as db:
            cursor = db.execute(
                f"UPDATE todos SET {assignment}, updated_at = ? WHERE id = ? AND profile_id = ?",
                [*(params or []), utc_now(), todo_id, self.profile_id],
            )
            if cursor.rowcount == 0:
                raise NotFound(f"There is no todo {todo_id} in this profile.")
        return self.get(todo_id)

    def _require_profile(self, db: sqlite3.Connection) -> None:
        if not db.execute("SELECT 1 FROM profiles WHERE id = ?", [self.profile_id]).fetchone():
            raise NotFound(f"There is no profile with id {self.profile_id}.")

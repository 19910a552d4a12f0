"""Profiles: create, rename, delete (with undo), list and switch; each owns its todos, chats,
exports and audit log."""

from __future__ import annotations

import sqlite3

from botifython_tui.core.settings import CURRENT_PROFILE
from botifython_tui.core.store.connection import Connection, insert_keeping_id
from botifython_tui.core.store.errors import InvalidInput, NotFound
from botifython_tui.core.store.kv import KeyValue
from botifython_tui.core.store.records import DeletedProfile, Profile, utc_now

MAX_PROFILE_NAME_LENGTH = 100
DEFAULT_PROFILE_NAME = "Default"
# What a profile owns, deleted and restored with it (conversations before their messages).
_PROFILE_OWNED_TABLES = ("todos", "conversations", "messages", "exports", "audit")


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise InvalidInput("A profile name cannot be blank.")
    if len(name) > MAX_PROFILE_NAME_LENGTH:
        raise InvalidInput(
            f"A profile name can be at most {MAX_PROFILE_NAME_LENGTH} characters "
            f"(this one has {len(name)})."
        )
    return name


class Profiles:
    """Create, rename, delete, list and switch profiles."""

    def __init__(self, store: Connection) -> None:
        self._store = store
        self._kv = KeyValue(store)

    def ensure_one(self) -> None:
        """A database always has a profile: the first is made on first use."""
        with self._store.write() as db:
            if db.execute("SELECT count(*) FROM profiles").fetchone()[0] == 0:
                db.execute(
                    "INSERT INTO profiles (name, created_at) VALUES (?, ?)",
                    [DEFAULT_PROFILE_NAME, utc_now()],
                )

    def list(self) -> list[Profile]:
        rows = self._store.query("SELECT id, name, created_at FROM profiles ORDER BY id")
        return [Profile(*row) for row in rows]

    def get(self, profile_id: int) -> Profile:
        rows = self._store.query(
            "SELECT id, name, created_at FROM profiles WHERE id = ?", [profile_id]
        )
        if not rows:
            raise NotFound(f"There is no profile with id {profile_id}.")
        return Profile(*rows[0])

    def find(self, name: str) -> Profile:
        """Look a profile up by name (case-insensitive) or, failing that, by numeric id."""
        rows = self._store.query(
            "SELECT id, name, created_at FROM profiles WHERE name = ? COLLATE NOCASE",
            [" ".join(str(name).split())],
        )
        if rows:
            return Profile(*rows[0])
        digits = str(name).strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= 19 and int(digits) < 2**63:
            return self.get(int(digits))
        raise NotFound(f"There is no profile named {name!r}.")

    def create(self, name: str) -> Profile:
        name = _clean_name(name)
        with self._store.write() as db:
            self._refuse_duplicate(db, name)
            cursor = db.execute(
                "INSERT INTO profiles (name, created_at) VALUES (?, ?)", [name, utc_now()]
            )
            profile_id = cursor.lastrowid
        return self.get(profile_id)

    def rename(self, profile_id: int, name: str) -> Profile:
        name = _clean_name(name)
        with self._store.write() as db:
            self.get(profile_id)
            self._refuse_duplicate(db, name, except_id=profile_id)
            db.execute("UPDATE profiles SET name = ? WHERE id = ?", [name, profile_id])
        return self.get(profile_id)

    def delete(self, profile_id: int) -> DeletedProfile:
        """Delete a profile with its todos and messages. The last profile cannot be deleted.

        Returns what was deleted, so `restore()` can bring it back (undo).
        """
        with self._store.write() as db:
            profile = self.get(profile_id)
            if db.execute("SELECT count(*) FROM profiles").fetchone()[0] <= 1:
                raise InvalidInput("The last profile cannot be deleted; create another first.")
            owned: dict[str, tuple[tuple[str, ...], list[tuple]]] = {}
            for table in _PROFILE_OWNED_TABLES:
                cursor = db.execute(
                    f"SELECT * FROM {table} WHERE profile_id = ? ORDER BY id", [profile_id]
                )
                columns = tuple(column[0] for column in cursor.description)
                owned[table] = (columns, cursor.fetchall())
                db.execute(f"DELETE FROM {table} WHERE profile_id = ?", [profile_id])
            db.execute("DELETE FROM profiles WHERE id = ?", [profile_id])
            was_current = self._kv.get(CURRENT_PROFILE) == profile_id
            if was_current:
                first = db.execute("SELECT id FROM profiles ORDER BY id LIMIT 1").fetchone()[0]
                self._kv[CURRENT_PROFILE] = first
        return DeletedProfile(profile, owned, was_current)

    def restore(self, deleted: DeletedProfile) -> Profile:
        """Undo `delete()`: the profile and every row it owned, with their ids where still free.

        A name taken meanwhile gets " (restored)" appended; ids taken meanwhile get new ones
        (messages follow their conversation). It does not switch to the profile.
        """
        with self._store.write() as db:
            name = deleted.profile.name
            if db.execute(
                "SELECT 1 FROM profiles WHERE name = ? COLLATE NOCASE", [name]
            ).fetchone():
                name = _clean_name(f"{name[: MAX_PROFILE_NAME_LENGTH - 11]} (restored)")
                self._refuse_duplicate(db, name)
            profile_id = insert_keeping_id(
                db,
                "profiles",
                ("id", "name", "created_at"),
                (deleted.profile.id, name, deleted.profile.created_at),
            )
            new_ids: dict[str, dict[int, int]] = {}
            for table in _PROFILE_OWNED_TABLES:  # conversations come before messages
                columns, rows = deleted.owned.get(table, ((), []))
                ids = new_ids[table] = {}
                for row in rows:
                    values = dict(zip(columns, row, strict=True))
                    values["profile_id"] = profile_id
                    if table == "messages" and values.get("conversation_id") is not None:
                        conversations = new_ids.get("conversations", {})
                        values["conversation_id"] = conversations.get(
                            values["conversation_id"], values["conversation_id"]
                        )
                    ids[values["id"]] = insert_keeping_id(
                        db, table, tuple(values), tuple(values.values())
                    )
        return self.get(profile_id)

    def current(self) -> Profile:
        """The profile in use; falls back to the first one if the remembered one is gone."""
        remembered = self._kv.get(CURRENT_PROFILE)
        if isinstance(remembered, int):
            try:
                return self.get(remembered)
            except NotFound:
                pass
        return self.list()[0]

    def use(self, profile_id: int) -> Profile:
        profile = self.get(profile_id)
        self._kv[CURRENT_PROFILE] = profile.id
        return profile

    def _refuse_duplicate(
        self, db: sqlite3.Connection, name: str, except_id: int | None = None
    ) -> None:
        row = db.execute(
            "SELECT id FROM profiles WHERE name = ? COLLATE NOCASE AND id IS NOT ?",
            [name, except_id],
        ).fetchone()
        if row:
            raise InvalidInput(f"A profile named {name!r} already exists.")

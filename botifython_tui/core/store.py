"""SQLite store (through sqlite-utils): key-value, profiles, per-profile todos and chat messages.

Two running instances (two tmux panes) may share one database: it runs in WAL mode with a busy
timeout, and every write is a `BEGIN IMMEDIATE` transaction, so writers queue instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.paths import disk_full_message, is_disk_full

if TYPE_CHECKING:  # sqlite-utils does the schema work; it is imported only when that is needed
    import sqlite_utils

MAX_TITLE_LENGTH = 2000
MAX_PROFILE_NAME_LENGTH = 100
DEFAULT_PROFILE_NAME = "Default"
CURRENT_PROFILE_KEY = "current_profile_id"
_MISSING = object()


class StoreError(Exception):
    """Base class for store errors; the message is meant for the user (titled by the action
    that failed)."""

    title = ""


class DatabaseUnusable(StoreError):
    """The database file cannot be opened: corrupt, not SQLite, too new, or not writable."""


class DiskFull(DatabaseUnusable):
    """The disk holding the database has no room: the write was rolled back, nothing changed."""


class NotFound(StoreError, KeyError):
    """A profile or todo does not exist (or belongs to another profile)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "Not found"


class InvalidInput(StoreError, ValueError):
    """User input the store refuses, such as a blank title."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    created_at: str


@dataclass(frozen=True)
class Todo:
    id: int
    profile_id: int
    title: str
    done: bool
    position: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Message:
    id: int
    profile_id: int
    role: str
    content: str
    created_at: str


# --- migrations -----------------------------------------------------------------------------
# One function per schema version, applied in order inside one transaction each. Never edit a
# released step: add a new one, so a user's existing database upgrades without losing data.


def _migrate_1(db: sqlite_utils.Database) -> None:
    """Key-value store, profiles and todos."""
    db["kv"].create({"key": str, "value": str}, pk="key", not_null={"value"})
    db["profiles"].create(
        {"id": int, "name": str, "created_at": str}, pk="id", not_null={"name", "created_at"}
    )
    db.execute("CREATE UNIQUE INDEX profiles_name_nocase ON profiles(name COLLATE NOCASE)")
    db["todos"].create(
        {"id": int, "profile_id": int, "title": str, "done": int, "position": int},
        pk="id",
        not_null={"profile_id", "title", "done", "position"},
        defaults={"done": 0},
        foreign_keys=[("profile_id", "profiles", "id")],
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Todo timestamps and an index for per-profile listing; chat messages."""
    db["todos"].add_column("created_at", str)
    db["todos"].add_column("updated_at", str)
    db.execute(
        "UPDATE todos SET created_at = ?, updated_at = ? WHERE created_at IS NULL",
        [utc_now(), utc_now()],
    )
    db.execute("CREATE INDEX todos_profile_position ON todos(profile_id, position)")
    db["messages"].create(
        {"id": int, "profile_id": int, "role": str, "content": str, "created_at": str},
        pk="id",
        not_null={"profile_id", "role", "content", "created_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX messages_profile ON messages(profile_id, id)")


def _migrate_3(db: sqlite_utils.Database) -> None:
    """Link-graph exports, so they are listed, re-opened and never bought twice by mistake."""
    db["exports"].create(
        {
            "id": int,
            "profile_id": int,
            "org": str,
            "project": str,
            "analysis": str,
            "depth": int,
            "edges": int,
            "urls": int,
            "links_path": str,
            "meta_path": str,
            "summary": str,
            "created_at": str,
        },
        pk="id",
        not_null={"profile_id", "org", "project", "analysis", "depth", "links_path", "created_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX exports_analysis ON exports(org, project, analysis)")


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Conversations: chat messages are grouped, so past ones can be browsed and deleted."""
    db["conversations"].create(
        {"id": int, "profile_id": int, "title": str, "created_at": str, "updated_at": str},
        pk="id",
        not_null={"profile_id", "title", "created_at", "updated_at"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db["messages"].add_column("conversation_id", int)
    now = utc_now()
    for (profile_id,) in db.execute("SELECT DISTINCT profile_id FROM messages").fetchall():
        cursor = db.execute(
            "INSERT INTO conversations (profile_id, title, created_at, updated_at) "
            "VALUES (?, 'Earlier messages', ?, ?)",
            [profile_id, now, now],
        )
        db.execute(
            "UPDATE messages SET conversation_id = ? WHERE profile_id = ?",
            [cursor.lastrowid, profile_id],
        )
    db.execute("CREATE INDEX messages_conversation ON messages(conversation_id, id)")


def _migrate_5(db: sqlite_utils.Database) -> None:
    """Audit log of the assistant's actions: what ran (or was rejected), where, and the result."""
    db["audit"].create(
        {
            "id": int,
            "profile_id": int,
            "created_at": str,
            "action": str,
            "arguments": str,
            "approved": int,
            "result": str,
            "ok": int,
        },
        pk="id",
        not_null={"profile_id", "created_at", "action", "arguments", "approved", "result", "ok"},
        foreign_keys=[("profile_id", "profiles", "id")],
    )
    db.execute("CREATE INDEX audit_profile ON audit(profile_id, id)")


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Chunks of the document memory; the FAISS index under the data folder holds their vectors.

    AUTOINCREMENT so an id is never reused: the index keys vectors by chunk id, and a reused id
    could pair a stale vector with new text after a crash. No foreign key on the profile: the
    memory drops the chunks of a deleted profile itself (with their vectors) when it next opens.
    """
    db.execute(
        "CREATE TABLE chunks ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "profile_id INTEGER NOT NULL, "
        "kind TEXT NOT NULL, "  # document, chat or export
        "source TEXT NOT NULL, "  # absolute path, or chat:<conversation id>, export:<path>
        "title TEXT NOT NULL, "
        "position INTEGER NOT NULL, "
        "text TEXT NOT NULL, "
        "content_hash TEXT NOT NULL, "  # of the text the vector was made from
        "file_hash TEXT, "  # of the whole file, to skip unchanged files
        "created_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX chunks_source ON chunks(profile_id, kind, source, position)")
    db.execute("CREATE INDEX chunks_source_only ON chunks(profile_id, source)")


def _migrate_7(db: sqlite_utils.Database) -> None:
    """What each export file was when written (size, rows, fingerprint), to notice later changes.

    A JSON object per export: `{"links": {"path", "size", "rows", "fingerprint"}, "meta": …}`;
    NULL for exports recorded before, which are then only checked to exist.
    """
    db.execute("ALTER TABLE exports ADD COLUMN files TEXT")


CHUNKS_FTS_SQL = (
    # External content: the text lives once, in chunks; the triggers keep the index in step
    # with every insert, update and delete, whoever makes it.
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, "
    "profile_id UNINDEXED, content='chunks', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, title, text, profile_id) "
    "VALUES (new.id, new.title, new.text, new.profile_id); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, title, text, profile_id) "
    "VALUES ('delete', old.id, old.title, old.text, old.profile_id); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_update AFTER UPDATE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, title, text, profile_id) "
    "VALUES ('delete', old.id, old.title, old.text, old.profile_id); "
    "INSERT INTO chunks_fts(rowid, title, text, profile_id) "
    "VALUES (new.id, new.title, new.text, new.profile_id); END",
)


def create_chunks_fts(conn: sqlite3.Connection) -> bool:
    """The keyword index (SQLite FTS5) over the memory's chunks; False if SQLite lacks FTS5.

    Idempotent: creating it again is a no-op, and a new index is filled from the chunks.
    """
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks_fts'"
    ).fetchone()
    try:
        for statement in CHUNKS_FTS_SQL:
            conn.execute(statement)
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower():  # a SQLite built without FTS5: vector search only
            return False
        raise
    if not exists:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    return True


def _migrate_8(db: sqlite_utils.Database) -> None:
    """Keyword search over the memory's chunks (FTS5), fused with the vector search."""
    create_chunks_fts(db.conn)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _migrate_5,
    _migrate_6,
    _migrate_7,
    _migrate_8,
]
SCHEMA_VERSION = len(MIGRATIONS)


# Primary SQLite result codes that describe the file or the disk, not a bug in a statement.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26
_CONDITIONS = {
    _SQLITE_BUSY,
    _SQLITE_LOCKED,
    _SQLITE_READONLY,
    _SQLITE_IOERR,
    _SQLITE_CORRUPT,
    _SQLITE_FULL,
    _SQLITE_CANTOPEN,
    _SQLITE_NOTADB,
}


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_file_condition(exc: BaseException) -> bool:
    """A SQLite error about the file or the disk (full, locked, read-only, corrupt, I/O)."""
    return isinstance(exc, sqlite3.DatabaseError) and _primary_code(exc) in _CONDITIONS


def database_error(path: Path, exc: sqlite3.DatabaseError, *, waited: float = 0.0) -> StoreError:
    """A clear, user-facing error for a database SQLite refuses to use or to write."""
    text = str(exc)
    code = _primary_code(exc)
    if is_disk_full(exc, path):
        return DiskFull(
            disk_full_message(
                path,
                "Free some space there (or move the data folder with --data-dir); "
                "the database was left as it was and nothing was saved.",
            )
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or any(
        word in text for word in ("not a database", "malformed", "encrypted")
    ):
        return DatabaseUnusable(
            f"The file {path} is not a Botifython database (or it is corrupt): {text}. "
            "It was left untouched; move it away or point --data-dir elsewhere."
        )
    if code == _SQLITE_READONLY or "readonly" in text or "unable to open" in text:
        return DatabaseUnusable(
            f"The database {path} is not writable: {text}. Check the data folder's "
            "permissions or choose another with --data-dir."
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        held = f" for {waited:.0f} s" if waited >= 1 else ""
        return DatabaseUnusable(
            f"The database {path} is locked by another program{held}. Close the other program "
            "(or Botifython instance) holding it, then try again."
        )
    if code == _SQLITE_IOERR:
        return DatabaseUnusable(
            f"The disk holding the database {path} reported an I/O error ({text}). "
            "Check the disk, or choose another data folder with --data-dir."
        )
    return DatabaseUnusable(f"Cannot use the database {path}: {text}.")


def _set_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch to WAL. On a new database, another instance switching at the same moment makes this
    fail with "database is locked" at once (SQLite does not call the busy handler here): retry."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


class Store:
    """The app's database. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 15.0,
        schema_version: int = SCHEMA_VERSION,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._busy_timeout = busy_timeout
        self.conn = self._connect(busy_timeout)
        try:
            self._migrate(schema_version)
            if schema_version >= 1:
                self._ensure_a_profile()
        except BaseException as exc:
            # Page 1 can be readable while the rest is corrupt: say so, and close the connection
            # so SQLite removes its -wal and -shm files.
            self.conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise database_error(self.path, exc, waited=busy_timeout) from exc
            raise
        self.kv = KeyValue(self)
        self.profiles = Profiles(self)

    # --- connection ---------------------------------------------------------------------
    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        path = self.path
        try:
            if not path.exists():
                # Create the file ourselves so it is 0600 from the first byte; SQLite gives the
                # -wal and -shm files the same permissions.
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except OSError as exc:
            if is_disk_full(exc, path):
                raise DiskFull(
                    disk_full_message(path, "Free some space there, or use --data-dir elsewhere.")
                ) from exc
            raise DatabaseUnusable(
                f"Cannot create or open the database {path}: {exc.strerror or exc}. "
                "Check the data folder's permissions or choose another with --data-dir."
            ) from exc
        except sqlite3.Error as exc:
            raise DatabaseUnusable(f"Cannot open the database {path}: {exc}.") from exc
        try:
            # Read before any write, so a file that is not a database is left untouched.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = _set_wal(conn, busy_timeout)
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal mode stays {mode!r}")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process in WAL
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise database_error(path, exc, waited=busy_timeout) from exc
        return conn

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, for schema work (loaded on first use)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn, execute_plugins=False)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def _file_errors(self) -> Iterator[None]:
        """A full disk, a lock held too long, a read-only or damaged file: one clear StoreError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_file_condition(exc):
                raise
            raise database_error(self.path, exc, waited=self._busy_timeout) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; writers from other processes wait on the busy timeout.

        Any failure, including a COMMIT refused because the disk is full, rolls the whole
        transaction back, so the file keeps its last committed state and the connection stays
        usable."""
        with self._lock, self._file_errors():
            conn = self.conn
            if conn.in_transaction:  # nested: a savepoint inside the open transaction
                name = f"nested_{threading.get_ident()}_{id(conn)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        with suppress(sqlite3.Error):
                            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                            conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                else:
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Any = ()) -> list[tuple]:
        with self._lock, self._file_errors():
            return self.conn.execute(sql, params).fetchall()

    def ensure_chunks_fts(self) -> bool:
        """The chunks' keyword index exists (migration 8 makes it; this covers a database that
        has not run it yet). False if this SQLite has no FTS5."""
        with self._lock:
            if (
                self.conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('chunks_fts', "
                    "'chunks_fts_insert', 'chunks_fts_delete', 'chunks_fts_update')"
                ).fetchone()[0]
                == 4
            ):
                return True
        with self.write() as conn:
            return create_chunks_fts(conn)

    def data_version(self) -> int:
        """Changes when another connection (another instance) commits; cheap to poll."""
        with self._lock, self._file_errors():
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, target: int) -> None:
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise DatabaseUnusable(
                f"The database {self.path} was written by a newer Botifython (schema {current}, "
                f"this version knows {SCHEMA_VERSION}). Upgrade Botifython to open it."
            )
        if current >= target:
            return
        with self.write():
            current = self.schema_version  # another instance may have migrated meanwhile
            for version in range(current + 1, target + 1):
                MIGRATIONS[version - 1](self.db)
                self.conn.execute(f"PRAGMA user_version = {version}")

    def _ensure_a_profile(self) -> None:
        with self.write() as db:
            if db.execute("SELECT count(*) FROM profiles").fetchone()[0] == 0:
                db.execute(
                    "INSERT INTO profiles (name, created_at) VALUES (?, ?)",
                    [DEFAULT_PROFILE_NAME, utc_now()],
                )

    # --- scoped views -------------------------------------------------------------------
    def todos(self, profile_id: int) -> ProfileTodos:
        """The only way to reach todos: a view that sees one profile's todos and nothing else."""
        return ProfileTodos(self, profile_id)

    def messages(self, profile_id: int) -> ProfileMessages:
        return ProfileMessages(self, profile_id)

    def conversations(self, profile_id: int) -> ProfileConversations:
        return ProfileConversations(self, profile_id)

    def exports(self, profile_id: int) -> ProfileExports:
        return ProfileExports(self, profile_id)

    def audit(self, profile_id: int) -> ProfileAudit:
        return ProfileAudit(self, profile_id)

    def exported_analyses(self) -> set[tuple[str, str, str]]:
        """(org, project, analysis) exported by any profile: exports cost the account credits."""
        rows = self.query("SELECT DISTINCT org, project, analysis FROM exports")
        return {(org, project, analysis) for org, project, analysis in rows}


class KeyValue:
    """Dict-like persistent settings with the semantics of the original `DictLikeDB`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Any:
        rows = self._store.query("SELECT value FROM kv WHERE key = ?", [key])
        if not rows:
            raise KeyError(key)
        return json.loads(rows[0][0])

    def __setitem__(self, key: str, value: Any) -> None:
        encoded = json.dumps(value)
        with self._store.write() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, encoded],
            )

    def __delitem__(self, key: str) -> None:
        with self._store.write() as db:
            if db.execute("DELETE FROM kv WHERE key = ?", [key]).rowcount == 0:
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return bool(self._store.query("SELECT 1 FROM kv WHERE key = ?", [key]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return int(self._store.query("SELECT count(*) FROM kv")[0][0])

    def keys(self) -> list[str]:
        return [row[0] for row in self._store.query("SELECT key FROM kv ORDER BY key")]

    def values(self) -> list[Any]:
        return [value for _, value in self.items()]

    def items(self) -> list[tuple[str, Any]]:
        rows = self._store.query("SELECT key, value FROM kv ORDER BY key")
        return [(key, json.loads(value)) for key, value in rows]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        with self._store.write():
            try:
                value = self[key]
            except KeyError:
                if default is _MISSING:
                    raise
                return default
            del self[key]
            return value


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

    def __init__(self, store: Store) -> None:
        self._store = store

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
            was_current = self._store.kv.get(CURRENT_PROFILE_KEY) == profile_id
            if was_current:
                first = db.execute("SELECT id FROM profiles ORDER BY id LIMIT 1").fetchone()[0]
                self._store.kv[CURRENT_PROFILE_KEY] = first
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
            profile_id = _insert_keeping_id(
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
                    ids[values["id"]] = _insert_keeping_id(
                        db, table, tuple(values), tuple(values.values())
                    )
        return self.get(profile_id)

    def current(self) -> Profile:
        """The profile in use; falls back to the first one if the remembered one is gone."""
        remembered = self._store.kv.get(CURRENT_PROFILE_KEY)
        if isinstance(remembered, int):
            try:
                return self.get(remembered)
            except NotFound:
                pass
        return self.list()[0]

    def use(self, profile_id: int) -> Profile:
        profile = self.get(profile_id)
        self._store.kv[CURRENT_PROFILE_KEY] = profile.id
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


_PROFILE_OWNED_TABLES = ("todos", "conversations", "messages", "exports", "audit")


@dataclass(frozen=True)
class DeletedProfile:
    """A deleted profile and the rows it owned (per table: column names, rows), for undo."""

    profile: Profile
    owned: dict[str, tuple[tuple[str, ...], list[tuple]]]
    was_current: bool

    def count(self, table: str) -> int:
        return len(self.owned.get(table, ((), []))[1])


def _insert_keeping_id(
    db: sqlite3.Connection, table: str, columns: tuple[str, ...], values: tuple
) -> int:
    """Insert a row again under its old id if that is still free, else under a new one."""
    row = dict(zip(columns, values, strict=True))
    if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [row["id"]]).fetchone():
        del row["id"]
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
    return int(cursor.lastrowid)


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

    def __init__(self, store: Store, profile_id: int) -> None:
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
            todo_id = _insert_keeping_id(
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


@dataclass(frozen=True)
class Conversation:
    id: int
    profile_id: int
    title: str
    created_at: str
    updated_at: str
    message_count: int = 0


MAX_CONVERSATION_TITLE = 60


class ProfileConversations:
    """One profile's chat conversations: each a titled list of messages."""

    def __init__(self, store: Store, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def list(self) -> list[Conversation]:
        rows = self._store.query(
            "SELECT c.id, c.profile_id, c.title, c.created_at, c.updated_at, count(m.id) "
            "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
            "WHERE c.profile_id = ? GROUP BY c.id ORDER BY c.updated_at DESC, c.id DESC",
            [self.profile_id],
        )
        return [Conversation(*row) for row in rows]

    def get(self, conversation_id: int) -> Conversation:
        rows = self._store.query(
            "SELECT c.id, c.profile_id, c.title, c.created_at, c.updated_at, "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
            "FROM conversations c WHERE c.id = ? AND c.profile_id = ?",
            [conversation_id, self.profile_id],
        )
        if not rows:
            raise NotFound(f"There is no conversation {conversation_id} in this profile.")
        return Conversation(*rows[0])

    def create(self, title: str = "New conversation") -> Conversation:
        now = utc_now()
        with self._store.write() as db:
            cursor = db.execute(
                "INSERT INTO conversations (profile_id, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?)",
                [self.profile_id, _conversation_title(title), now, now],
            )
            conversation_id = cursor.lastrowid
        return self.get(conversation_id)

    def latest(self) -> Conversation:
        """The most recently used conversation, created if there is none."""
        conversations = self.list()
        return conversations[0] if conversations else self.create()

    def rename(self, conversation_id: int, title: str) -> Conversation:
        with self._store.write() as db:
            self.get(conversation_id)
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND profile_id = ?",
                [_conversation_title(title), conversation_id, self.profile_id],
            )
        return self.get(conversation_id)

    def delete(self, conversation_id: int) -> None:
        with self._store.write() as db:
            self.get(conversation_id)
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND profile_id = ?",
                [conversation_id, self.profile_id],
            )
            db.execute(
                "DELETE FROM conversations WHERE id = ? AND profile_id = ?",
                [conversation_id, self.profile_id],
            )

    def messages(self, conversation_id: int, limit: int | None = None) -> list[Message]:
        self.get(conversation_id)
        rows = self._store.query(
            "SELECT id, profile_id, role, content, created_at FROM messages "
            "WHERE conversation_id = ? AND profile_id = ? ORDER BY id DESC LIMIT ?",
            [conversation_id, self.profile_id, -1 if limit is None else limit],
        )
        return [Message(*row) for row in reversed(rows)]

    def add_message(self, conversation_id: int, role: str, content: str) -> Message:
        now = utc_now()
        with self._store.write() as db:
            conversation = self.get(conversation_id)
            cursor = db.execute(
                "INSERT INTO messages (profile_id, conversation_id, role, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [self.profile_id, conversation_id, role, content, now],
            )
            message_id = cursor.lastrowid
            title = conversation.title
            if role == "user" and title == "New conversation":
                title = _conversation_title(content)  # named after its first question
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                [now, title, conversation_id],
            )
        return Message(message_id, self.profile_id, role, content, now)

    def update_message(self, message_id: int, content: str) -> None:
        """Replace a message's text (a streamed reply saved as it grows, or marked stopped)."""
        with self._store.write() as db:
            db.execute(
                "UPDATE messages SET content = ? WHERE id = ? AND profile_id = ?",
                [content, message_id, self.profile_id],
            )

    def search(self, text: str, limit: int = 50) -> list[tuple[Conversation, Message]]:
        """Messages containing `text` (case-insensitive), newest first, with their conversation."""
        needle = text.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._store.query(
            "SELECT m.conversation_id, m.id, m.profile_id, m.role, m.content, m.created_at "
            "FROM messages m WHERE m.profile_id = ? AND m.content LIKE ? ESCAPE '\\' "
            "ORDER BY m.id DESC LIMIT ?",
            [self.profile_id, pattern, limit],
        )
        results = []
        for conversation_id, *message in rows:
            if conversation_id is None:
                continue
            results.append((self.get(conversation_id), Message(*message)))
        return results


def _conversation_title(text: str) -> str:
    title = " ".join(str(text).split())
    if len(title) > MAX_CONVERSATION_TITLE:
        title = title[: MAX_CONVERSATION_TITLE - 1].rstrip() + "…"
    return title or "New conversation"


class ProfileMessages:
    """One profile's chat messages, oldest first (in its latest conversation when adding)."""

    def __init__(self, store: Store, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def add(self, role: str, content: str) -> Message:
        conversations = self._store.conversations(self.profile_id)
        return conversations.add_message(conversations.latest().id, role, content)

    def list(self, limit: int | None = None) -> list[Message]:
        rows = self._store.query(
            "SELECT id, profile_id, role, content, created_at FROM messages "
            "WHERE profile_id = ? ORDER BY id DESC LIMIT ?",
            [self.profile_id, -1 if limit is None else limit],
        )
        return [Message(*row) for row in reversed(rows)]


@dataclass(frozen=True)
class ExportRecord:
    id: int
    profile_id: int
    org: str
    project: str
    analysis: str
    depth: int
    edges: int
    urls: int
    links_path: str
    meta_path: str | None
    summary: dict[str, Any]
    created_at: str
    # per kind ("links", "meta"): {"path", "size", "rows", "fingerprint"} when written; {} for
    # exports recorded before these were kept
    files: dict[str, Any] = field(default_factory=dict)


_EXPORT_COLUMNS = (
    "id, profile_id, org, project, analysis, depth, edges, urls, links_path, meta_path, "
    "summary, created_at, files"
)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _export(row: tuple) -> ExportRecord:
    values = list(row)
    values[10] = _json_object(values[10])
    values[12] = _json_object(values[12])
    values[6] = values[6] or 0
    values[7] = values[7] or 0
    return ExportRecord(*values)


class ProfileExports:
    """One profile's link-graph exports, newest first."""

    def __init__(self, store: Store, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def add(
        self,
        *,
        org: str,
        project: str,
        analysis: str,
        depth: int,
        edges: int,
        urls: int,
        links_path: str,
        meta_path: str | None,
        summary: dict[str, Any],
        files: dict[str, Any] | None = None,
    ) -> ExportRecord:
        with self._store.write() as db:
            cursor = db.execute(
                f"INSERT INTO exports ({_EXPORT_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.profile_id,
                    org,
                    project,
                    analysis,
                    depth,
                    edges,
                    urls,
                    links_path,
                    meta_path,
                    json.dumps(summary),
                    utc_now(),
                    json.dumps(files) if files else None,
                ],
            )
            export_id = cursor.lastrowid
        return self.get(export_id)

    def get(self, export_id: int) -> ExportRecord:
        rows = self._store.query(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE id = ? AND profile_id = ?",
            [export_id, self.profile_id],
        )
        if not rows:
            raise NotFound(f"There is no export {export_id} in this profile.")
        return _export(rows[0])

    def list(self) -> list[ExportRecord]:
        rows = self._store.query(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE profile_id = ? ORDER BY id DESC",
            [self.profile_id],
        )
        return [_export(row) for row in rows]

    def delete(self, export_id: int) -> None:
        with self._store.write() as db:
            self.get(export_id)
            db.execute(
                "DELETE FROM exports WHERE id = ? AND profile_id = ?", [export_id, self.profile_id]
            )


MAX_AUDIT_RESULT = 4000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    profile_id: int
    created_at: str
    action: str
    arguments: dict[str, Any]
    approved: bool
    result: str
    ok: bool


def _audit_entry(row: tuple) -> AuditEntry:
    id_, profile_id, created_at, action, arguments, approved, result, ok = row
    try:
        decoded = json.loads(arguments)
    except ValueError:
        decoded = {"_raw": arguments}
    return AuditEntry(
        id_,
        profile_id,
        created_at,
        action,
        decoded if isinstance(decoded, dict) else {"_raw": decoded},
        bool(approved),
        result,
        bool(ok),
    )


class ProfileAudit:
    """One profile's log of assistant actions, newest first."""

    def __init__(self, store: Store, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def add(
        self, action: str, arguments: dict[str, Any], *, approved: bool, result: str, ok: bool
    ) -> AuditEntry:
        encoded = json.dumps(arguments, ensure_ascii=False, default=str)
        result = str(result)
        if len(result) > MAX_AUDIT_RESULT:
            result = result[: MAX_AUDIT_RESULT - 1] + "…"
        with self._store.write() as db:
            cursor = db.execute(
                "INSERT INTO audit (profile_id, created_at, action, arguments, approved, result, ok) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [self.profile_id, utc_now(), str(action), encoded, int(approved), result, int(ok)],
            )
            entry_id = cursor.lastrowid
        rows = self._store.query(
            "SELECT id, profile_id, created_at, action, arguments, approved, result, ok "
            "FROM audit WHERE id = ?",
            [entry_id],
        )
        return _audit_entry(rows[0])

    def list(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._store.query(
            "SELECT id, profile_id, created_at, action, arguments, approved, result, ok "
            "FROM audit WHERE profile_id = ? ORDER BY id DESC LIMIT ?",
            [self.profile_id, limit],
        )
        return [_audit_entry(row) for row in rows]

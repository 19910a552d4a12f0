"""The app's SQLite connection: opening the file safely, WAL, write transactions, queries, migration.

Two running instances (two tmux panes) may share one database: it runs in WAL mode with a busy
timeout, and every write is a `BEGIN IMMEDIATE` transaction, so writers queue instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.paths import disk_full_message, is_disk_full
from botifython_tui.core.store.errors import (
    DatabaseUnusable,
    DiskFull,
    database_error,
    is_file_condition,
)
from botifython_tui.core.store.migrations import MIGRATIONS, SCHEMA_VERSION
from botifython_tui.core.store.migrations.m008_chunks_fts import create_chunks_fts

if TYPE_CHECKING:  # sqlite-utils does the schema work; it is imported only when that is needed
    import sqlite_utils


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


class Connection:
    """One SQLite connection, migrated to the schema. Thread-safe: guarded by a lock."""

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
        with self._closed_on_failure():
            self._migrate(schema_version)

    @contextmanager
    def _closed_on_failure(self) -> Iterator[None]:
        """While opening: any failure closes the connection, a SQLite one as a clear StoreError."""
        try:
            yield
        except BaseException as exc:
            # Page 1 can be readable while the rest is corrupt: say so, and close the connection
            # so SQLite removes its -wal and -shm files.
            self.conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise database_error(self.path, exc, waited=self._busy_timeout) from exc
            raise

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


def insert_keeping_id(
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

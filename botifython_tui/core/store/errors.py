"""The store's errors, and the mapping of SQLite's file and disk failures to one clear message."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from botifython_tui.core.paths import disk_full_message, is_disk_full


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

"""The per-user data folder: finding an earlier version's ./data and moving it there, losing nothing.

Earlier versions kept the database, token, memory and log in ./data of whatever folder the app
started in. Now they live in one folder per user; an old ./data is found and the user is told how to
move it (`botifython migrate-data`), never moved silently.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from botifython_tui.config import DB_FILENAME, Settings

LEGACY_DIRNAME = "data"
_NOT_OURS = (".gitkeep",)


class MigrationError(Exception):
    """The old data could not be moved; `str()` says why and what to do."""


class TargetHasData(MigrationError):
    """The data folder already holds a database someone used: moving needs confirmation."""


def earlier_data(settings: Settings, cwd: Path | None = None) -> Path | None:
    """An earlier version's ./data (with a database) that the default data folder would ignore."""
    if settings.data_dir_origin != "default":
        return None  # the user chose a folder: nothing to second-guess
    legacy = (cwd or Path.cwd()) / LEGACY_DIRNAME
    try:
        if not (legacy / DB_FILENAME).is_file():
            return None
        if legacy.resolve() == settings.data_dir.resolve():
            return None
    except OSError:
        return None
    return legacy


def earlier_data_hint(legacy: Path, settings: Settings) -> str:
    return (
        f"Found data from an earlier version in {legacy} (todos, profiles, token); this version "
        f"keeps its data in {settings.data_dir}. Move it there with: botifython migrate-data — "
        f"or keep using it with: botifython --data-dir {legacy}"
    )


@dataclass
class MigrationResult:
    moved: list[str] = field(default_factory=list)
    set_aside: Path | None = None  # where entries already in the target were put


def conflicts(source: Path, target: Path) -> list[str]:
    """Entries of `source` that `target` already holds."""
    if not target.is_dir():
        return []
    return sorted(
        e.name for e in source.iterdir() if e.name not in _NOT_OURS and (target / e.name).exists()
    )


def holds_user_data(target: Path) -> bool:
    """Whether the target's database has anything a person made (a fresh one has one profile)."""
    db_path = target / DB_FILENAME
    if not db_path.exists():
        return False
    try:
        connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return True  # unreadable: assume it matters
    try:
        counts = {}
        for table in ("profiles", "todos", "exports", "messages", "audit"):
            try:
                counts[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError:
                counts[table] = 0
        return counts["profiles"] > 1 or any(counts[t] for t in counts if t != "profiles")
    except sqlite3.Error:
        return True
    finally:
        connection.close()


def _quiesce(db_path: Path) -> None:
    """Fold the write-ahead log into the database, and make sure no running app holds it."""
    try:
        connection = sqlite3.connect(db_path, timeout=1.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise MigrationError(f"Cannot open {db_path}: {exc}.") from exc
    try:
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Leaving WAL mode needs the only connection: it fails while any app has the database
        # open, even idle. (The app turns WAL back on when it opens the moved database.)
        mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise sqlite3.OperationalError("database is locked")
    except sqlite3.OperationalError as exc:
        raise MigrationError(
            f"{db_path} is in use ({exc}). Close every running Botifython and try again."
        ) from exc
    finally:
        connection.close()


def migrate(source: Path, target: Path, *, replace: bool = False) -> MigrationResult:
    """Move every entry of `source` into `target`.

    Entries the target already has are moved aside first into `target/replaced-<time>/`; when the
    target's database holds anything a person made, only with `replace` (else MigrationError). Each entry is moved whole (rename, or copy then delete
    across file systems), so at every moment each file is in one of the two places.
    """
    if not (source / DB_FILENAME).is_file():
        raise MigrationError(f"There is no Botifython database in {source}; nothing to move.")
    if source.resolve() == target.resolve():
        raise MigrationError(f"{source} already is the data folder.")
    clashes = conflicts(source, target)
    if clashes and not replace and holds_user_data(target):
        raise TargetHasData(
            f"{target} already holds a database with todos, profiles or exports. Nothing was moved."
        )
    _quiesce(source / DB_FILENAME)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    result = MigrationResult()
    if clashes:
        aside = target / time.strftime("replaced-%Y%m%d-%H%M%S")
        aside.mkdir(mode=0o700)
        for name in clashes:
            os.replace(target / name, aside / name)
        # SQLite's companions of a set-aside database must not pair with the moved-in one.
        for suffix in ("-wal", "-shm", "-journal"):
            companion = target / (DB_FILENAME + suffix)
            if companion.exists():
                os.replace(companion, aside / companion.name)
        result.set_aside = aside
    # The database goes last: while it is still in `source`, the move is unfinished and running
    # it again completes it (entries already moved are no longer in `source`, so never clash).
    entries = sorted(source.iterdir(), key=lambda e: (e.name.startswith(DB_FILENAME), e.name))
    for entry in entries:
        if entry.name in _NOT_OURS:
            continue
        shutil.move(str(entry), str(target / entry.name))
        result.moved.append(entry.name)
    return result

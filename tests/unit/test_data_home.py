"""Moving an earlier version's ./data into the per-user folder: nothing lost, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from botifython_tui.config import DB_FILENAME, Settings
from botifython_tui.core.data_home import (
    MigrationError,
    TargetHasData,
    earlier_data,
    migrate,
)
from botifython_tui.core.store import Store


def _old(folder: Path) -> Path:
    folder.mkdir(parents=True)
    store = Store(folder / DB_FILENAME)
    store.todos(1).add("old")
    store.close()
    (folder / "botify_token").write_text("tok-1234\n")
    (folder / "memory").mkdir()
    (folder / "memory" / "index.faiss").write_bytes(b"complete index")
    return folder


def _titles(db: Path) -> list[str]:
    store = Store(db)
    try:
        return [t.title for t in store.todos(1).list()]
    finally:
        store.close()


def test_found_only_for_the_default_folder(tmp_path: Path):
    _old(tmp_path / "data")
    default = Settings.resolve(env={"XDG_DATA_HOME": str(tmp_path / "x")}, cwd=tmp_path)
    assert earlier_data(default, tmp_path) == tmp_path / "data"
    chosen = Settings.resolve(data_dir=tmp_path / "mine", env={}, cwd=tmp_path)
    assert earlier_data(chosen, tmp_path) is None
    same = Settings.resolve(data_dir=tmp_path / "data", env={}, cwd=tmp_path)
    assert earlier_data(same, tmp_path) is None


def test_an_interrupted_move_is_finished_by_running_it_again(tmp_path: Path):
    source = _old(tmp_path / "data")
    target = tmp_path / "home"
    target.mkdir()
    # As if interrupted: the token already moved, the memory folder half copied.
    (source / "botify_token").rename(target / "botify_token")
    (target / "memory").mkdir()
    (target / "memory" / "index.faiss").write_bytes(b"half")
    result = migrate(source, target)
    assert (target / "botify_token").read_text() == "tok-1234\n"  # kept, not set aside
    assert (target / "memory" / "index.faiss").read_bytes() == b"complete index"
    assert result.set_aside is not None
    assert (result.set_aside / "memory" / "index.faiss").read_bytes() == b"half"
    assert _titles(target / DB_FILENAME) == ["old"]
    assert not (source / DB_FILENAME).exists()


def test_a_used_target_needs_replace_and_is_set_aside(tmp_path: Path):
    source = _old(tmp_path / "data")
    target = tmp_path / "home"
    target.mkdir()
    store = Store(target / DB_FILENAME)
    store.todos(1).add("new")
    store.close()
    with pytest.raises(TargetHasData):
        migrate(source, target)
    assert (source / DB_FILENAME).exists() and _titles(target / DB_FILENAME) == ["new"]
    result = migrate(source, target, replace=True)
    assert _titles(target / DB_FILENAME) == ["old"]
    assert result.set_aside is not None and _titles(result.set_aside / DB_FILENAME) == ["new"]


def test_a_database_in_use_is_not_moved(tmp_path: Path):
    source = _old(tmp_path / "data")
    store = Store(source / DB_FILENAME)
    try:
        with store.write() as db:  # a write transaction held open, as by a running app
            db.execute("INSERT INTO kv (key, value) VALUES ('x', '1')")
            with pytest.raises(MigrationError, match="in use"):
                migrate(source, tmp_path / "home")
    finally:
        store.close()
    assert (source / DB_FILENAME).exists()


def test_a_database_open_in_a_running_app_is_not_moved(tmp_path: Path):
    source = _old(tmp_path / "data")
    store = Store(source / DB_FILENAME)  # open and idle, as in an app left running in tmux
    try:
        store.todos(1).list()
        with pytest.raises(MigrationError, match="Close every running Botifython"):
            migrate(source, tmp_path / "home")
    finally:
        store.close()
    assert (source / DB_FILENAME).exists() and not (tmp_path / "home" / DB_FILENAME).exists()
    migrate(source, tmp_path / "home")  # closed: now it moves
    assert _titles(tmp_path / "home" / DB_FILENAME) == ["old"]

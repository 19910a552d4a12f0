"""Safe folders, named full disks, database conditions, and the settings values a person sets."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botifython_tui.config import DEFAULT_BOTIFY_API_URL, InvalidSetting, Settings
from botifython_tui.core.botify import normalize_base_url
from botifython_tui.core.ollama import normalize_host
from botifython_tui.core.paths import (
    PathProblem,
    describe_os_error,
    disk_full_message,
    ensure_private_dir,
    free_bytes,
    is_disk_full,
    may_write_dir,
    remove_permissions,
)
from botifython_tui.core.store import DatabaseUnusable, DiskFull, Store, database_error

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# --- folders -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0, 0o022, 0o077])
def test_new_folders_and_their_missing_parents_are_0700(tmp_path: Path, mask: int):
    target = tmp_path / "a" / "b" / "c"
    with umask(mask):
        assert ensure_private_dir(target, what="data", fix="choose another") is True
    for folder in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(folder) == 0o700, folder
    assert ensure_private_dir(target, what="data", fix="choose another") is False  # idempotent


def test_an_existing_read_only_folder_is_refused_untouched(tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert not may_write_dir(folder)  # for root too: its bits say "read-only"
        with pytest.raises(PathProblem) as caught:
            ensure_private_dir(folder, what="data", fix="choose another with --data-dir")
        message = str(caught.value)
        assert str(folder) in message and "0555" in message and "--data-dir" in message
        assert mode(folder) == 0o555
        # a folder that only exports write to can be let through; still never changed
        assert (
            ensure_private_dir(folder, what="downloads", fix="x", require_writable=False) is False
        )
        assert mode(folder) == 0o555
    finally:
        folder.chmod(0o700)


def test_a_file_in_the_way_is_refused(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("keep")
    with pytest.raises(PathProblem, match="not a folder"):
        ensure_private_dir(blocker, what="data", fix="choose another")
    with pytest.raises(PathProblem, match="Cannot use the data folder .*Not a directory"):
        ensure_private_dir(blocker / "below", what="data", fix="choose another")
    assert blocker.read_text() == "keep"


def test_permissions_are_only_ever_removed(tmp_path: Path):
    folder = tmp_path / "f"
    folder.mkdir()
    for before, after in ((0o755, 0o700), (0o555, 0o500), (0o700, 0o700), (0o500, 0o500)):
        folder.chmod(before)
        remove_permissions(folder, 0o700)
        assert mode(folder) == after, oct(before)
    folder.chmod(0o700)


def test_a_writable_folder_is_writable(tmp_path: Path):
    assert may_write_dir(tmp_path)
    assert not may_write_dir(tmp_path / "missing")
    (tmp_path / "file").touch()
    assert not may_write_dir(tmp_path / "file")


# --- full disks ----------------------------------------------------------------------------------


def test_free_space_is_measured_on_the_nearest_existing_folder(tmp_path: Path):
    free = free_bytes(tmp_path / "not" / "yet" / "made.db")
    assert free is not None and free > 0
    assert "MB free" in disk_full_message(tmp_path / "x.db", "Free some space.")


def test_what_counts_as_a_full_disk(tmp_path: Path):
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"), tmp_path)
    # "disk I/O error" is a full disk only when the disk is (nearly) full: this one is not
    assert not is_disk_full(sqlite3.OperationalError("disk I/O error"), tmp_path)
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"), tmp_path)


def test_os_errors_are_described_with_the_place_and_the_fix(tmp_path: Path):
    denied = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))
    message = describe_os_error(denied, "log file", tmp_path, "Make it writable.")
    assert (
        message
        == f"The log file {tmp_path / 'x'} is not writable (Permission denied). Make it writable."
    )
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "y"))
    assert describe_os_error(full, "file", tmp_path, "Free some.").startswith(
        f"The disk holding {tmp_path / 'y'} is full ("
    )


# --- database conditions -------------------------------------------------------------------------


def test_a_database_locked_too_long_is_one_clear_message(tmp_path: Path):
    path = tmp_path / "botifython.db"
    store = Store(path, busy_timeout=0.3)
    profile = store.profiles.current().id
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseUnusable) as caught:
            store.todos(profile).add("waits, then gives up")
        assert "locked by another program" in str(caught.value) and str(path) in str(caught.value)
        assert not store.conn.in_transaction  # rolled back: the connection stays usable
        with pytest.raises(DatabaseUnusable, match="locked by another program"):
            Store(path, busy_timeout=0.3)  # opening needs a write too: the same message
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.todos(profile).add("works once the lock is gone")
    assert [t.title for t in store.todos(profile).list()] == ["works once the lock is gone"]
    store.close()


def test_sqlite_conditions_map_to_messages(tmp_path: Path):
    path = tmp_path / "botifython.db"

    def error(text: str, code: int) -> sqlite3.DatabaseError:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # as sqlite3 sets it
        return exc

    assert isinstance(database_error(path, error("database or disk is full", 13)), DiskFull)
    assert "not writable" in str(
        database_error(path, error("attempt to write a readonly database", 8))
    )
    assert "corrupt" in str(database_error(path, error("database disk image is malformed", 11)))
    assert "locked" in str(database_error(path, error("database is locked", 5), waited=15))
    assert "I/O error" in str(database_error(path, error("disk I/O error", 10)))


def test_a_failed_commit_rolls_back_and_the_store_stays_usable(tmp_path: Path):
    """A COMMIT refused (here by a deferred foreign key) must not leave a transaction open."""
    store = Store(tmp_path / "botifython.db")
    profile = store.profiles.current().id
    with pytest.raises(sqlite3.IntegrityError), store.write() as db:
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute(
            "INSERT INTO todos (profile_id, title, done, position) VALUES (999, 'orphan', 0, 1)"
        )
    assert not store.conn.in_transaction
    store.todos(profile).add("next write works")
    assert [t.title for t in store.todos(profile).list()] == ["next write works"]
    store.close()


def test_store_writes_from_threads_still_queue(tmp_path: Path):
    store = Store(tmp_path / "botifython.db")
    profile = store.profiles.current().id
    threads = [
        threading.Thread(target=lambda i=i: store.todos(profile).add(f"t{i}")) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.todos(profile).list()) == 8
    store.close()


# --- addresses -----------------------------------------------------------------------------------

ADDRESS_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "http://[::1",
            "http://h:99999",
            "http://h:0",
            "https://user:pw@api.botify.com",
            "https://api.botify.com?x=1",
            "http://a b",
            "$(id)",
            "ftp://x",
            "localhost:11434",
            ":11434",
            "0.0.0.0",
            "http://127.0.0.1:8765/",
            "https://api.botify.com/v1/",
            "[::1]:11434",
        ]
    ),
    st.builds(lambda a, b: f"http://{a}:{b}", st.text(max_size=10), st.text(max_size=6)),
)


@settings(max_examples=300, deadline=None)
@given(value=ADDRESS_TEXT)
def test_any_botify_url_is_refused_by_name_or_usable(value: str):
    try:
        settings_ = Settings.resolve(env={"BOTIFY_API_URL": value}, cwd=Path("/tmp"))
    except InvalidSetting as exc:
        assert "BOTIFY_API_URL" in str(exc) and DEFAULT_BOTIFY_API_URL in str(exc)
        return
    url = settings_.botify_api_url
    base = normalize_base_url(url)  # the client's own reading accepts it
    assert httpx.URL(base).host  # and httpx can connect to something


@settings(max_examples=300, deadline=None)
@given(value=ADDRESS_TEXT)
def test_any_ollama_host_is_refused_by_name_or_usable(value: str):
    try:
        settings_ = Settings.resolve(env={"OLLAMA_HOST": value}, cwd=Path("/tmp"))
    except InvalidSetting as exc:
        assert "OLLAMA_HOST" in str(exc) and "HOST:PORT" in str(exc)
        return
    if settings_.ollama_host is None:
        return  # empty: the app's setting or the default applies
    url = normalize_host(settings_.ollama_host)
    assert httpx.URL(url).host


def test_the_flag_is_named_when_it_is_the_flag_that_is_wrong():
    with pytest.raises(InvalidSetting, match="--ollama-host"):
        Settings.resolve(ollama_host="$(id)", env={}, cwd=Path("/tmp"))
    with pytest.raises(InvalidSetting, match="--data-dir"):
        Settings.resolve(data_dir="bad\udcff", env={}, cwd=Path("/tmp"))
    with pytest.raises(InvalidSetting, match="BOTIFYTHON_DOWNLOADS_DIR"):
        Settings.resolve(env={"BOTIFYTHON_DOWNLOADS_DIR": "x\udcfe"}, cwd=Path("/tmp"))


@pytest.mark.skipif(not IS_ROOT, reason="only root can see a 0555 folder as writable")
def test_root_still_writes_a_folder_with_some_write_bit(tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o575)  # the owner may not write, the group may: not "read-only for everyone"
    try:
        assert may_write_dir(folder)
    finally:
        folder.chmod(0o700)

"""Full disks and read-only folders, for real: a 2 MB tmpfs that really fills up, and folders whose
permission bits the kernel really enforces.

Root bypasses permission bits, so each read-only case is checked twice where it can be: as the
current user (the app itself refuses a folder whose bits let nobody write, even for root), and
under `setpriv` with the capabilities that bypass permissions dropped (the kernel refuses).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from botifython_tui.config import DB_FILENAME, LOG_FILENAME
from botifython_tui.core.store import Store
from tests.cli.inprocess import ERROR_PREFIX, closed_port, run_main

DROP_PRIVILEGES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def botifython(
    *args: str,
    cwd: Path,
    prefix: list[str] | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    env.update(OLLAMA_HOST=f"127.0.0.1:{port}", BOTIFY_API_URL=f"http://127.0.0.1:{port}")
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "botifython_tui", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,  # noqa: PLW1509
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `botifython: error:` line, which must end stderr; no traceback anywhere."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(lines) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == lines[0], result.stderr
    return lines[0]


def todo_titles(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [row[0] for row in conn.execute("SELECT title FROM todos ORDER BY id")]
    finally:
        conn.close()


# --- a small disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs; skipped (saying why) only where mounting one is impossible."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip(
            "a small tmpfs is mounted to fill a disk for real: that needs root and mount(8)"
        )
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(disk: Path) -> Callable[[], None]:
    """Fill the disk to the last byte; returns a function that frees the space again."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        block = b"\0" * 65536
        try:
            while True:
                handle.write(block)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            with contextlib.suppress(OSError):  # flushing the last block fails too
                handle.close()
    for size in (4096, 512, 1):  # the last partial blocks
        try:
            with open(filler, "ab") as handle:
                while True:
                    handle.write(b"\0" * size)
                    handle.flush()
        except OSError:
            pass
    assert shutil.disk_usage(disk).free < 8192
    return lambda: filler.unlink()


def seed(db: Path, *titles: str) -> None:
    store = Store(db)
    try:
        for title in titles:
            store.todos(store.profiles.current().id).add(title)
    finally:
        store.close()


COMMANDS = [
    ("todo", "list"),
    ("todo", "add", "one more"),
    ("todo", "done", "1"),
    ("todo", "delete", "2"),
    ("profile", "list"),
    ("profile", "add", "Work"),
    ("docs", "list"),
    ("token", "status", "--offline"),
    ("chat", "hello"),
    (),  # no command: the terminal UI's start
]


def test_a_full_disk_is_named_by_every_command_and_the_database_stays_intact(small_disk: Path):
    data = small_disk / "data"
    db = data / DB_FILENAME
    assert (
        run_main(
            ["--data-dir", str(data), "--downloads-dir", str(small_disk / "dl"), "todo", "list"]
        ).code
        == 0
    )
    seed(db, "first", "second", "third")
    free = fill(small_disk)

    for command in COMMANDS:
        result = botifython("--data-dir", str(data), *command, cwd=small_disk.parent)
        assert result.returncode == 1, (command, result.stderr)
        line = error_line(result)
        assert f"The disk holding {db} is full (" in line, (command, line)
        assert "MB free)" in line and "Free some space" in line, line

    free()
    assert todo_titles(db) == ["first", "second", "third"]  # nothing changed, nothing damaged
    result = botifython(
        "--data-dir", str(data), "todo", "add", "after freeing space", cwd=small_disk.parent
    )
    assert result.returncode == 0, result.stderr
    assert todo_titles(db)[-1] == "after freeing space"


def test_a_disk_filling_up_mid_write_rolls_back_and_is_named(small_disk: Path):
    """Writes succeed until the disk is full; the one that does not fit is refused whole."""
    data = small_disk / "data"
    db = data / DB_FILENAME
    base = ["--data-dir", str(data), "--downloads-dir", str(small_disk / "dl")]
    assert run_main([*base, "todo", "add", "seed"]).code == 0
    free = fill(small_disk)
    free()
    # leave about 160 kB: room for some todos, not for all
    with open(small_disk / "filler2", "wb") as handle:
        handle.write(b"\0" * (shutil.disk_usage(small_disk).free - 160_000))

    added = []
    for i in range(400):
        title = f"{i:04d} " + os.urandom(740).hex()[:1990]  # incompressible, near the title limit
        outcome = run_main([*base, "todo", "add", title])
        if outcome.code != 0:
            break
        added.append(title)
    else:
        pytest.fail("the disk never filled up")
    assert outcome.code == 1, outcome.err
    line = outcome.err.strip().splitlines()[-1]
    assert line.startswith(ERROR_PREFIX) and f"The disk holding {db} is full" in line, outcome.err
    assert "Traceback" not in outcome.err
    assert added, "some todos should have fitted"

    (small_disk / "filler2").unlink()
    assert todo_titles(db) == ["seed", *added]  # every reported success is there, nothing more


# --- read-only folders ---------------------------------------------------------------------------


def test_a_read_only_data_folder_is_refused_and_never_chmod_ed(tmp_path: Path):
    """What the app decides itself: a 0555 folder is read-only, even for root."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        result = botifython("--data-dir", str(data), "todo", "add", "x", cwd=tmp_path)
        assert result.returncode == 1
        line = error_line(result)
        assert str(data) in line and "not writable" in line and "0555" in line
        assert "--data-dir" in line and "chmod u+w" in line
        assert mode(data) == 0o555  # not "fixed" to 0700 behind the user's back
        assert os.listdir(data) == []  # and nothing written into it
    finally:
        data.chmod(0o700)


@pytest.fixture
def unprivileged(tmp_path: Path) -> list[str]:
    """A command prefix under which the kernel enforces permission bits even for root."""
    if not shutil.which("setpriv"):
        pytest.skip(
            "setpriv(1) is not installed: cannot drop the capabilities that bypass permissions"
        )
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o500)
    try:
        attempt = subprocess.run(
            [*DROP_PRIVILEGES, sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"],
            capture_output=True,
            text=True,
        )
    finally:
        probe.chmod(0o700)
        shutil.rmtree(probe)
    if attempt.returncode == 0 or "PermissionError" not in attempt.stderr:
        pytest.skip(f"setpriv cannot make permissions apply here: {attempt.stderr.strip()[-200:]}")
    return DROP_PRIVILEGES


def test_read_only_data_folder_when_the_kernel_enforces_it(tmp_path: Path, unprivileged: list[str]):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        result = botifython(
            "--data-dir", str(data), "todo", "list", cwd=tmp_path, prefix=unprivileged
        )
        assert result.returncode == 1
        line = error_line(result)
        assert str(data) in line and "not writable" in line
        assert mode(data) == 0o555 and os.listdir(data) == []
    finally:
        data.chmod(0o700)


def test_read_only_database_and_log_when_the_kernel_enforces_it(
    tmp_path: Path, unprivileged: list[str]
):
    data = tmp_path / "data"
    assert botifython("--data-dir", str(data), "todo", "add", "kept", cwd=tmp_path).returncode == 0
    db, log = data / DB_FILENAME, data / LOG_FILENAME
    for extra in data.glob(DB_FILENAME + "-*"):
        extra.unlink()  # closed cleanly: no -wal/-shm needed

    log.chmod(0o400)
    result = botifython("--data-dir", str(data), "todo", "list", cwd=tmp_path, prefix=unprivileged)
    assert result.returncode == 1
    line = error_line(result)
    assert str(log) in line and "not writable" in line and "--data-dir" in line
    assert mode(log) == 0o400
    log.chmod(0o600)

    db.chmod(0o400)
    before = db.read_bytes()
    result = botifython(
        "--data-dir", str(data), "todo", "add", "x", cwd=tmp_path, prefix=unprivileged
    )
    assert result.returncode == 1
    line = error_line(result)
    assert str(db) in line and "not writable" in line
    assert mode(db) == 0o400 and db.read_bytes() == before
    db.chmod(0o600)
    assert todo_titles(db) == ["kept"]


def test_read_only_downloads_and_memory_folders_are_left_alone(tmp_path: Path):
    data, downloads = tmp_path / "data", tmp_path / "downloads"
    (data / "memory").mkdir(parents=True, mode=0o700)
    downloads.mkdir()
    docs = tmp_path / "notes.txt"
    docs.write_text("a note about crawl budget\n")
    for folder in (downloads, data / "memory"):
        folder.chmod(0o555)
    try:
        args = ["--data-dir", str(data), "--downloads-dir", str(downloads)]
        # The todo list needs neither folder: it works, and neither is touched.
        assert botifython(*args, "todo", "add", "still works", cwd=tmp_path).returncode == 0
        result = botifython(*args, "docs", "add", str(docs), cwd=tmp_path)
        assert result.returncode == 1
        line = error_line(result)
        assert str(data / "memory") in line and "not writable" in line
        assert mode(downloads) == 0o555 and mode(data / "memory") == 0o555
        assert os.listdir(data / "memory") == [] and os.listdir(downloads) == []
    finally:
        for folder in (downloads, data / "memory"):
            folder.chmod(0o700)


def test_new_folders_are_0700_and_new_files_0600_whatever_the_umask(tmp_path: Path):
    data, downloads = tmp_path / "a" / "b" / "data", tmp_path / "c" / "downloads"
    result = botifython(
        "--data-dir", str(data), "--downloads-dir", str(downloads), "todo", "add", "x",
        cwd=tmp_path, umask=0,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for folder in (tmp_path / "a", tmp_path / "a" / "b", data, tmp_path / "c", downloads):
        assert mode(folder) == 0o700, folder
    for file in data.iterdir():
        assert mode(file) == 0o600, file


def test_a_data_folder_is_only_ever_tightened(tmp_path: Path):
    own, shared = tmp_path / "own", tmp_path / "shared"
    own.mkdir()
    (own / ".gitkeep").touch()
    own.chmod(0o755)  # a fresh checkout's data folder: made private
    shared.mkdir()
    (shared / "someone-else.txt").touch()
    shared.chmod(0o755)  # holds other files: not ours to change
    for folder in (own, shared):
        assert botifython("--data-dir", str(folder), "todo", "list", cwd=tmp_path).returncode == 0
    assert mode(own) == 0o700
    assert mode(shared) == 0o755

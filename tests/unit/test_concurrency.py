"""Several processes on one database: no lost writes, no errors, nothing lost to a SIGKILL.

Each worker is a real separate process (`sys.executable` running a helper script), with its own
Store on the same file, as two Botifython instances in two terminal panes would be.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from botifython_tui.config import DB_FILENAME
from botifython_tui.core.store import SCHEMA_VERSION, Store

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from botifython_tui.core.store import Store

    mode, db, go, count, tag = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

    def wait_for_go():
        deadline = time.monotonic() + 30
        while not go.exists():
            if time.monotonic() > deadline:
                sys.exit("no go signal")
            time.sleep(0.001)

    if mode == "add":
        # Open first, then add together with the other worker once the parent says go.
        store = Store(db)
        todos = store.todos(store.profiles.find("Shared").id)
        print("ready", flush=True)
        wait_for_go()
        for i in range(count):
            todos.add(f"{tag}-{i}")
        store.close()
        print("done", flush=True)
    elif mode == "open":
        # Everyone opens databases that do not exist yet, at the same moment (db is a folder):
        # database k at the wall-clock time the parent wrote in the go file, plus k * 60 ms.
        print("ready", flush=True)
        wait_for_go()
        time.sleep(0.01)
        start_at = float(go.read_text())
        for k in range(count):
            target = start_at + k * 0.06
            while target - time.time() > 0.002:
                time.sleep(target - time.time() - 0.002)
            while time.time() < target:  # spin the last 2 ms for a tight start
                pass
            store = Store(Path(db) / f"fresh{k}.db")
            store.todos(store.profiles.current().id).add(tag)
            store.close()
        print("done", flush=True)
    elif mode == "forever":
        # Add todos until killed; print each id only once its transaction has committed.
        store = Store(db)
        todos = store.todos(store.profiles.current().id)
        i = 0
        while True:
            todo = todos.add(f"{tag}-{i}")
            store.kv[f"{tag}-last"] = todo.id
            print(todo.id, flush=True)
            i += 1
    """
)


@pytest.fixture
def worker(tmp_path: Path) -> Path:
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def start(worker: Path, *args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    return subprocess.Popen(
        [sys.executable, str(worker), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def wait_ready(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"worker did not start: {line!r} {err}")


def finish(procs: list[subprocess.Popen[str]], timeout: float = 60) -> list[str]:
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("a worker hung")
        assert proc.returncode == 0, f"worker failed (exit {proc.returncode}):\n{err}"
        assert "Traceback" not in err, err
        outputs.append(out)
    return outputs


def test_two_processes_adding_500_todos_each_end_with_exactly_1000(tmp_path: Path, worker: Path):
    db = tmp_path / DB_FILENAME
    setup = Store(db)
    shared = setup.profiles.create("Shared")
    bystander = setup.profiles.create("Bystander")
    setup.todos(bystander.id).add("untouched")
    setup.close()

    go = tmp_path / "go"
    procs = [start(worker, "add", str(db), str(go), "500", tag, cwd=tmp_path) for tag in "AB"]
    wait_ready(procs)  # both have their own open Store before either writes
    go.touch()
    finish(procs)

    store = Store(db)
    todos = store.todos(shared.id).list()
    assert len(todos) == 1000
    assert {t.title for t in todos} == {f"{tag}-{i}" for tag in "AB" for i in range(500)}
    assert len({t.id for t in todos}) == 1000
    assert len({t.position for t in todos}) == 1000, "two todos got the same position"
    # each worker's own todos stay in the order it added them
    for tag in "AB":
        mine = [int(t.title.split("-")[1]) for t in todos if t.title.startswith(tag)]
        assert mine == list(range(500))
    assert store.todos(shared.id).counts() == (1000, 0)
    assert [t.title for t in store.todos(bystander.id).list()] == ["untouched"]
    assert store.query("PRAGMA integrity_check")[0][0] == "ok"
    store.close()


def test_processes_creating_the_same_new_database_at_once_agree(tmp_path: Path, worker: Path):
    """Two instances started together on a first run: neither fails, one Default profile."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    go = tmp_path / "go"
    tags = [f"w{i}" for i in range(4)]
    databases = 12  # each a separate race on creating, switching to WAL and migrating
    procs = [
        start(worker, "open", str(folder), str(go), str(databases), tag, cwd=tmp_path)
        for tag in tags
    ]
    wait_ready(procs)
    go.write_text(str(time.time() + 0.1))
    finish(procs)

    for k in range(databases):
        store = Store(folder / f"fresh{k}.db")
        assert store.schema_version == SCHEMA_VERSION
        assert [p.name for p in store.profiles.list()] == ["Default"], "two default profiles"
        todos = store.todos(store.profiles.current().id).list()
        assert sorted(t.title for t in todos) == tags
        store.close()


def _kill_after(proc: subprocess.Popen[str], commits: int) -> list[int]:
    ids: list[int] = []
    deadline = time.monotonic() + 30
    while len(ids) < commits:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"writer stopped after {len(ids)} commits: {err}")
        ids.append(int(line))
        assert time.monotonic() < deadline, "writer too slow"
    os.kill(proc.pid, signal.SIGKILL)
    # ids already printed before the kill landed were committed too
    rest, _ = proc.communicate(timeout=10)
    ids.extend(int(line) for line in rest.split())
    assert proc.returncode == -signal.SIGKILL
    return ids


def test_killing_the_process_during_writes_loses_no_committed_todo(tmp_path: Path, worker: Path):
    db = tmp_path / DB_FILENAME
    Store(db).close()
    go = tmp_path / "unused"
    rounds: list[list[int]] = []
    for round_ in range(3):  # each round also recovers the WAL the previous kill left behind
        proc = start(worker, "forever", str(db), str(go), "0", f"r{round_}", cwd=tmp_path)
        rounds.append(_kill_after(proc, 200))
    committed = [todo_id for ids in rounds for todo_id in ids]

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    store = Store(db)
    assert store.query("PRAGMA integrity_check")[0][0] == "ok"
    present = {t.id for t in store.todos(store.profiles.current().id).list()}
    missing = [i for i in committed if i not in present]
    assert not missing, f"{len(missing)} committed todos lost, e.g. {missing[:5]}"
    assert len(committed) == len(set(committed)) >= 600
    # the key-value write made before each id was printed is durable too
    for round_, ids in enumerate(rounds):
        assert store.kv[f"r{round_}-last"] >= max(ids)
    # the store is fully usable after the kills
    store.todos(store.profiles.current().id).add("after the crash")
    store.close()

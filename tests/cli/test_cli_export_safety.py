"""`botifython linkgraph` never spends credits by surprise and never loses a good file.

The real CLI as a subprocess against the fake Botify: the credit question and --dry-run, the
folder checks made before any job, signals during a download, partial files left by a dead
process, and two depths of one analysis side by side.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli_botify import (
    ORG,
    PROJECT,
    Running,
    Workspace,
    checked,
    cli_env,
    latest_graph,
    new_fake,
    run,
    wait_for,
)
from tests.fakes.botify_server import FakeBotify, SyntheticGraph


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    fake = new_fake()
    yield fake
    fake.stop()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    ws.save_token()
    return ws


def error_line(stderr: str) -> str:
    """The one error line, last on standard error (progress and messages come before it)."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("botifython: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


def job_posts(fake: FakeBotify) -> list:
    return fake.find_requests("/v1/jobs", "POST")


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at `where` (needs root and mount); the test is skipped otherwise."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# --- credits before paying ---------------------------------------------------------------------


def test_dry_run_shows_depth_counts_and_credits_and_creates_no_job(ws, fake):
    result = run(ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}", "--dry-run")
    assert result.returncode == 0, result.stderr
    graph = latest_graph()
    depth = graph.max_depth
    edges, urls = graph.edge_count(depth), graph.url_count(depth + 1)
    out = result.stdout
    assert f"depth    {depth}" in out
    assert f"links    {edges:,}" in out and f"URLs     {urls:,}" in out
    assert f"about {round(edges * 0.1 + urls):,} Botify credits" in out
    assert "no job was created" in out
    assert job_posts(fake) == []
    assert ws.files() == [] and ws.exports() == []


def test_dry_run_counts_urls_one_level_deeper_than_the_links(ws, fake):
    graph = latest_graph()
    budget = graph.edge_count(1)  # depth 1 fits, depth 2 does not
    result = run(
        ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}", "--dry-run", "--max-edges",
        str(budget),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "depth    1" in result.stdout
    assert f"URLs     {graph.url_count(2):,} (node attributes to depth 2)" in result.stdout
    assert job_posts(fake) == []


def test_without_a_terminal_and_without_yes_nothing_is_bought(ws, fake):
    result = run(ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}")
    assert result.returncode == 3
    line = error_line(result.stderr)
    assert line.startswith("botifython: error: ") and "--yes" in line and "credits" in line
    assert job_posts(fake) == []
    assert ws.files() == [] and ws.exports() == []


def ask_on_a_terminal(ws: Workspace, fake: FakeBotify, answer: bytes) -> tuple[int, str]:
    """Run the export with a terminal on standard input; answer the question when it comes."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        ws.argv("linkgraph", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.01"),
        cwd=ws.root,
        env=cli_env(fake.base_url) | {"TERM": "dumb"},
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    output = b""
    answered = False
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
            if not answered and b"[y/N]" in output:
                assert job_posts(fake) == []  # asked before any job
                os.write(main, answer)
                answered = True
        elif proc.poll() is not None:
            break
    os.close(main)
    code = proc.wait(timeout=20)
    assert answered, output.decode("utf-8", "replace")
    return code, output.decode("utf-8", "replace")


def test_a_terminal_is_asked_and_no_means_no(ws, fake):
    code, text = ask_on_a_terminal(ws, fake, b"n\r")
    assert code == 1 and "Not confirmed" in text
    assert "credits" in text
    assert job_posts(fake) == [] and ws.exports() == []


def test_a_terminal_is_asked_and_yes_exports(ws, fake):
    code, text = ask_on_a_terminal(ws, fake, b"y\r")
    assert code == 0, text
    assert len(job_posts(fake)) == 2 and len(ws.exports()) == 1


# --- depths side by side; a same-depth export asks ----------------------------------------------


def test_two_depths_keep_both_sets_of_files(ws, fake):
    graph = latest_graph()
    shallow = run(
        ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--max-edges",
        str(graph.edge_count(2)), "--poll-interval", "0",
    )  # fmt: skip
    assert shallow.returncode == 0, shallow.stderr
    before = {name: (ws.downloads / name).read_bytes() for name in ws.files()}
    assert sorted(before) == sorted(
        [
            f"{ORG}_{PROJECT}_20241108-2_linkgraph_depth-2.csv",
            f"{ORG}_{PROJECT}_20241108-2_depth-2_meta.csv",
        ]
    )
    # A deeper export is not a re-export of the same files: asked only for credits.
    deep = run(
        ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0"
    )
    assert deep.returncode == 0, deep.stderr
    assert "already exported at depth" not in deep.stdout
    for name, content in before.items():
        assert (ws.downloads / name).read_bytes() == content  # untouched
    assert len(ws.files()) == 4
    depths = sorted(record.depth for record in ws.exports())
    assert depths == [2, 3]
    for record in ws.exports():
        assert Path(record.meta_path).name.endswith(f"_depth-{record.depth}_meta.csv")
        assert set(record.files) == {"links", "meta"}
        assert record.files["links"]["size"] == Path(record.links_path).stat().st_size

    # The same depth again replaces files: without --yes it is refused with exit code 3.
    again = run(
        ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}", "--max-edges",
        str(graph.edge_count(2)),
    )  # fmt: skip
    assert again.returncode == 3
    assert "already exported at depth 2" in again.stderr
    assert f"{ORG}_{PROJECT}_20241108-2_linkgraph_depth-2.csv" in again.stderr
    assert len(job_posts(fake)) == 4


# --- check before paying -----------------------------------------------------------------------


def test_a_read_only_downloads_folder_fails_before_any_job(ws, fake):
    with tmpfs(ws.downloads, "4m", read_only=True):
        result = run(ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}")
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(ws.downloads) in line and "read-only" in line
    assert "Free some space" not in line
    assert job_posts(fake) == []
    assert ws.exports() == []


def test_a_full_downloads_folder_fails_before_any_job(ws, fake):
    with tmpfs(ws.downloads, "2m") as folder:
        filler = folder / "big.bin"
        with contextlib.suppress(OSError), open(filler, "wb") as handle:
            handle.write(b"\0" * (2 * 1024 * 1024))  # fill it up
        result = run(ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}")
        assert filler.exists()
        leftovers = sorted(p.name for p in folder.iterdir())
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(ws.downloads) in line
    assert "full" in line or "Not enough free space" in line
    assert job_posts(fake) == []
    assert leftovers == ["big.bin"]
    assert ws.exports() == []


def test_a_downloads_path_that_is_a_file_fails_before_any_job(ws, fake):
    ws.root.mkdir(parents=True, exist_ok=True)
    ws.downloads.write_text("not a folder")
    result = run(ws, fake, "linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}")
    assert result.returncode in (1, 2)
    assert str(ws.downloads) in result.stderr
    assert job_posts(fake) == []


# --- signals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_the_download_leaves_no_partial_file(ws, signum, code):
    big = SyntheticGraph.for_edge_count(60_000)
    fake = new_fake(download_rate=50_000, polls_before_done=0)
    fake.add_project(ORG, "big.example.com", analyses=["20241108-2"], graph=big)
    try:
        # an earlier good export of another analysis must survive
        ws.downloads.mkdir(parents=True)
        keep = ws.downloads / "acme-org_big.example.com_20200101_linkgraph_depth-2.csv"
        keep.write_text("source,target\na,b\n")
        proc = Running(
            ws,
            fake.base_url,
            ("linkgraph", "--yes", "--project", f"{ORG}/big.example.com", "--poll-interval", "0"),
            None,
        )
        wait_for(lambda: any(n.startswith(".") for n in ws.files()), what="a partial file")
        sent = time.monotonic()
        proc.proc.send_signal(signum)
        result = checked(proc.result(timeout=20))
        took = time.monotonic() - sent
    finally:
        fake.stop()
    assert result.returncode == code, result.stderr
    assert took < 5
    assert ws.files() == [keep.name]
    assert "partial files removed" in result.stderr
    assert ws.exports() == []


def test_partial_files_of_a_dead_process_are_removed_at_the_next_start(ws, fake):
    ws.downloads.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = ws.downloads / f".acme-org_example.com_x_linkgraph_depth-3.csv.part-{dead.pid}-1f"
    stale.write_bytes(b"x" * 1000)
    live = ws.downloads / f".acme-org_example.com_y_linkgraph_depth-3.csv.part-{os.getpid()}-2f"
    live.write_bytes(b"y")
    result = run(ws, fake, "linkgraph", "--project", f"{ORG}/{PROJECT}", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()  # fresh, but its process is gone
    assert live.exists()  # this test process still runs


def test_a_disk_that_fills_up_during_the_export_keeps_the_earlier_files(ws, fake):
    """The folder had room when checked; it is full by the time the file comes."""
    fake.polls_before_done = 10_000
    with tmpfs(ws.downloads, "24m") as folder:
        earlier = folder / f"{ORG}_{PROJECT}_20241108-2_linkgraph_depth-3.csv"
        earlier.write_text("source,target\nhttps://example.com/,https://example.com/a\n")
        proc = Running(
            ws,
            fake.base_url,
            ("linkgraph", "--yes", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.02"),
            None,
        )
        wait_for(lambda: fake.jobs, what="the links job")
        with contextlib.suppress(OSError), open(folder / "filler.bin", "wb") as handle:
            while True:
                handle.write(b"\0" * (1 << 20))
        fake.polls_before_done = 0  # now the job is done and its file downloads
        result = checked(proc.result(timeout=40))
        left = sorted(p.name for p in folder.iterdir())
        content = earlier.read_text()
    assert result.returncode == 1, result.stdout
    line = error_line(result.stderr)
    assert "No space left" in line and "free some space" in line
    assert "left as they were" in line
    assert left == sorted([earlier.name, "filler.bin"])  # no partial file
    assert content.startswith("source,target\nhttps://example.com/,")
    assert ws.exports() == []


def test_ctrl_c_at_the_question_stops_before_any_job(ws, fake):
    """The question waits on the terminal; an interrupt there leaves at once (exit 130)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        ws.argv("linkgraph", "--project", f"{ORG}/{PROJECT}", "--poll-interval", "0.01"),
        cwd=ws.root,
        env=cli_env(fake.base_url) | {"TERM": "dumb"},
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    output = b""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and b"[y/N]" not in output:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            output += os.read(main, 65536)
    assert b"[y/N]" in output, output.decode("utf-8", "replace")
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=20)
    finally:
        proc.kill()
        os.close(main)
    assert code == 130
    assert job_posts(fake) == [] and ws.exports() == [] and ws.files() == []

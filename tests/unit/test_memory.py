"""The document memory with the hashing embedder (no model needed): ingest, skip, update, remove,
profiles, crash repair, corrupt index, atomic saves, grounding helpers, and the UI-thread guard."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("faiss")
pytest.importorskip("numpy")

from botifython_tui.core.memory import (  # noqa: E402
    FileDone,
    HashingEmbedder,
    Memory,
    MemoryStorageError,
    Notice,
    ScanFinished,
)
from botifython_tui.core.memory import index as index_module  # noqa: E402
from botifython_tui.core.memory import index_store as index_store_module  # noqa: E402
from botifython_tui.core.memory.grounding import (  # noqa: E402
    build_context,
    cited_sources,
    format_sources,
    inventory_answer,
    is_inventory_question,
)
from botifython_tui.core.memory.index import MAGIC, VectorIndex  # noqa: E402
from botifython_tui.core.memory.records import Hit  # noqa: E402

FIXTURES = Path(__file__).parents[1] / "fixtures" / "docs"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(FIXTURES, folder)
    return folder


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def memory(store, settings, embedder) -> Memory:
    return Memory(store, settings.data_dir, embedder)


def reopen(store, settings, embedder=None) -> Memory:
    """A new instance on the same files, as after a restart."""
    return Memory(store, settings.data_dir, embedder or HashingEmbedder())


def embedded_texts(embedder: HashingEmbedder) -> int:
    return sum(n for _, n in embedder.calls)


def test_ingest_a_folder_and_find_the_right_chunk(memory, docs, embedder):
    events = []
    report = memory.add_paths([docs], 1, events.append)
    assert len(report.added) == 19
    assert report.skipped == []
    assert report.chunks_embedded == memory.chunk_count(1) > 19
    assert isinstance(events[0], ScanFinished) and events[0].files == 19
    done = [e for e in events if isinstance(e, FileDone)]
    assert [e.index for e in done] == list(range(1, 20))
    assert {e.outcome for e in done} == {"added"}

    hits = memory.search("robots.txt disallow blocks crawling not indexing", 1, k=3)
    assert hits[0].source == str(docs / "guides" / "robots-txt.md")
    assert "blocks crawling, not indexing" in hits[0].text
    assert hits[0].title == "Robots.txt › Disallow is not noindex"
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert -1.0 <= hits[-1].score <= hits[0].score <= 1.0001

    listed = {d.source: d for d in memory.documents(1)}
    assert str(docs / "guides" / "canonical-tags.md") in listed
    assert listed[str(docs / "guides" / "canonical-tags.md")].title == "Canonical tags"
    assert listed[str(docs / "guides" / "hreflang.html")].title == (
        "Hreflang for international sites"
    )
    assert memory.index_path(1).exists()


def test_re_adding_unchanged_files_does_no_work(memory, docs, embedder):
    memory.add_paths([docs], 1)
    calls = embedded_texts(embedder)
    saved = memory.index_path(1).stat().st_mtime_ns
    report = memory.add_paths([docs], 1)
    assert len(report.unchanged) == 19
    assert not report.added and not report.updated and not report.removed
    assert embedded_texts(embedder) == calls
    assert memory.index_path(1).stat().st_mtime_ns == saved  # not even rewritten


def test_editing_a_file_replaces_its_chunks_and_reuses_unchanged_ones(memory, docs, embedder):
    memory.add_paths([docs], 1)
    path = docs / "guides" / "redirects.md"
    before = memory.chunk_count(1)
    path.write_text(
        path.read_text().replace(
            "Googlebot follows at most ten hops",
            "Googlebot follows at most ten hops (zebra marker)",
        )
    )
    calls = embedded_texts(embedder)
    report = memory.add_paths([docs], 1)
    assert report.updated == [str(path)]
    assert len(report.unchanged) == 18
    assert report.chunks_embedded == 1  # only the edited chunk
    assert report.chunks_reused >= 2
    assert embedded_texts(embedder) - calls == 1
    assert memory.chunk_count(1) == before
    hit = memory.search("zebra marker redirect hops", 1, k=1)[0]
    assert "zebra marker" in hit.text
    texts = [
        t for (t,) in memory.store.query("SELECT text FROM chunks WHERE source = ?", [str(path)])
    ]
    assert sum("ten hops" in t for t in texts) == 1  # the old version is gone


def test_deleted_files_are_dropped_when_their_folder_or_path_is_added_again(memory, docs):
    memory.add_paths([docs], 1)
    gone = docs / "guides" / "javascript-seo.md"
    gone.unlink()
    report = memory.add_paths([docs], 1)
    assert report.removed == [str(gone)]
    assert str(gone) not in {d.source for d in memory.documents(1)}
    assert all(h.source != str(gone) for h in memory.search("onclick lazy loading scroll", 1, 10))

    other = docs / "pagination.txt"
    other.unlink()
    report = memory.add_paths([other], 1)  # naming a path that no longer exists drops it
    assert report.removed == [str(other)]
    assert report.skipped == []


def test_remove_a_file_or_a_folder(memory, docs):
    memory.add_paths([docs], 1)
    assert memory.remove(docs / "pagination.txt", 1) == [str(docs / "pagination.txt")]
    removed = memory.remove(docs / "data", 1)
    assert len(removed) == 4
    assert all(r.startswith(str(docs / "data")) for r in removed)
    assert memory.remove(docs / "nothing-here", 1) == []
    sources = {d.source for d in memory.documents(1)}
    assert len(sources) == 14
    ids = set(memory.indexes.loaded[1].index.ids().tolist())
    table = {r[0] for r in memory.store.query("SELECT id FROM chunks WHERE profile_id = 1")}
    assert ids == table


def test_skipped_files_have_reasons(memory, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ok.md").write_text("# Fine\n\nSome text.")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / "blob.txt").write_bytes(b"\x00\x01" * 100)
    (folder / "empty.md").write_text("  \n")
    (folder / ".hidden.md").write_text("# secret")
    (folder / ".git").mkdir()
    (folder / ".git" / "config.md").write_text("# not walked")
    report = memory.add_paths([folder, tmp_path / "missing"], 1)
    assert report.added == [str(folder / "ok.md")]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert "not a supported type" in reasons["image.png"]
    assert "binary" in reasons["blob.txt"]
    assert "no text" in reasons["empty.md"]
    assert reasons["missing"] == "no such file or folder"
    assert ".hidden.md" not in reasons and "config.md" not in reasons


def test_profiles_are_isolated(memory, store, docs):
    second = store.profiles.create("Client B")
    memory.add_paths([docs / "guides" / "robots-txt.md"], 1)
    memory.add_paths([docs / "guides" / "hreflang.html"], second.id)
    assert [d.source for d in memory.documents(1)] == [str(docs / "guides" / "robots-txt.md")]
    assert [d.source for d in memory.documents(second.id)] == [
        str(docs / "guides" / "hreflang.html")
    ]
    assert {h.source for h in memory.search("hreflang return links", 1, 10)} == {
        str(docs / "guides" / "robots-txt.md")
    }
    assert {h.source for h in memory.search("robots disallow", second.id, 10)} == {
        str(docs / "guides" / "hreflang.html")
    }
    assert memory.remove(docs / "guides" / "hreflang.html", 1) == []  # not this profile's
    assert memory.index_path(1) != memory.index_path(second.id)
    third = store.profiles.create("Empty")
    assert memory.search("anything", third.id) == []


def test_a_deleted_profiles_memory_is_dropped(memory, store, settings, docs):
    second = store.profiles.create("Gone soon")
    memory.add_paths([docs / "pagination.txt"], second.id)
    assert memory.index_path(second.id).exists()
    store.profiles.delete(second.id)
    report = reopen(store, settings).reconcile()
    assert report.removed >= 1
    assert not memory.index_path(second.id).exists()
    assert store.query("SELECT count(*) FROM chunks WHERE profile_id = ?", [second.id])[0][0] == 0


class Crash(BaseException):
    """Stands in for the process dying."""


def test_crash_after_the_table_write_before_the_index_save_is_repaired(
    memory, store, settings, docs, monkeypatch
):
    memory.add_paths([docs / "guides"], 1)
    saved_ids = set(memory.indexes.loaded[1].index.ids().tolist())

    def crash(self, path):
        raise Crash

    monkeypatch.setattr(VectorIndex, "save", crash)
    with pytest.raises(Crash):
        memory.add_paths([docs / "data"], 1)  # rows committed; the index never reaches disk
    with pytest.raises(Crash):
        memory.remove(docs / "guides" / "robots-txt.md", 1)  # rows deleted; index not saved
    monkeypatch.undo()

    table = {r[0] for r in store.query("SELECT id FROM chunks WHERE profile_id = 1")}
    assert table - saved_ids  # chunks without vectors on disk
    assert saved_ids - table  # vectors on disk without chunks

    restarted = reopen(store, settings)
    report = restarted.reconcile()
    assert report.embedded == len(table - saved_ids)
    assert report.removed == len(saved_ids - table)
    assert set(restarted.indexes.loaded[1].index.ids().tolist()) == table
    # The crash came at the first save, after crawl-config.json (the first file) was committed.
    hit = restarted.search("crawl speed urls_per_second business hours", 1, 1)[0]
    assert hit.source.endswith("crawl-config.json")
    assert all(
        h.source.endswith("robots-txt.md") is False for h in restarted.search("robots", 1, 20)
    )
    # And it was saved: a second restart finds nothing to repair.
    assert not reopen(store, settings).reconcile().repaired


def test_reconcile_fixes_rows_and_vectors_out_of_step(memory, store, settings, docs):
    memory.add_paths([docs / "guides"], 1)
    with store.write() as db:
        db.execute(
            "INSERT INTO chunks (profile_id, kind, source, title, position, text, content_hash, "
            "created_at) VALUES (1, 'document', '/x.md', 'X', 0, 'okapi marker', 'h', 'now')"
        )
        db.execute("DELETE FROM chunks WHERE id = (SELECT min(id) FROM chunks)")
    report = reopen(store, settings).reconcile()
    assert (report.embedded, report.removed) == (1, 1)


def test_a_corrupt_index_file_gives_a_clear_message_and_is_rebuilt(memory, store, settings, docs):
    memory.add_paths([docs / "guides"], 1)
    path = memory.index_path(1)
    path.write_bytes(b"this is not an index at all")
    events = []
    restarted = reopen(store, settings)
    hits = restarted.search("hreflang x-default fallback", 1, 1)  # repairs on first use
    assert hits[0].source.endswith("hreflang.html")
    notices = restarted.notices
    assert len(notices) == 1
    assert "could not be read" in notices[0] and str(path) in notices[0]
    assert "rebuilt from the" in notices[0] and "nothing is lost" in notices[0]
    assert path.with_name(path.name + ".corrupt").exists()
    restarted.reconcile(progress=events.append)
    assert not [e for e in events if isinstance(e, Notice)]  # healthy again


def test_a_truncated_index_file_is_detected_by_its_checksum(memory, store, settings, docs):
    memory.add_paths([docs / "guides"], 1)
    path = memory.index_path(1)
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    path.write_bytes(data[: len(data) // 2])
    report = reopen(store, settings).reconcile(1)
    assert report.rebuilt == [1]
    assert "checksum" in report.messages[0]
    assert report.embedded == memory.chunk_count(1)


def test_a_missing_index_file_is_rebuilt(memory, store, settings, docs):
    memory.add_paths([docs / "guides"], 1)
    memory.index_path(1).unlink()
    report = reopen(store, settings).reconcile()
    assert report.rebuilt == [1] and report.embedded == memory.chunk_count(1)
    assert "missing" in report.messages[0]


def test_saves_are_atomic(memory, docs, monkeypatch):
    memory.add_paths([docs / "guides" / "redirects.md"], 1)
    path = memory.index_path(1)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_module.os, "replace", failing_replace)
    with pytest.raises(MemoryStorageError, match="is full"):
        memory.add_paths([docs / "guides" / "robots-txt.md"], 1)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old index is intact
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_model_change_re_embeds_everything(memory, store, settings, docs):
    memory.add_paths([docs / "guides"], 1)
    other = reopen(store, settings, HashingEmbedder(128))
    report = other.reconcile()
    assert report.rebuilt == [1]
    assert "changed from hashing:256 to hashing:128" in report.messages[0]
    assert other.search("canonical", 1, 1)[0].source.endswith("canonical-tags.md")


def test_reindex_re_embeds_documents_chats_and_exports(memory, docs, embedder):
    memory.add_paths([docs / "guides"], 1)
    memory.add_text("chat", "chat:7", "Robots question", "User: hi\n\nAssistant: hello", 1)
    count = memory.chunk_count(1)
    calls = embedded_texts(embedder)
    (docs / "guides" / "crawl-budget.md").unlink()
    report = memory.reindex(1)
    assert report.removed == [str(docs / "guides" / "crawl-budget.md")]
    assert len(report.updated) == 11
    removed_chunks = count - memory.chunk_count(1)
    assert embedded_texts(embedder) - calls == count - removed_chunks
    ids = set(memory.indexes.loaded[1].index.ids().tolist())
    assert ids == {r[0] for r in memory.store.query("SELECT id FROM chunks WHERE profile_id = 1")}


def test_chats_append_and_exports_replace(memory):
    memory.remember_exchange(1, 7, "Canonicals", "What is a canonical?", "A preferred URL hint.")
    memory.remember_exchange(1, 7, "Canonicals", "And noindex?", "It removes a page.")
    memory.remember_exchange(1, 7, "Canonicals", "And noindex?", "It removes a page.")  # same
    record = SimpleNamespace(
        profile_id=1,
        org="acme",
        project="shop",
        analysis="20240101",
        depth=5,
        edges=123456,
        urls=7890,
        links_path="/d/acme-shop-links.csv",
        meta_path=None,
        created_at="2024-01-02",
        summary={
            "top_hubs": [["https://shop/cat", 900], ["https://shop/", 500]],
            "depth_histogram": [[0, 1], [1, 40]],
            "without_inlinks": 12,
        },
    )
    memory.remember_export(record)
    memory.remember_export(record)
    docs = memory.documents(1)
    assert [(d.kind, d.source, d.chunks) for d in docs] == [
        ("chat", "chat:7", 2),
        ("export", "export:/d/acme-shop-links.csv", 1),
    ]
    text = memory.search("top hubs of the acme shop export", 1, 1, kinds=["export"])[0].text
    assert "acme/shop" in text and "123,456 internal links" in text
    assert "https://shop/cat (900)" in text and "URLs without inlinks: 12." in text
    chat = memory.search("what is a canonical", 1, 1, kinds=["chat"])[0]
    assert chat.title == "Canonicals" and chat.text.startswith("User: What is a canonical?")
    assert memory.remove("chat:7", 1) == ["chat:7"]


def test_cancelling_an_ingest_keeps_what_was_done(memory, docs):
    seen = []
    report = memory.add_paths([docs], 1, seen.append, should_stop=lambda: len(seen) > 4)
    assert report.cancelled
    assert 0 < len(report.added) < 19
    assert len(memory.documents(1)) == len(report.added)


async def test_nothing_embeds_on_the_event_loop_thread(memory, docs, embedder):
    with pytest.raises(RuntimeError, match="event loop thread"):
        memory.search("robots", 1)
    with pytest.raises(RuntimeError, match="event loop thread"):
        memory.add_paths([docs], 1)
    with pytest.raises(RuntimeError, match="event loop thread"):
        embedder.embed(["x"])
    await asyncio.to_thread(memory.add_paths, [docs / "guides"], 1)
    report = await memory.ensure_loaded(1)
    assert not report.repaired
    hits = await memory.asearch("robots disallow", 1)
    assert hits
    loop_thread = threading.get_ident()
    assert embedder.calls and all(thread != loop_thread for thread, _ in embedder.calls)


def test_two_instances_share_the_folder(store, settings, docs):
    first = reopen(store, settings)
    second = reopen(store, settings)
    first.add_paths([docs / "guides" / "robots-txt.md"], 1)
    assert second.search("robots", 1, 1)[0].source.endswith("robots-txt.md")
    second.add_paths([docs / "guides" / "hreflang.html"], 1)
    first.add_paths([docs / "pagination.txt"], 1)  # first must not overwrite second's vectors
    third = reopen(store, settings)
    assert not third.reconcile().repaired
    assert third.search("hreflang x-default", 1, 1)[0].source.endswith("hreflang.html")


def test_the_approximate_index_takes_over_past_the_threshold():
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    vectors = centres[rng.integers(0, 20, 3000)] + rng.normal(scale=0.3, size=(3000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("float32")
    index = VectorIndex(32, "test", approx_threshold=2000, background=False)
    index.add(np.arange(1000), vectors[:1000])
    assert not index.approximate
    index.add(np.arange(1000, 3000), vectors[1000:])
    assert index.approximate
    agree = 0
    for q in vectors[:50]:
        exact = [i for i, _ in index.search(q, 5, exact=True)]
        approx = [i for i, _ in index.search(q, 5)]
        agree += len(set(exact) & set(approx))
    assert agree / 250 >= 0.9
    index.remove(range(0, 500))
    assert all(i >= 500 for i, _ in index.search(vectors[0], 5))
    index.remove(range(500, 1500))
    assert not index.approximate  # below 90% of the threshold: exact again


def test_the_approximate_index_builds_in_the_background_and_catches_up():
    import numpy as np

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2600, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(16, "test", approx_threshold=2000, background=True)
    index.add(np.arange(2500), vectors[:2500])
    index.add(np.arange(2500, 2600), vectors[2500:])  # possibly while the build runs
    index.remove([0, 1, 2])
    assert index.wait_for_approx(30)
    assert index._approx.ntotal == index.count == 2597


def test_index_files_round_trip(tmp_path):
    import numpy as np

    index = VectorIndex(8, "m")
    vectors = np.eye(8, dtype="float32")
    index.add([10, 20, 30], vectors[:3])
    index.save(tmp_path / "x.faiss")
    loaded = VectorIndex.load(tmp_path / "x.faiss")
    assert (loaded.dim, loaded.model, loaded.count) == (8, "m", 3)
    assert loaded.search(vectors[1], 1) == [(20, pytest.approx(1.0))]
    assert sorted(loaded.ids().tolist()) == [10, 20, 30]


def test_hashing_embedder_is_normalised_and_deterministic():
    import numpy as np

    vectors = HashingEmbedder(64).embed(["Canonical tags", "canonical TAGS", ""])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.allclose(vectors[0], vectors[1])


# --- grounding -----------------------------------------------------------------------------------


def hit(score, source, text, kind="document", title="T", chunk_id=1):
    return Hit(score, chunk_id, kind, source, title, 0, text)


def test_build_context_numbers_sources_and_respects_the_budget():
    hits = [
        hit(0.8, "/d/a.md", "Alpha " * 20, title="A › One", chunk_id=1),
        hit(0.7, "chat:3", "User: hi", kind="chat", title="Earlier chat", chunk_id=2),
        hit(0.6, "/d/a.md", "Second chunk of a", title="A › Two", chunk_id=3),
        hit(0.1, "/d/noise.md", "irrelevant", chunk_id=4),
    ]
    text, sources = build_context(hits, budget_tokens=400)
    assert [(s.number, s.source) for s in sources] == [(1, "/d/a.md"), (2, "chat:3")]
    assert "[1] /d/a.md — A › One" in text and "[1] /d/a.md — A › Two" in text
    assert "[2] chat “Earlier chat”" in text
    assert "irrelevant" not in text
    small, small_sources = build_context(hits, budget_tokens=130)
    assert len(small) < len(text) and len(small_sources) == 1
    assert build_context([], 500) == ("", [])
    assert format_sources(sources) == "Sources: [1] /d/a.md · [2] chat “Earlier chat”"
    assert cited_sources("As [2] says …", sources) == [sources[1]]
    assert cited_sources("No citations", sources) == sources


def test_build_context_neutralises_control_characters_in_labels():
    text, _ = build_context([hit(0.9, "/d/\x1b[31mred.md", "body", title="t\x07")], 500)
    assert "\x1b" not in text.split("\n", 3)[2] and "\x07" not in text


@pytest.mark.parametrize(
    "question",
    [
        "Which documents do you know about?",
        "what docs do you have?",
        "List my documents",
        "show me the files you have indexed",
        "What files have I uploaded?",
        "which sources are in your memory?",
    ],
)
def test_inventory_questions(question):
    assert is_inventory_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "What does the canonical document say about pagination?",
        "How do I fix orphan pages?",
        "Show the documents about hreflang",
        "Which file should hold the sitemap?",
        "",
    ],
)
def test_not_inventory_questions(question):
    assert not is_inventory_question(question)


def test_inventory_answer_lists_the_store(memory, docs):
    assert "don't know about any documents" in inventory_answer(memory.documents(1))
    memory.add_paths([docs / "guides" / "robots-txt.md", docs / "pagination.txt"], 1)
    memory.remember_exchange(1, 1, "Chat", "q", "a")
    answer = inventory_answer(memory.documents(1))
    assert "I know about 2 documents" in answer
    assert "robots-txt.md` — Robots.txt" in answer
    assert "1 past conversation" in answer


def test_save_interval_for_big_indexes(memory, docs, monkeypatch):
    monkeypatch.setattr(index_store_module, "SMALL_INDEX_VECTORS", 0)
    monkeypatch.setattr(index_store_module, "SAVE_INTERVAL", 3600)
    memory.add_paths([docs / "guides" / "robots-txt.md"], 1)  # saved at the end regardless
    stamp = memory.index_path(1).stat().st_mtime_ns
    memory.add_text("chat", "chat:1", "c", "User: a\n\nAssistant: b", 1)  # deferred
    assert memory.index_path(1).stat().st_mtime_ns == stamp
    assert memory.indexes.loaded[1].dirty
    memory.close()
    assert not memory.indexes.loaded[1].dirty
    assert os.path.getsize(memory.index_path(1)) > 0


def test_a_missing_faiss_is_one_clear_error(monkeypatch):
    import sys

    from botifython_tui.core.memory import EmbeddingError

    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(EmbeddingError, match=r"needs faiss-cpu .*pip install"):
        VectorIndex(8, "m")

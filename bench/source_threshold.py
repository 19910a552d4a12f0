#!/usr/bin/env python3
"""How the citation thresholds of `core/memory/grounding.py` were chosen. Not a test: run it by
hand (about 15 s on 2 cores, the packaged model) and compare with the comment above
`MIN_DOCUMENT_SCORE` and `MIN_CHAT_SCORE`.

    python bench/source_threshold.py

The fixture corpus tests/fixtures/docs is ingested with 10 off-topic chats and 3 SEO chats (one
each on sitemaps, hreflang and redirects). For every labelled question of
bench/data/memory_questions.jsonl it prints the cosine of the best passage of the right
document, of the best off-topic chat, and of SEO chats on the question's topic or another one,
as `Memory.search` returns them (k=30; hits under the search floor are absent).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from botifython_tui.core.memory import CHAT, DEFAULT_MODEL, Embedder, Memory  # noqa: E402
from botifython_tui.core.memory.grounding import MIN_CHAT_SCORE, MIN_DOCUMENT_SCORE  # noqa: E402
from botifython_tui.core.store import Store  # noqa: E402

OFF_TOPIC = [
    (
        "Pizza",
        "What is the best flour for pizza dough?",
        "A strong bread flour; rest it overnight.",
    ),
    ("Holiday", "Where should we go in Portugal in October?", "The Algarve is still warm."),
    ("Football", "Who won the league last season?", "I do not have live results."),
    ("Car", "My car squeaks when braking.", "The brake pads may be worn; see a mechanic."),
    ("Gift", "Birthday gift ideas for a ten year old?", "A science kit or a board game."),
    ("Python", "How do I reverse a list in Python?", "list.reverse() or reversed(lst)."),
    ("Eggs", "How long do I boil an egg for a soft yolk?", "About six minutes, then cold water."),
    ("Garden", "When should I plant tomatoes?", "After the last frost, nights above 10 °C."),
    ("Email", "Write a polite email declining a meeting.", "Thank you; I cannot attend Tuesday."),
    ("Budget", "How do I make a monthly household budget?", "List income, then fixed costs."),
]
SEO = {  # chat title, exchange, the labelled document it is about
    "Hreflang": (
        "How do I set hreflang for a Swiss site in French and German?",
        "Use fr-ch and de-ch, each page listing all versions including itself.",
        "guides/hreflang.html",
    ),
    "Sitemaps": (
        "How many URLs can one XML sitemap hold?",
        "Up to 50,000 URLs or 50 MB uncompressed; use a sitemap index beyond that.",
        "guides/xml-sitemaps.md",
    ),
    "Redirect chain": (
        "We have redirect chains after the migration, is that bad?",
        "Yes: point each old URL straight to its target; Googlebot follows only a few hops.",
        "guides/redirects.md",
    ),
}


def spread(values: list[float]) -> str:
    if not values:
        return "none returned"
    ordered = sorted(values)
    return f"min {ordered[0]:.3f}, median {ordered[len(ordered) // 2]:.3f}, max {ordered[-1]:.3f}"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="botifython-threshold-"))
    try:
        docs = tmp / "docs"
        shutil.copytree(ROOT / "tests" / "fixtures" / "docs", docs)
        store = Store(tmp / "db.sqlite3")
        memory = Memory(store, tmp, Embedder(DEFAULT_MODEL))
        memory.add_paths([docs], 1)
        topic_of: dict[str, str | None] = {}
        chats = [(t, q, a, None) for t, q, a in OFF_TOPIC]
        chats += [(t, q, a, doc) for t, (q, a, doc) in SEO.items()]
        for number, (title, question, answer, doc) in enumerate(chats, start=1):
            memory.remember_exchange(1, number, title, question, answer)
            topic_of[f"chat:{number}"] = doc
        labelled = (ROOT / "bench" / "data" / "memory_questions.jsonl").read_text().splitlines()
        questions = [json.loads(line) for line in labelled if line.strip()]
        right, off, same, other = [], [], [], []
        for item in questions:
            hits = memory.search(item["question"], 1, 30)
            wanted = str(docs / item["source"])
            right.append(max((h.score for h in hits if h.source == wanted), default=0.0))
            for hit in (h for h in hits if h.kind == CHAT):
                doc = topic_of[hit.source]
                bucket = off if doc is None else same if doc == item["source"] else other
                bucket.append(hit.score)
        print(
            f"{len(questions)} questions, thresholds: documents {MIN_DOCUMENT_SCORE}, "
            f"chats {MIN_CHAT_SCORE}"
        )
        print(
            f"best passage of the right document: {spread(right)}; "
            f"{sum(s < MIN_DOCUMENT_SCORE for s in right)} under the document threshold"
        )
        print(f"off-topic chats: {spread(off)}")
        print(f"SEO chats on another topic: {spread(other)}")
        print(f"SEO chats on the question's topic: {spread(same)}")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

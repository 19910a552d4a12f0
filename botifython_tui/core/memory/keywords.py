"""Keyword search terms and their fusion with the vector search.

The embedding finds meaning but misses exact strings: an error code, a URL, a column name, a
function. SQLite FTS5 (BM25) over the same chunks finds those, and the two are blended: the cosine
similarity plus a share of the keyword strength (see `blend`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Fusion: cosine similarity plus the BM25 strength scaled so the query's best keyword match adds
# the blend weight; more when the query names an exact string (a code, URL, file or column name),
# where keywords are the surer signal. Measured on the labelled questions (bench/memory.py):
# reciprocal-rank fusion (RRF, k=60) and a flat weight of 0.15-0.5 gave recall@1 0.94 and @5 1.0,
# as many top-1 hits as vectors alone; 0.15 / 0.3 gave 0.95 and 1.0. RRF also ties a chunk that
# is first by meaning and second by keywords with one that is second and first, and breaks the
# tie badly when the words are exact (a status code in a CSV row).
BLEND_WEIGHT = 0.15
IDENTIFIER_BLEND_WEIGHT = 0.3
MIN_SIMILARITY = 0.2  # below this cosine a chunk is noise for all-MiniLM-L6-v2 …
# … unless it holds an identifier of the query (an error code, URL, file or column name).

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could did didn't do does doesn't
    doing don't down during each few for from further had has have having he her here hers how
    i if in into is isn't it it's its itself just let me more most my no nor not of off on
    once only or other our ours out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours tell explain show find
    give mean means use used using get gets want need""".split()  # noqa: SIM905
)

_PHRASE = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"[^\s\"]+")
_EDGE = "?!,;:()[]{}<>'`*“”‘’«»"
_IDENTIFIER = re.compile(
    r"\w[_./:@#=&%-]\w|[a-z][A-Z]|^[A-Z][A-Z0-9_-]+$|^\d{3,}$|[a-zA-Z]\d|\d[a-zA-Z]"
)


def query_terms(query: str) -> list[str]:
    """The words and quoted phrases of a query worth a keyword search, in order, once each."""
    terms: list[str] = []
    for phrase in _PHRASE.findall(query):
        terms.append(" ".join(phrase.split()))
    for word in _WORD.findall(_PHRASE.sub(" ", query)):
        word = word.strip(_EDGE).rstrip(".")
        if not word or word.lower() in STOPWORDS or not any(ch.isalnum() for ch in word):
            continue
        terms.append(word)
    seen: set[str] = set()
    unique = []
    for term in terms:
        if term.lower() not in seen:
            seen.add(term.lower())
            unique.append(term)
    return unique[:32]


def is_identifier(term: str) -> bool:
    """An exact string rather than a word: a number of 3+ digits (429, 2024), letters and digits
    mixed (E4042, h2), inner `_./:@#=&%-` (a URL, file or column name), camelCase, ALL CAPS."""
    return " " in term or bool(_IDENTIFIER.search(term))


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each as a phrase (so `E_4042` or a URL keeps
    its parts in order), with FTS syntax characters taken literally."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def holds(text: str, term: str) -> bool:
    """Whether a chunk holds the term as written (case aside)."""
    return term.lower() in text.lower()


def blend(
    similarity: dict[int, float], strength: dict[int, float], weight: float = BLEND_WEIGHT
) -> dict[int, float]:
    """Cosine similarity plus the keyword strength scaled to [0, BLEND_WEIGHT] (the best keyword
    match of the query gets the whole weight)."""
    best = max(strength.values(), default=0.0)
    return {
        chunk_id: cosine + (weight * strength.get(chunk_id, 0.0) / best if best > 0 else 0.0)
        for chunk_id, cosine in similarity.items()
    }

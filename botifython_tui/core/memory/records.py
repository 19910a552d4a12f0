"""What the memory holds and returns: the kinds of source, search hits, documents listed, and
what is embedded for a chunk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DOCUMENT, CHAT, EXPORT = "document", "chat", "export"
KINDS = (DOCUMENT, CHAT, EXPORT)


@dataclass(frozen=True)
class Hit:
    score: float  # cosine similarity of the chunk to the query
    chunk_id: int
    kind: str
    source: str
    title: str
    position: int
    text: str
    exact: bool = False  # holds an identifier of the query (code, URL, name) as written


@dataclass(frozen=True)
class DocumentInfo:
    kind: str
    source: str
    title: str
    chunks: int
    updated_at: str
    file_hash: str | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == DOCUMENT


def embedding_input(title: str, text: str) -> str:
    """What is embedded for a chunk: its title (document and headings) gives the text context."""
    return f"{title}\n{text}" if title else text


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(embedding_input(title, text).encode()).hexdigest()

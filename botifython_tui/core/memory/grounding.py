"""Grounding the chat in the memory: numbered sources in the prompt, and the document inventory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from botifython_tui.core.conversation import estimate_tokens
from botifython_tui.core.memory.feeds import chat_source
from botifython_tui.core.memory.records import CHAT, DOCUMENT, EXPORT, DocumentInfo, Hit
from botifython_tui.core.text import single_line

DEFAULT_BUDGET_TOKENS = 1200
# A passage is shown to the model (and listed as a source) only at or above these cosine scores
# (all-MiniLM-L6-v2), measured by bench/source_threshold.py: the 64 labelled questions of
# bench/data/memory_questions.jsonl over tests/fixtures/docs, with 10 off-topic and 3 SEO chats
# remembered. The best passage of the right document scored 0.32-0.83 (median 0.63), so
# documents need 0.3. Off-topic chats scored at most 0.30 ("household budget" for a crawl budget
# question) and SEO chats on another topic at most 0.41; chats on the question's own topic
# 0.27-0.84 (median 0.48). Old chats need 0.5: an unrelated past conversation is never cited,
# and a close one still is.
MIN_DOCUMENT_SCORE = 0.3
MIN_CHAT_SCORE = 0.5
HEADER = (
    "Excerpts from the user's documents and past chats that may help. Cite them as [1], [2] … "
    "when you use them; if they do not answer the question, say so rather than guess."
)


@dataclass(frozen=True)
class Source:
    number: int
    kind: str
    source: str
    title: str
    score: float

    @property
    def label(self) -> str:
        return source_label(self.kind, self.source, self.title)


def source_label(kind: str, source: str, title: str = "") -> str:
    """How a source is named to the model and the user: a path, a chat or an export."""
    if kind == CHAT:
        return f"chat “{single_line(title)}”" if title else f"chat {source.removeprefix('chat:')}"
    if kind == EXPORT:
        return single_line(title) if title else single_line(source.removeprefix("export:"))
    return single_line(_short_path(source))


def _short_path(source: str) -> str:
    path = Path(source)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return source


def is_relevant(hit: Hit, conversation_id: int | None = None) -> bool:
    """Whether a search hit may be shown to the model and cited.

    A document or export passage needs `MIN_DOCUMENT_SCORE`, unless it holds an identifier of the
    question as written (an error code, a URL, a name); a past chat needs `MIN_CHAT_SCORE`, and the
    conversation being held (`conversation_id`) is never cited: it is already in the history.
    """
    if hit.kind == CHAT:
        if conversation_id is not None and hit.source == chat_source(conversation_id):
            return False
        return hit.score >= MIN_CHAT_SCORE
    return hit.score >= MIN_DOCUMENT_SCORE or hit.exact


def build_context(
    hits: Sequence[Hit],
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    *,
    conversation_id: int | None = None,
) -> tuple[str, list[Source]]:
    """A prompt block of the relevant chunks that fit the budget, each under its numbered source.

    Chunks of one source share its number. Returns ("", []) when nothing relevant was found
    (see `is_relevant`). Hits keep the search's order (hybrid relevance).
    """
    numbers: dict[tuple[str, str], Source] = {}
    blocks: list[str] = []
    remaining = budget_tokens - estimate_tokens(HEADER)
    for hit in hits:
        if not is_relevant(hit, conversation_id):
            continue
        key = (hit.kind, hit.source)
        source = numbers.get(key)
        number = source.number if source else len(numbers) + 1
        heading = f"[{number}] {source_label(hit.kind, hit.source, hit.title)}"
        if hit.title and hit.kind == DOCUMENT:
            heading += f" — {single_line(hit.title)}"
        text = hit.text.strip()
        cost = estimate_tokens(heading) + estimate_tokens(text)
        if cost > remaining:
            if remaining < 60:
                break
            text = text[: max(0, (remaining - estimate_tokens(heading)) * 3 - 4)].rstrip() + " …"
            cost = remaining
        if source is None:
            numbers[key] = Source(number, hit.kind, hit.source, hit.title, hit.score)
        blocks.append(f"{heading}\n{text}")
        remaining -= cost
    if not blocks:
        return "", []
    return HEADER + "\n\n" + "\n\n".join(blocks), sorted(numbers.values(), key=lambda s: s.number)


_CITATION = re.compile(r"\[(\d{1,3})\]")


def cited_sources(reply: str, sources: Sequence[Source]) -> list[Source]:
    """The sources a reply cites as [n]; all of them if it cites none (they were in its prompt)."""
    cited = {int(n) for n in _CITATION.findall(reply)}
    used = [s for s in sources if s.number in cited]
    return used or list(sources)


def format_sources(sources: Sequence[Source]) -> str:
    """A footer for a reply: `Sources: [1] notes/seo.md · [2] chat “Robots”`."""
    if not sources:
        return ""
    return "Sources: " + " · ".join(f"[{s.number}] {s.label}" for s in sources)


_DOCS = r"\b(?:documents?|docs|files?|sources?|pdfs?|notes)\b"
_INVENTORY = re.compile(
    # which documents do you know about / what files do you have / which sources are in your memory
    rf"\b(?:which|what)\b[^?.!]{{0,30}}{_DOCS}[^?.!]{{0,30}}\b(?:you|your)\b"
    # what files have I uploaded / which documents did I add
    rf"|\b(?:which|what)\b[^?.!]{{0,30}}{_DOCS}[^?.!]{{0,20}}\b(?:have|did)\s+i\b"
    # list my documents / show me all the files
    rf"|\b(?:list|show)\b[^?.!]{{0,12}}\b(?:my|the|your|all)\b[^?.!]{{0,12}}{_DOCS}\s*(?:[?.!]|$|you|in\b)"
    rf"|\bwhat do you know about my\b[^?.!]{{0,10}}{_DOCS}",
    re.IGNORECASE,
)


def is_inventory_question(text: str) -> bool:
    """'Which documents do you know about?' and the like: answered from the store, not guessed."""
    return bool(_INVENTORY.search(text.strip()[:300]))


def inventory_answer(documents: Sequence[DocumentInfo], limit: int = 50) -> str:
    """A Markdown answer listing what the memory holds for the profile."""
    files = [d for d in documents if d.kind == DOCUMENT]
    chats = [d for d in documents if d.kind == CHAT]
    exports = [d for d in documents if d.kind == EXPORT]
    if not documents:
        return (
            "I don't know about any documents yet in this profile. Add some with "
            "`botifython docs add PATH` or on the Documents screen."
        )
    lines: list[str] = []
    if files:
        lines.append(f"I know about {len(files)} document{'s' if len(files) != 1 else ''}:")
        for doc in files[:limit]:
            title = (
                f" — {single_line(doc.title)}"
                if doc.title and doc.title != Path(doc.source).name
                else ""
            )
            lines.append(f"- `{single_line(_short_path(doc.source))}`{title} ({doc.chunks} chunks)")
        if len(files) > limit:
            lines.append(f"- … and {len(files) - limit} more")
    else:
        lines.append("I don't know about any documents in this profile yet.")
    if exports:
        lines.append(
            f"Also {len(exports)} link-graph export summar{'ies' if len(exports) != 1 else 'y'}:"
        )
        lines += [f"- {source_label(d.kind, d.source, d.title)}" for d in exports[:limit]]
    if chats:
        lines.append(
            f"And {len(chats)} past conversation{'s' if len(chats) != 1 else ''} I can refer to."
        )
    return "\n".join(lines)

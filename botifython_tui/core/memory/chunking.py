"""How text becomes titled chunks that fit the embedding model: sizing, packing, Markdown structure.

Chunks are sized in the model's own word pieces: a chunk's title (embedded with it) plus its text
plus the two special tokens fit the model's window (256 for all-MiniLM-L6-v2), so no chunk is cut
off when it is embedded. Consecutive chunks of one section share about `OVERLAP_CHARS`
characters so that a sentence cut at a boundary is still found whole in one of them. Counting is
exact: the tokenizer splits at whitespace, so the pieces of a chunk add up. Reading each file
type into (title, text) blocks is `file_formats`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from botifython_tui.core.memory.token_count import approximate_count

MAX_CHARS = 1000  # the most characters a chunk has (a token is at least one character)
MAX_TOKENS = 256  # the model's window, special tokens included
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
TITLE_TOKENS = 64  # a longer title (deep headings) is shortened, to leave room for the text
OVERLAP_CHARS = 150
OVERLAP_TOKENS = 40  # about OVERLAP_CHARS of prose
TITLE_SEPARATOR = " › "


class Skipped(Exception):
    """A file that is not indexed; the message is the reason, for the user."""


@dataclass(frozen=True)
class Chunk:
    title: str
    text: str
    position: int


@dataclass(frozen=True)
class Document:
    title: str
    file_type: str
    chunks: list[Chunk]
    note: str | None = None  # e.g. "only the first 5,000 chunks were indexed"


class Measure:
    """Counts a text's word pieces (special tokens not counted) for one model's window."""

    def __init__(
        self,
        count: Callable[[Sequence[str]], list[int]] | None = None,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self._count = count or default_counter()
        self.max_tokens = max_tokens

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - titles and separators repeat
    def __call__(self, text: str) -> int:
        return self._count([text])[0] if text else 0

    def room(self, title: str) -> int:
        """Word pieces left for a chunk's text under this title."""
        return max(16, self.max_tokens - SPECIAL_TOKENS - self(title))

    def clip(self, text: str, limit: int) -> str:
        """The longest start of `text` with at most `limit` word pieces (cut at a space if any)."""
        if self(text) <= limit:
            return text
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits
            middle = (low + high + 1) // 2
            if self(text[:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        cut = text[:low]
        space = cut.rfind(" ")
        return cut[:space].rstrip() if space > low // 2 else cut


@functools.lru_cache(maxsize=1)
def default_counter() -> Callable[[Sequence[str]], list[int]]:
    """The packaged model's tokenizer (`tokenizers`, no model load), else an upper bound."""
    from botifython_tui.core.memory.embeddings import default_model_path

    folder = default_model_path()
    try:
        from tokenizers import Tokenizer

        if folder is None:
            raise ImportError("no packaged model")
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # not installed, or an unreadable tokenizer file
        return approximate_count
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    return count


# --- text splitting ------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def fit(chunks: list[tuple[str, str]], measure: Measure) -> list[tuple[str, str]]:
    """Every (title, text) within the window: titles shortened, any text still too long split."""
    out: list[tuple[str, str]] = []
    for title, text in chunks:
        title = measure.clip(title, TITLE_TOKENS)
        room = measure.room(title)
        if measure(text) <= room:
            out.append((title, text))
            continue
        for piece in pack(text.split("\n"), room, 0, "\n", measure):
            out.append((title, piece))
    return out


def _pieces(text: str, limit: int, size: Callable[[str], int] = len) -> Iterator[str]:
    """Split a paragraph longer than `limit` at sentence ends, then lines, then words."""
    if size(text) <= limit:
        yield text
        return
    for separator in (_SENTENCE_END, re.compile(r"\n"), re.compile(r"\s+")):
        parts = [p for p in separator.split(text) if p.strip()]
        if len(parts) > 1:
            buffer = ""
            joiner = "\n" if separator.pattern == r"\n" else " "
            used = 0
            for part in parts:
                part_size = size(part)
                if buffer and used + part_size + size(joiner) > limit:
                    yield from _pieces(buffer, limit, size)
                    buffer, used = part, part_size
                else:
                    used += part_size + (size(joiner) if buffer else 0)
                    buffer = f"{buffer}{joiner}{part}" if buffer else part
            if buffer:
                yield from _pieces(buffer, limit, size)
            return
    # One enormous "word": cut it. A word piece covers at least one character, so `limit`
    # characters are at most `limit` pieces.
    for start in range(0, len(text), max(1, limit)):
        yield text[start : start + max(1, limit)]


def _tail(text: str, size: int) -> str:
    """The last `size` characters, starting at a word (or sentence) boundary."""
    if len(text) <= size:
        return text
    tail = text[-size:]
    sentence = _SENTENCE_END.search(tail)
    if sentence and sentence.end() < len(tail) - 20:
        return tail[sentence.end() :]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def pack(
    blocks: Iterable[str],
    max_size: int = MAX_CHARS,
    overlap: int = OVERLAP_CHARS,
    sep: str = "\n\n",
    size: Callable[[str], int] = len,
) -> list[str]:
    """Greedy packing of blocks (paragraphs, rows …) into chunks of at most `max_size` (as
    measured by `size`: characters, or word pieces), with `overlap` characters carried over."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    carried = False  # the current chunk starts with overlap only
    gap = size(sep)

    def flush() -> None:
        nonlocal current, used, carried
        if current and not (carried and len(current) == 1):
            text = trim(sep.join(current))
            chunks.append(text)
            tail = _sized_tail(text, overlap, size) if overlap else ""
            current, used, carried = ([tail], size(tail), True) if tail else ([], 0, False)
        elif carried:
            current, used, carried = [], 0, False

    for block in blocks:
        block = trim(block)  # keeps the indentation of code and JSON
        if not block:
            continue
        for piece in _pieces(block, max_size - overlap - gap if overlap else max_size, size):
            piece_size = size(piece)
            if current and used + gap + piece_size > max_size:
                flush()
                if current and used + gap + piece_size > max_size:
                    current, used, carried = [], 0, False  # no room for the overlap
            current.append(piece)
            used += piece_size + (gap if len(current) > 1 else 0)
    if current and not (carried and len(current) == 1):
        chunks.append(trim(sep.join(current)))
    return chunks


def _sized_tail(text: str, overlap: int, size: Callable[[str], int]) -> str:
    """The end of `text` measuring at most `overlap` (in `size` units), from a word boundary."""
    if size is len:
        return _tail(text, overlap)
    chars = max(1, overlap * len(text) // max(1, size(text)))
    tail = _tail(text, chars)
    while tail and size(tail) > overlap:
        tail = _tail(tail, len(tail) * 3 // 4) if len(tail) > 4 else ""
    return tail


def fill(
    measure: Measure,
    title: str,
    blocks: Iterable[str],
    sep: str = "\n\n",
    overlap: int = OVERLAP_TOKENS,
) -> list[str]:
    """`pack` in word pieces, with the room the (shortened) title leaves."""
    room = measure.room(measure.clip(title, TITLE_TOKENS))
    return pack(blocks, room, min(overlap, room // 4), sep, measure)


def trim(text: str) -> str:
    """Blank lines and trailing spaces off both ends; leading indentation kept."""
    return text.strip("\n").rstrip() if text.strip() else ""


def join_title(*parts: str) -> str:
    """A chunk title from its parts (document, headings), each on one line, blanks left out."""
    return TITLE_SEPARATOR.join(" ".join(p.split()) for p in parts if p and p.strip())


# --- Markdown structure (files, chats, export summaries) ------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str) -> list[tuple[list[str], str]]:
    """(heading path, body) for each section of a Markdown text; fenced code is not a heading."""
    sections: list[tuple[list[str], str]] = []
    path: list[str] = []
    body: list[str] = []
    in_fence = False
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        setext = (
            not in_fence
            and i + 1 < len(lines)
            and line.strip()
            and not line.startswith((" ", "\t", "-", "*", "|", ">"))
            and _SETEXT.match(lines[i + 1])
            and (not body or not body[-1].strip())
        )
        if heading or setext:
            sections.append((list(path), "\n".join(body)))
            body = []
            level = len(heading.group(1)) if heading else (1 if lines[i + 1][0] == "=" else 2)
            title = heading.group(2) if heading else line.strip()
            path = path[: level - 1] + [""] * max(0, level - 1 - len(path)) + [title]
            i += 1 if heading else 2
            continue
        body.append(line)
        i += 1
    sections.append((list(path), "\n".join(body)))
    return [(p, b) for p, b in sections if b.strip() or p]


def split_paragraphs(body: str) -> list[str]:
    """Blank-line separated blocks; a fenced code block stays in one block."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def chunk_text(title: str, text: str, measure: Measure | None = None) -> list[Chunk]:
    """Chunks of a free text (a chat exchange, an export summary), Markdown structure honoured."""
    measure = measure or Measure()
    sections = markdown_sections(text.replace("\r\n", "\n"))
    pairs: list[tuple[str, str]] = []
    for heading_path, body in sections:
        names = [h for h in heading_path if h]
        section_title = join_title(title, *names)
        for piece in fill(measure, section_title, split_paragraphs(body)):
            pairs.append((section_title, piece))
    if not pairs and text.strip():
        pairs.append((title, text.strip()))
    return [Chunk(t, x, i) for i, (t, x) in enumerate(fit(pairs, measure))]

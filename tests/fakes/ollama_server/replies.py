"""Scripted model answers (:class:`Reply`, with its faults), the default echo reply, the canned
replies of the standalone server, and the error messages the real server sends."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.ollama_server.wire import ci_get

RUNNER_CRASH = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)
SERVER_BUSY = "server busy, please try again.  maximum pending requests exceeded"
MID_STREAM_ERROR = "an error was encountered while running the model"
REQUEST_CANCELED = "request canceled"

DEFAULT_STATUS_ERRORS = {
    499: REQUEST_CANCELED,
    500: RUNNER_CRASH,
    503: SERVER_BUSY,
}

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str, token_size: int | None = None) -> list[str]:
    """Split ``text`` into stream tokens.

    Default: words with their leading whitespace attached (``"Hi there."`` ->
    ``["Hi", " there."]``), like real tokenizers. ``token_size``: fixed-size character chunks.
    Concatenating the tokens always gives ``text`` back.
    """
    if not text:
        return []
    if token_size:
        n = max(1, int(token_size))
        return [text[i : i + n] for i in range(0, len(text), n)]
    return _TOKEN_RE.findall(text)


@dataclass
class Reply:
    """One scripted model answer (and, optionally, a fault).

    Content: ``text`` (split with :func:`split_tokens`, ``token_size`` for fixed-size chunks) or
    explicit ``tokens``; ``thinking`` (streamed first as ``message.thinking`` chunks);
    ``tool_calls`` (``[{"name": ..., "arguments": {...}}]``, sent as one chunk with content
    ``""`` after the content; ``tool_call_style`` ``"new"`` adds ``id``/``index``, ``"old"``
    omits them, None uses the fake's); ``final_text`` (carried by the ``done`` line).

    Final line: ``done_reason`` (``""`` omits it, like pre-0.1.35 servers), ``metrics``.

    Faults: ``status`` + ``error`` (HTTP error before any stream byte; default messages for
    500/503/499), ``error_after`` (N lines then ``{"error": ...}``, HTTP 200, then close),
    ``drop_after`` (N lines then an abrupt close mid-body), ``first_token_delay`` (before the
    headers), ``token_delay`` (before each line; None: ``fake.token_delay``), ``raw_lines``
    (sent verbatim, one per chunk; blank ones skipped unless ``allow_blank``).

    With ``stream: false`` the same delays apply, ``error_after`` becomes an HTTP 500 (or
    ``status``) error, ``drop_after`` closes without a response, and ``raw_lines`` are joined
    with newlines into a 200 body.
    """

    text: str = ""
    tokens: list[str] | None = None
    token_size: int | None = None
    thinking: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_style: str | None = None  # "new" | "old" | None (fake.tool_call_style)
    final_text: str = ""
    metrics: bool = True
    done_reason: str = "stop"
    error_after: int | None = None
    drop_after: int | None = None
    status: int | None = None
    error: str = ""
    first_token_delay: float = 0.0
    token_delay: float | None = None
    raw_lines: list[str] | None = None
    allow_blank: bool = False

    def content_tokens(self) -> list[str]:
        if self.tokens is not None:
            return [str(t) for t in self.tokens]
        return split_tokens(self.text, self.token_size)

    def thinking_tokens(self) -> list[str]:
        return split_tokens(self.thinking, self.token_size)


def echo_reply(body: dict[str, Any]) -> Reply:
    """The default reply: ``You said: <last user message>`` (or ``<prompt>`` for generate).

    When the request asks for ``format`` (JSON mode or a schema), the text is a JSON document.
    """
    said = ""
    messages = ci_get(body, "messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and str(ci_get(m, "role") or "").lower() == "user":
                said = str(ci_get(m, "content") or "")
                break
    else:
        said = str(ci_get(body, "prompt") or "")
    if ci_get(body, "format") not in (None, ""):
        return Reply(text=json.dumps({"reply": f"You said: {said}"}))
    return Reply(text=f"You said: {said}")


DEFAULT_REPLIES: list[str] = [
    "## Crawl budget in short\n\n"
    "Search engines crawl a limited number of URLs per site. To spend that budget well:\n\n"
    "- **Fix broken links** that return `404` or `5xx`.\n"
    "- **Trim redirect chains** to a single hop.\n"
    "- **Block faceted URLs** that add no value, with `robots.txt` or `noindex`.\n"
    "- Keep the XML sitemap limited to canonical, indexable pages.\n\n"
    "Start with the pages at depth 4 and beyond: they are crawled the least.",
    "Here is a small Python script that counts internal links per page from an edge list:\n\n"
    "```python\n"
    "import csv\n"
    "from collections import Counter\n\n"
    "inlinks = Counter()\n"
    'with open("edges.csv", newline="") as fh:\n'
    "    for source, target in csv.reader(fh):\n"
    "        inlinks[target] += 1\n\n"
    "for url, count in inlinks.most_common(10):\n"
    '    print(f"{count:6d}  {url}")\n'
    "```\n\n"
    "Pages with very few inlinks are good candidates for better internal linking.",
    "| Depth | URLs | Share indexable |\n"
    "|------:|-----:|----------------:|\n"
    "| 0 | 1 | 100% |\n"
    "| 1 | 10 | 98% |\n"
    "| 2 | 100 | 91% |\n"
    "| 3 | 1000 | 74% |\n\n"
    "The share of indexable pages drops with depth. Consider linking the deepest "
    "categories from the home page.",
    "Three quick checks for a new site audit:\n\n"
    "1. Compare the **crawled** URLs with the **sitemap** URLs.\n"
    "2. Look for pages whose `canonical` points elsewhere.\n"
    "3. Check that `hreflang` pairs are reciprocal.\n\n"
    "> Tip: run the checks again after each release.",
]


def load_reply_file(path: str | Path) -> list[Reply]:
    """Replies from a file: JSON (a list of strings or of :class:`Reply` field objects), or
    plain text where a line holding only ``%%`` separates replies."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list):
        out = []
        for item in data:
            out.append(Reply(text=item) if isinstance(item, str) else Reply(**item))
        return out
    parts = re.split(r"(?m)^%%[ \t]*\r?\n?", text)
    return [Reply(text=p.strip("\n")) for p in parts if p.strip()]

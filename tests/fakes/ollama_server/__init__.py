"""A local fake of the Ollama REST API (subset), served over real HTTP.

Follows the Ollama protocol notes (Part B). Standard library and the shared loopback base
(``botifython_tui/core/http_server.py``) only.

Quick start::

    from tests.fakes.ollama_server import FakeOllama, Reply

    with FakeOllama(models=["llama3.2:latest", "qwen2.5:0.5b"]) as fake:
        fake.script(Reply(text="Hello there."), Reply(text="x", error_after=1))
        httpx.post(fake.base_url + "/api/chat",
                   json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]})
        fake.chat_requests[-1]["messages"]       # what the client sent
        fake.requests[-1].disconnected           # did the client close the stream early?

Run standalone (foreground, Ctrl-C to stop)::

    python -m tests.fakes.ollama_server --port 11434 --tokens-per-second 30 [--reply-file F]

Behaviour (see the protocol notes for sources):

* ``GET|HEAD /`` -> ``Ollama is running``; ``GET|HEAD /api/version``, ``/api/tags``;
  ``GET /api/ps``; ``POST /api/show``, ``/api/chat``, ``/api/generate``, ``/api/embed``,
  ``/api/embeddings`` (legacy). Anything else: ``404 page not found`` (text/plain, like gin).
* Request keys match case-insensitively (Go ``encoding/json``; last matching key wins) and
  message roles are lower-cased. An empty body is ``400 missing request body``; bad JSON is 400
  with a Go-like decode message; wrong JSON types are 400 ``json: cannot unmarshal ...``.
* ``/api/chat`` checks, in order: ``model`` present (400), model known (404, message per
  ``not_found_style``), empty ``messages`` (load/unload object, no reply consumed), chat
  capability, ``tools`` capability (400 with the full registry name), ``think`` capability,
  ``format`` (500 ``invalid format``). Only then is a scripted :class:`Reply` popped (so a
  rejected request never consumes one). ``/api/generate`` shares the same queue.
* Streams are NDJSON (``application/x-ndjson``), chunked with one chunk per line, compact
  Go-style JSON (``<``, ``>``, ``&`` escaped as ``\\u003c`` etc.), never blank lines (unless a
  :class:`Reply` with ``raw_lines`` and ``allow_blank`` asks). Zero-valued metrics are omitted
  like Go's ``omitempty``. ``first_token_delay`` happens before the response headers (model
  load and prompt evaluation precede the first write in the real server).
* ``options.num_predict`` caps the generated tokens (thinking first, then content) and turns
  ``done_reason`` into ``"length"``.
* The client closing the connection is detected while waiting (EOF peek) and on write errors:
  generation stops and the request gets ``disconnected = True``.

Modules: ``server`` (:class:`FakeOllama`: knobs, script, records, every route), ``models``
(names, capabilities, tags), ``streaming`` (writing a reply, faults included),
``http`` (the handler: plain answers, chunked NDJSON, dropped connections, a client leaving),
``replies`` (:class:`Reply` and its faults, the default and canned replies), ``wire`` (Go-style
JSON, times, names, errors), ``standalone`` (the server in the foreground).

Fault modes (each is exercised by a test; ``tests/unit/test_fake_fault_coverage.py`` checks):

* ``Reply.status`` + ``Reply.error``: an HTTP error before any byte (500 runner crash, 503 busy,
  499 cancelled, 404/400 with the real messages).
* ``Reply.error_after``: N lines, then ``{"error": ...}`` mid-stream (HTTP 200), then close.
* ``Reply.drop_after``: N lines, then the connection drops mid-body.
* ``Reply.first_token_delay`` / ``Reply.token_delay`` / ``FakeOllama.token_delay``: a slow model
  (before the headers, between lines).
* ``Reply.raw_lines`` (with ``allow_blank``): anything verbatim: malformed JSON, blank lines.
* Escape sequences and markup in a reply's text (terminal control codes, OSC 52, bidi).
* A huge reply (megabytes, very long lines) streamed in big tokens.
* ``Reply.tool_calls`` with ``tool_call_style`` (``"new"``/``"old"``): tool calls in both shapes.
* ``FakeOllama.reset_connections``: every request read, then the connection closed, no answer.
* ``FakeOllama.not_found_style``: the current and the legacy "model not found" messages.
* ``FakeOllama.capabilities``: a model without tools/thinking/completion (400 as the real server).
* A request body over the base's limit: 413, nothing read past the limit.
"""

from tests.fakes.ollama_server.http import RecordedRequest
from tests.fakes.ollama_server.replies import (
    DEFAULT_REPLIES,
    MID_STREAM_ERROR,
    RUNNER_CRASH,
    SERVER_BUSY,
    Reply,
    echo_reply,
    load_reply_file,
    split_tokens,
)
from tests.fakes.ollama_server.server import FakeOllama
from tests.fakes.ollama_server.standalone import main

# Every failure the fake can put in the client's way, as listed above;
# tests/unit/test_fake_fault_coverage.py checks that each exists and that a test exercises it.
FAULT_MODES = (
    "Reply.status",
    "Reply.error_after",
    "Reply.drop_after",
    "Reply.first_token_delay",
    "Reply.token_delay",
    "Reply.raw_lines",
    "Reply.tool_calls",
    "Reply.escape_sequences",
    "Reply.huge",
    "reset_connections",
    "not_found_style",
    "capabilities",
    "token_delay",
    "request_body_too_large",
)

__all__ = [
    "DEFAULT_REPLIES",
    "FAULT_MODES",
    "MID_STREAM_ERROR",
    "RUNNER_CRASH",
    "SERVER_BUSY",
    "FakeOllama",
    "RecordedRequest",
    "Reply",
    "echo_reply",
    "load_reply_file",
    "main",
    "split_tokens",
]

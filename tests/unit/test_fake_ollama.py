"""Tests of the fake Ollama server itself (tests/fakes/ollama_server/)."""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.ollama_server import (
    MID_STREAM_ERROR,
    RUNNER_CRASH,
    SERVER_BUSY,
    FakeOllama,
    Reply,
    split_tokens,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["llama3.2:latest", "qwen2.5:0.5b"]
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
# A reply far over any screen: 2 MB, with long lines and no spaces in places.
HUGE = ("line " * 40 + "\n") * 5_000 + "x" * 500_000
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@pytest.fixture
def fake():
    with FakeOllama(models=MODELS) as f:
        yield f


@pytest.fixture
def client(fake):
    with httpx.Client(base_url=fake.base_url, timeout=10) as c:
        yield c


def chat_body(content="hi", model="llama3.2", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def stream_lines(client: httpx.Client, body, path="/api/chat") -> tuple[httpx.Response, list[str]]:
    with client.stream("POST", path, json=body) as r:
        lines = list(r.iter_lines())
    return r, lines


def wait_for(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def raw_http(fake: FakeOllama, body: bytes) -> bytes:
    """POST /api/chat over a bare socket, read until the server closes or the body ends."""
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as s:
        s.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def parse_chunks(raw: bytes) -> tuple[bytes, list[bytes], bool]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, chunks, True
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]
    return head, chunks, False


# ---------------------------------------------------------------------------------------------
# Simple endpoints
# ---------------------------------------------------------------------------------------------


def test_health_get_and_head(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.text == "Ollama is running"
    assert r.headers["content-type"].startswith("text/plain")
    h = client.head("/")
    assert h.status_code == 200 and h.content == b""


def test_version(client, fake):
    assert client.get("/api/version").json() == {"version": "0.12.10"}
    fake.version = "0.5.1"
    assert client.get("/api/version").json() == {"version": "0.5.1"}


def test_tags_several_models(client):
    r = client.get("/api/tags")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    models = r.json()["models"]
    assert [m["name"] for m in models] == MODELS
    for m in models:
        assert m["model"] == m["name"] and ":" in m["name"]
        assert re.fullmatch(r"[0-9a-f]{64}", m["digest"])
        assert m["size"] > 0
        assert {"format", "family", "parameter_size", "quantization_level"} <= set(m["details"])
    assert models[1]["details"]["parameter_size"] == "0.5B"


def test_tags_untagged_model_gets_latest_and_zero_models():
    with FakeOllama(models=["mistral"]) as f:
        assert httpx.get(f.base_url + "/api/tags").json()["models"][0]["name"] == "mistral:latest"
    with FakeOllama(models=[]) as f:
        r = httpx.get(f.base_url + "/api/tags")
        assert r.text == '{"models":[]}'


def test_unknown_route_is_gin_404(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and r.text == "404 page not found"
    assert client.get("/api/chat").status_code == 404


def test_show(client):
    r = client.post("/api/show", json={"model": "llama3.2"})
    assert r.status_code == 200
    data = r.json()
    assert data["capabilities"] == ["completion", "tools"]
    assert data["model_info"]["general.architecture"] == "llama"
    assert client.post("/api/show", json={"name": "qwen2.5:0.5b"}).status_code == 200
    r = client.post("/api/show", json={"model": "ghost"})
    assert r.status_code == 404 and r.json() == {"error": "model 'ghost' not found"}
    assert client.post("/api/show", json={}).json() == {"error": "model is required"}


# ---------------------------------------------------------------------------------------------
# /api/chat streaming
# ---------------------------------------------------------------------------------------------


def test_streaming_chat_line_framing(client, fake):
    text = "Hello there. Here is <b>a</b> & list:\n\n- one\n- two  "
    fake.script(Reply(text=text))
    r, lines = stream_lines(client, chat_body(stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["transfer-encoding"] == "chunked"
    assert lines and all(line.strip() for line in lines)
    objs = [json.loads(line) for line in lines]
    *parts, last = objs
    for o in parts:
        assert list(o) == ["model", "created_at", "message", "done"]
        assert o["model"] == "llama3.2" and o["done"] is False
        assert CREATED_AT.match(o["created_at"])
        assert o["message"]["role"] == "assistant"
    assert "".join(o["message"]["content"] for o in parts) == text
    assert len(parts) == len(split_tokens(text))
    assert last["done"] is True and last["done_reason"] == "stop"
    assert last["message"] == {"role": "assistant", "content": ""}
    for k in METRICS:
        assert isinstance(last[k], int) and last[k] > 0, k
    assert last["eval_count"] == len(parts)
    assert last["total_duration"] >= last["eval_duration"]
    # Go-style escaping on the wire
    assert any("\\u003cb\\u003e" in line for line in lines)


def test_raw_chunk_framing_one_chunk_per_line(fake):
    fake.script(Reply(text="one two three"))
    raw = raw_http(fake, json.dumps(chat_body()).encode())
    head, chunks, terminated = parse_chunks(raw)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding: chunked" in head
    assert terminated
    assert len(chunks) == 4
    for c in chunks:
        assert c.endswith(b"\n") and c.count(b"\n") == 1
        json.loads(c)
    assert b'"content":" two"' in chunks[1]


def test_token_size_and_explicit_tokens(client, fake):
    fake.script(Reply(text="abcdefg", token_size=3), Reply(tokens=["He", "llo", "!"]))
    _, lines = stream_lines(client, chat_body())
    assert [json.loads(x)["message"]["content"] for x in lines[:-1]] == ["abc", "def", "g"]
    _, lines = stream_lines(client, chat_body())
    assert [json.loads(x)["message"]["content"] for x in lines[:-1]] == ["He", "llo", "!"]


def test_default_reply_echoes_last_user_message(client, fake):
    body = {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "terse"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "why is the sky blue?"},
        ],
        "stream": False,
    }
    r = client.post("/api/chat", json=body)
    assert r.json()["message"]["content"] == "You said: why is the sky blue?"
    fake.default_reply = "fixed"
    assert client.post("/api/chat", json=body).json()["message"]["content"] == "fixed"
    assert fake.chat_requests == [body, body]
    assert fake.requests[-1].headers["content-type"] == "application/json"


def test_final_text_appended(client, fake):
    fake.script(Reply(text="Hello", final_text=" world."))
    _, lines = stream_lines(client, chat_body())
    objs = [json.loads(x) for x in lines]
    assert objs[-1]["done"] is True and objs[-1]["message"]["content"] == " world."
    assert "".join(o["message"]["content"] for o in objs) == "Hello world."


def test_metrics_omitted_and_no_done_reason(client, fake):
    fake.script(Reply(text="Hi", metrics=False, done_reason=""))
    _, lines = stream_lines(client, chat_body())
    last = json.loads(lines[-1])
    assert last["done"] is True
    assert not set(METRICS) & set(last)
    assert "done_reason" not in last


def test_thinking_chunks_come_first(client, fake):
    fake.script(Reply(thinking="Let me think. Yes.", text="Blue."))
    _, lines = stream_lines(client, chat_body())
    objs = [json.loads(x) for x in lines[:-1]]
    kinds = ["thinking" if "thinking" in o["message"] else "content" for o in objs]
    assert kinds == ["thinking"] * 4 + ["content"]
    assert all(o["message"]["content"] == "" for o in objs[:4])
    assert "".join(o["message"]["thinking"] for o in objs[:4]) == "Let me think. Yes."


@pytest.mark.parametrize("style", ["new", "old"])
def test_tool_call_chunk(client, fake, style):
    call = {"name": "get_weather", "arguments": {"city": "Tokyo"}}
    fake.script(Reply(tool_calls=[call, {"name": "noop", "arguments": {}}], tool_call_style=style))
    body = chat_body(tools=[{"type": "function", "function": {"name": "get_weather"}}])
    _, lines = stream_lines(client, body)
    assert len(lines) == 2
    chunk, last = (json.loads(x) for x in lines)
    assert chunk["done"] is False and chunk["message"]["content"] == ""
    calls = chunk["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "noop"]
    assert calls[0]["function"]["arguments"] == {"city": "Tokyo"}
    if style == "new":
        assert all(re.fullmatch(r"call_[a-z0-9]{8}", c["id"]) for c in calls)
        assert [c["function"]["index"] for c in calls] == [0, 1]
    else:
        assert all(set(c) == {"function"} for c in calls)
        assert all("index" not in c["function"] for c in calls)
    assert last["done"] is True


def test_stream_false_shape(client, fake):
    fake.script(
        Reply(
            text="Hello! How are you?",
            thinking="hmm",
            final_text=" Bye.",
            tool_calls=[{"name": "f", "arguments": {"x": 1}}],
        )
    )
    r = client.post("/api/chat", json=chat_body(stream=False))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    data = r.json()
    assert data["message"]["content"] == "Hello! How are you? Bye."
    assert data["message"]["thinking"] == "hmm"
    assert data["message"]["tool_calls"][0]["function"]["arguments"] == {"x": 1}
    assert data["done"] is True and data["done_reason"] == "stop"
    assert data["eval_count"] == 1 + 4 + 1 + 1  # thinking + content + final_text + call
    assert all(k in data for k in METRICS)
    assert "\n" not in r.text


def test_stream_omitted_means_streaming(client):
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "a b c"}]}
    r, lines = stream_lines(client, body)
    assert r.headers["content-type"] == "application/x-ndjson"
    assert len(lines) > 1 and json.loads(lines[-1])["done"] is True


def test_format_json_and_schema(client, fake):
    r = client.post("/api/chat", json=chat_body(format="json", stream=False))
    content = r.json()["message"]["content"]
    assert isinstance(content, str) and json.loads(content) == {"reply": "You said: hi"}
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    fake.script(Reply(text='{"age": 22}'))
    r = client.post("/api/chat", json=chat_body(format=schema, stream=False))
    assert json.loads(r.json()["message"]["content"]) == {"age": 22}
    fake.script(Reply(text="not consumed"))
    r = client.post("/api/chat", json=chat_body(format="yaml"))
    assert r.status_code == 500
    assert r.json()["error"].startswith('invalid format: "\\"yaml\\""; expected "json"')
    assert fake.pending_replies == 1


def test_num_predict_gives_length(client):
    r = client.post("/api/chat", json=chat_body("a b c d e", options={"num_predict": 2}))
    objs = [json.loads(x) for x in r.text.splitlines()]
    assert len(objs) == 3 and objs[-1]["done_reason"] == "length"
    assert objs[-1]["eval_count"] == 2


# ---------------------------------------------------------------------------------------------
# /api/chat errors and special requests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ("current", "model 'ghost' not found"),
        ("legacy", 'model "ghost" not found, try pulling it first'),
    ],
)
def test_unknown_model_404(client, fake, style, message):
    fake.not_found_style = style
    r = client.post("/api/chat", json=chat_body(model="ghost"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": message}


def test_model_names_match_with_or_without_latest(client):
    for name in ("llama3.2", "llama3.2:latest", "qwen2.5:0.5b"):
        r = client.post("/api/chat", json=chat_body(model=name, stream=False))
        assert r.status_code == 200 and r.json()["model"] == name
    assert client.post("/api/chat", json=chat_body(model="qwen2.5")).status_code == 404


def test_model_required(client):
    for body in ({"model": "", "messages": []}, {"messages": [{"role": "user", "content": "x"}]}):
        r = client.post("/api/chat", json=body)
        assert r.status_code == 400 and r.json() == {"error": "model is required"}


def test_empty_and_bad_bodies(client):
    r = client.post("/api/chat", content=b"")
    assert r.status_code == 400 and r.json() == {"error": "missing request body"}
    r = client.post("/api/chat", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"].startswith("invalid character")
    r = client.post("/api/chat", content=b'{"model": "llama3.2"')
    assert r.status_code == 400 and r.json()["error"] == "unexpected EOF"
    r = client.post("/api/chat", json=["x"])
    assert r.status_code == 400 and "cannot unmarshal array" in r.json()["error"]
    r = client.post("/api/chat", json={"model": 3})
    assert r.status_code == 400 and "cannot unmarshal number" in r.json()["error"]


def test_empty_messages_load_and_unload(client, fake):
    r = client.post("/api/chat", json={"model": "llama3.2", "messages": []})
    assert r.status_code == 200
    data = r.json()
    assert data["done"] is True and data["done_reason"] == "load"
    assert data["message"] == {"role": "assistant", "content": ""}
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == ["llama3.2:latest"]
    r = client.post("/api/chat", json={"model": "llama3.2", "messages": [], "keep_alive": 0})
    assert r.json()["done_reason"] == "unload"
    assert client.get("/api/ps").json() == {"models": []}
    r = client.post("/api/chat", json={"model": "llama3.2", "keep_alive": "0s"})
    assert r.json()["done_reason"] == "unload"


def test_case_insensitive_keys_and_roles(client, fake):
    body = {
        "MODEL": "llama3.2",
        "Messages": [{"ROLE": "USER", "Content": "shout"}],
        "STREAM": False,
    }
    r = client.post("/api/chat", json=body)
    assert r.status_code == 200
    assert r.json()["message"]["content"] == "You said: shout"
    assert fake.chat_requests[-1] == body


def test_tools_unsupported_400(client, fake):
    fake.capabilities["qwen2.5:0.5b"] = ["completion"]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    r = client.post("/api/chat", json=chat_body(model="qwen2.5:0.5b", tools=tools))
    assert r.status_code == 400
    assert r.json() == {"error": "registry.ollama.ai/library/qwen2.5:0.5b does not support tools"}
    r = client.post("/api/chat", json=chat_body(model="qwen2.5:0.5b", stream=False))
    assert r.status_code == 200
    assert client.post("/api/chat", json=chat_body(tools=tools, stream=False)).status_code == 200
    r = client.post("/api/chat", json=chat_body(think=True))
    assert r.status_code == 400 and r.json() == {"error": '"llama3.2" does not support thinking'}


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


def test_mid_stream_error_line_keeps_200(client, fake):
    fake.script(Reply(text="one two three four", error_after=2))
    r, lines = stream_lines(client, chat_body())
    assert r.status_code == 200
    objs = [json.loads(x) for x in lines]
    assert [o.get("message", {}).get("content") for o in objs[:2]] == ["one", " two"]
    assert objs[2] == {"error": MID_STREAM_ERROR}
    assert len(objs) == 3 and not any(o.get("done") for o in objs)
    assert fake.requests[-1].lines_sent == 3


def test_mid_stream_error_with_stream_false_is_500(client, fake):
    fake.script(Reply(text="a b", error_after=1, error="boom"))
    r = client.post("/api/chat", json=chat_body(stream=False))
    assert r.status_code == 500 and r.json() == {"error": "boom"}


def test_dropped_connection_raises_on_client(client, fake):
    fake.script(Reply(text="one two three four", drop_after=2))
    got = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/api/chat", json=chat_body()) as r,
    ):
        for line in r.iter_lines():
            got.append(json.loads(line))
    assert [o["message"]["content"] for o in got] == ["one", " two"]
    rec = fake.requests[-1]
    assert rec.aborted and not rec.completed and rec.lines_sent == 2


@pytest.mark.parametrize(
    ("status", "error"), [(500, RUNNER_CRASH), (503, SERVER_BUSY), (429, "custom")]
)
def test_http_error_before_stream(client, fake, status, error):
    fake.script(Reply(text="never", status=status, error="custom" if status == 429 else ""))
    r = client.post("/api/chat", json=chat_body())
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": error}
    if status == 503:
        assert "please try again.  maximum pending" in r.text  # two spaces, as upstream


async def test_huge_reply_reaches_the_client_whole(fake):
    """A 2 MB reply streams through the product's client intact (nothing cut, nothing lost)."""
    from botifython_tui.core.ollama import OllamaClient, ReplyDone, TokenReceived

    fake.script(Reply(text=HUGE, token_size=4096))
    text, done = [], []
    async with OllamaClient(fake.base_url) as ollama:
        async for event in ollama.chat("llama3.2", [{"role": "user", "content": "all of it"}]):
            if isinstance(event, TokenReceived):
                text.append(event.text)
            elif isinstance(event, ReplyDone):
                done.append(event)
    assert "".join(text) == HUGE and len(done) == 1
    assert fake.requests[-1].completed and not fake.requests[-1].disconnected


def test_request_body_over_the_limit_is_413_unread(fake):
    """A body announced over the limit is refused at once; nothing is recorded or generated."""
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as s:
        s.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000000\r\n\r\n{"
        )
        data = b"".join(iter(lambda: s.recv(65536), b""))
    assert data.startswith(b"HTTP/1.1 413") and b"request body too large" in data
    assert fake.requests == [] and fake.pending_replies == 0


def test_reset_connections(client, fake):
    fake.reset_connections = True
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/api/chat", json=chat_body())
    fake.reset_connections = False
    assert client.post("/api/chat", json=chat_body(stream=False)).status_code == 200


def test_connection_refused_after_stop():
    f = FakeOllama().start()
    url = f.base_url
    f.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/version", timeout=2)


def test_slow_first_token_triggers_client_timeout(fake):
    fake.script(Reply(text="late", first_token_delay=2.0))
    t0 = time.monotonic()
    with (
        httpx.Client(base_url=fake.base_url, timeout=httpx.Timeout(5, read=0.3)) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        c.post("/api/chat", json=chat_body())
    assert time.monotonic() - t0 < 1.0
    rec = fake.requests[-1]
    # The client gave up and closed the socket: the fake notices during its "load".
    assert wait_for(lambda: rec.disconnected, 1.0)
    assert rec.status is None and rec.lines_sent == 0


def test_client_disconnect_detected_and_generation_stops(client, fake):
    fake.script(Reply(text=" ".join(["word"] * 200), token_delay=0.05))
    with client.stream("POST", "/api/chat", json=chat_body()) as r:
        it = r.iter_lines()
        for _ in range(3):
            next(it)
        t_close = time.monotonic()
    rec = fake.requests[-1]
    assert wait_for(lambda: rec.disconnected, 0.5), "fake did not notice the disconnect"
    assert time.monotonic() - t_close < 0.5
    sent = rec.lines_sent
    assert sent <= 6
    time.sleep(0.3)
    assert rec.lines_sent == sent and not rec.completed


def test_token_delay_knob_and_eval_duration(client, fake):
    fake.token_delay = 0.02
    fake.script(Reply(text="a b c d e"))
    t0 = time.monotonic()
    _, lines = stream_lines(client, chat_body())
    elapsed = time.monotonic() - t0
    last = json.loads(lines[-1])
    assert elapsed >= 0.1
    assert 0.09e9 <= last["eval_duration"] <= elapsed * 1e9
    assert last["total_duration"] <= elapsed * 1e9 + 1e7


def test_20k_tokens_stream_fast(client, fake):
    n = 20_000
    fake.script(Reply(tokens=["tok "] * n))
    t0 = time.monotonic()
    count = 0
    done = None
    with client.stream("POST", "/api/chat", json=chat_body()) as r:
        for line in r.iter_lines():
            obj = json.loads(line)
            if obj["done"]:
                done = obj
            else:
                count += 1
    elapsed = time.monotonic() - t0
    assert count == n and done["eval_count"] == n
    assert elapsed < 3.0, elapsed
    assert fake.requests[-1].lines_sent == n + 1


def test_raw_lines(client, fake):
    fake.script(
        Reply(raw_lines=['{"model":"x","message":{"role":"assistant","content":"a"}', "", "]["])
    )
    r = client.post("/api/chat", json=chat_body())
    assert r.text.split("\n") == [
        '{"model":"x","message":{"role":"assistant","content":"a"}',
        "][",
        "",
    ]
    fake.script(Reply(raw_lines=["{}", "", "{}"], allow_blank=True))
    assert client.post("/api/chat", json=chat_body()).text == "{}\n\n{}\n"


def test_keep_alive_connection_reused(client, fake):
    for _ in range(3):
        stream_lines(client, chat_body())
    clients = {r.client for r in fake.requests}
    assert len(clients) == 1


# ---------------------------------------------------------------------------------------------
# /api/generate and /api/embed
# ---------------------------------------------------------------------------------------------


def test_generate_minimal(client, fake):
    fake.script(Reply(text="The sky"))
    r, lines = stream_lines(client, {"model": "llama3.2", "prompt": "why?"}, "/api/generate")
    objs = [json.loads(x) for x in lines]
    assert [o["response"] for o in objs[:-1]] == ["The", " sky"]
    assert objs[-1]["done"] is True and isinstance(objs[-1]["context"], list)
    r = client.post("/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False})
    assert r.json()["response"] == "You said: x"
    r = client.post("/api/generate", json={"model": "llama3.2"})
    assert r.json()["done"] is True and r.json()["response"] == ""
    r = client.post("/api/generate", json={"model": "ghost", "prompt": "x"})
    assert r.status_code == 404 and r.json() == {"error": "model 'ghost' not found"}


def test_embed_shapes(client, fake):
    def embed(inp, **kw):
        return client.post("/api/embed", json={"model": "llama3.2", "input": inp, **kw})

    one = embed("hello").json()
    assert one["model"] == "llama3.2" and len(one["embeddings"]) == 1
    vec = one["embeddings"][0]
    assert len(vec) == 8 and math.isclose(math.fsum(v * v for v in vec), 1.0, rel_tol=1e-6)
    two = embed(["hello", "world"]).json()["embeddings"]
    assert two[0] == vec and two[1] != vec
    assert embed("").json() == {"model": "llama3.2", "embeddings": []}
    assert embed([]).json() == {"model": "llama3.2", "embeddings": []}
    r = embed(["ok", 3])
    assert r.status_code == 400 and r.json() == {"error": "invalid input type"}
    short = embed("hello", dimensions=4).json()["embeddings"][0]
    assert len(short) == 4 and math.isclose(math.fsum(v * v for v in short), 1.0, rel_tol=1e-6)
    assert embed("hello", model="ghost").status_code == 404
    legacy = client.post("/api/embeddings", json={"model": "llama3.2", "prompt": "hello"})
    assert len(legacy.json()["embedding"]) == 8


# ---------------------------------------------------------------------------------------------
# Standalone mode
# ---------------------------------------------------------------------------------------------


def test_standalone_cycles_canned_replies(tmp_path):
    replies = tmp_path / "replies.txt"
    replies.write_text("First **reply**.\n%%\nSecond reply.\n", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.ollama_server",
            "--port",
            "0",
            "--tokens-per-second",
            "0",
            "--first-token-delay",
            "0",
            "--reply-file",
            str(replies),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        got = []
        for _ in range(3):
            r = httpx.post(base + "/api/chat", json=chat_body(stream=False), timeout=5)
            got.append(r.json()["message"]["content"])
        assert got == ["First **reply**.", "Second reply.", "First **reply**."]
    finally:
        proc.terminate()
        proc.wait(timeout=5)

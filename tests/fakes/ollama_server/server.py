"""The fake Ollama server: its knobs, script, records, models and every route."""

from __future__ import annotations

import json
import random
import time
import traceback
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from botifython_tui.core.http_server import BackgroundServer
from tests.fakes.ollama_server.http import (
    ClientGone,
    OllamaHandler,
    RecordedRequest,
    ServerStopping,
)
from tests.fakes.ollama_server.models import DEFAULT_CAPS, ModelCatalogue
from tests.fakes.ollama_server.replies import (
    Reply,
    echo_reply,
    split_tokens,
)
from tests.fakes.ollama_server.streaming import ReplyStreaming
from tests.fakes.ollama_server.wire import (
    TEXT_CT,
    HttpError,
    ci_get,
    embed_vector,
    full_model_name,
    go_type_name,
    goq,
    is_zero_duration,
    l2,
    normalize_model,
    rfc3339_now,
    think_requested,
    unmarshal_error,
)


class FakeOllama(ModelCatalogue, ReplyStreaming, BackgroundServer[RecordedRequest]):
    """A fake Ollama server on 127.0.0.1 (port 0 by default), HTTP/1.1 keep-alive.

    Knobs (plain attributes, settable at any time):

    * ``token_delay`` (0.0): seconds before each streamed line when the reply has none;
      0 streams as fast as possible (lines batched into ~16 KB writes, one chunk per line).
    * ``not_found_style``: ``"current"`` (``model 'x' not found``) or ``"legacy"``
      (``model "x" not found, try pulling it first``); applies to /api/chat and /api/embed.
    * ``reset_connections``: read each request, then close without any response.
    * ``version`` (``"0.12.10"``), ``tool_call_style`` (``"new"``: calls carry ``id`` and
      ``function.index``; ``"old"``: neither), ``embed_dim`` (8), ``context_length``.
    * ``capabilities``: model name -> list (``"completion"``, ``"tools"``, ``"thinking"``,
      ``"embedding"``, ``"vision"``). Unlisted models get ``default_capabilities``
      (``["completion", "tools"]``), or ``["embedding"]`` when the name looks like an
      embedding model (``embed``, ``minilm``, ``bge``...). Keys match with or without ``:latest``.
    * ``default_reply``: used when the script queue is empty; a callable taking the parsed
      request body and returning a :class:`Reply` or ``str``, or a fixed Reply/str.
      Default: :func:`echo_reply`.

    Records: ``requests`` (:class:`RecordedRequest`), ``chat_requests`` (parsed /api/chat
    bodies), ``loaded`` (models loaded, for /api/ps).
    """

    def __init__(
        self,
        models: list[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.models: list[str] = list(
            models if models is not None else ["llama3.2:latest", "qwen2.5:0.5b"]
        )
        # --- knobs -------------------------------------------------------------------------
        self.token_delay: float = 0.0
        self.not_found_style: str = "current"  # "current" | "legacy"
        self.reset_connections: bool = False
        self.version: str = "0.12.10"
        self.tool_call_style: str = "new"  # "new" | "old"
        self.capabilities: dict[str, list[str]] = {}
        self.default_capabilities: list[str] = list(DEFAULT_CAPS)
        self.default_reply: Callable[[dict[str, Any]], Reply | str] | Reply | str = echo_reply
        self.embed_dim: int = 8
        self.context_length: int = 131072
        # --- records -----------------------------------------------------------------------
        self.loaded: dict[str, float] = {}  # model key -> expiry (time.time())
        # --- internals ---------------------------------------------------------------------
        self._script: deque[Reply] = deque()
        self._rng = random.Random(seed)

    # -- life cycle (start, stop, port, url: the shared base) --------------------------------

    handler = OllamaHandler
    thread_name = "FakeOllama"

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT`` (the API lives under ``/api``)."""
        return super().base_url

    # -- script and records -------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies; each /api/chat or /api/generate that gets to generation pops one."""
        with self._lock:
            for r in replies:
                self._script.append(Reply(text=r) if isinstance(r, str) else r)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def chat_requests(self) -> list[Any]:
        """Parsed bodies of the ``POST /api/chat`` requests, in order."""
        with self._lock:
            return [r.json for r in self.requests if r.path == "/api/chat" and r.method == "POST"]

    def find_requests(self, path: str | None = None, method: str | None = None) -> list:
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if (path is None or r.path == path) and (method is None or r.method == method.upper())
        ]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        d = self.default_reply
        r = d(body) if callable(d) else d
        return Reply(text=r) if isinstance(r, str) else r

    def _record(
        self, method: str, raw_path: str, headers: Any, body: bytes, client: Any = None
    ) -> RecordedRequest:
        split = urlsplit(raw_path)
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed = None
        rec = RecordedRequest(
            method=method.upper(),
            path=split.path,
            query=split.query,
            headers={k.lower(): v for k, v in headers.items()},
            json=parsed,
            time=time.monotonic(),
            body=body,
            client=tuple(client) if client else None,
            t0_ns=time.perf_counter_ns(),
        )
        return self.record(rec)

    # -- routing ------------------------------------------------------------------------------

    _GET = {
        "/": "_h_root",
        "/api/version": "_h_version",
        "/api/tags": "_h_tags",
        "/api/ps": "_h_ps",
    }
    _POST = {
        "/api/show": "_h_show",
        "/api/chat": "_h_chat",
        "/api/generate": "_h_generate",
        "/api/embed": "_h_embed",
        "/api/embeddings": "_h_embeddings",
    }
    _HEAD_OK = frozenset({"/", "/api/version", "/api/tags"})

    def _handle(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        name = None
        if rec.method == "GET" or (rec.method == "HEAD" and rec.path in self._HEAD_OK):
            name = self._GET.get(rec.path)
        elif rec.method == "POST":
            name = self._POST.get(rec.path)
        if name is None:
            h.send_body(404, b"404 page not found", TEXT_CT)
            return
        try:
            getattr(self, name)(h, rec)
        except HttpError as exc:
            h.send_json(exc.status, {"error": exc.message})
        except (ClientGone, ServerStopping, OSError):
            raise
        except Exception:  # a bug in the fake: make it visible
            traceback.print_exc()
            if rec.status is None:
                h.send_json(500, {"error": "fake ollama internal error"})
            else:
                h.abort()

    @staticmethod
    def _body(rec: RecordedRequest, go_type: str) -> dict[str, Any]:
        raw = rec.body
        if not raw.strip():
            raise HttpError(400, "missing request body")
        try:
            text = raw.decode("utf-8")
            # Like Go's json.Decoder: decode the first value, ignore anything after it.
            obj, _ = json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip()))
        except UnicodeDecodeError as exc:
            raise HttpError(400, "invalid character in request body") from exc
        except json.JSONDecodeError as exc:
            text = exc.doc
            pos = exc.pos
            if pos >= len(text.rstrip()):
                raise HttpError(400, "unexpected EOF") from exc
            ch = text[pos]
            raise HttpError(
                400, f"invalid character '{ch}' looking for beginning of value"
            ) from exc
        if not isinstance(obj, dict):
            if obj is None:
                return {}
            raise HttpError(
                400, f"json: cannot unmarshal {go_type_name(obj)} into Go value of type {go_type}"
            )
        return obj

    # -- simple endpoints ---------------------------------------------------------------------

    def _h_root(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        h.send_body(200, b"Ollama is running", TEXT_CT)

    def _h_version(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        h.send_json(200, {"version": self.version})

    def _h_tags(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        h.send_json(
            200, {"models": [self._tag_entry(i, m) for i, m in enumerate(list(self.models))]}
        )

    def _h_ps(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        now = time.time()
        out = []
        with self._lock:
            loaded = [(k, v) for k, v in self.loaded.items() if v > now]
        for i, (name, expiry) in enumerate(loaded):
            entry = self._tag_entry(i, name)
            entry.pop("modified_at")
            exp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            entry.update(
                expires_at=exp, size_vram=entry["size"], context_length=self.context_length
            )
            out.append(entry)
        h.send_json(200, {"models": out})

    def _h_show(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.ShowRequest")
        model = ci_get(body, "model") or ci_get(body, "name")
        if model is not None and not isinstance(model, str):
            raise unmarshal_error(model, "struct field ShowRequest.model", "string")
        if not model:
            raise HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model, "current")
        details = self._details(name)
        arch = details["family"]
        caps = self.caps(name)
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.file_type": 15,
            "general.parameter_count": self._model_size(details),
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": 3072,
        }
        h.send_json(
            200,
            {
                "license": "FAKE LICENSE",
                "modelfile": f"# Modelfile generated by the fake\nFROM {full_model_name(name)}\n",
                "parameters": 'stop                           "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": info,
                "capabilities": caps,
                "modified_at": self._modified_at(0),
            },
        )

    # -- chat / generate ----------------------------------------------------------------------

    def _mark_loaded(self, name: str, keep_alive: Any) -> None:
        with self._lock:
            if is_zero_duration(keep_alive):
                self.loaded.pop(name, None)
            else:
                self.loaded[name] = time.time() + 300

    def _check_format(self, fmt: Any) -> None:
        if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
            return
        raw = json.dumps(fmt, separators=(",", ":"))
        raise HttpError(
            500, f'invalid format: {goq(raw)}; expected "json" or a valid JSON Schema object'
        )

    def _h_chat(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.ChatRequest")
        model = ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise unmarshal_error(model, "struct field ChatRequest.model", "string")
        messages = ci_get(body, "messages")
        if messages is not None and not isinstance(messages, list):
            raise unmarshal_error(messages, "struct field ChatRequest.messages", "[]api.Message")
        msgs: list[dict[str, Any]] = []
        for m in messages or []:
            if not isinstance(m, dict):
                raise unmarshal_error(m, "struct field ChatRequest.messages", "api.Message")
            role = ci_get(m, "role")
            content = ci_get(m, "content")
            if role is not None and not isinstance(role, str):
                raise unmarshal_error(role, "struct field Message.messages.role", "string")
            if content is not None and not isinstance(content, str):
                raise unmarshal_error(content, "struct field Message.messages.content", "string")
            msgs.append({"role": (role or "").lower(), "content": content or ""})
        stream = ci_get(body, "stream")
        if stream is not None and not isinstance(stream, bool):
            raise unmarshal_error(stream, "struct field ChatRequest.stream", "bool")
        if not model:
            raise HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        keep_alive = ci_get(body, "keep_alive")
        if not msgs:
            reason = "unload" if is_zero_duration(keep_alive) else "load"
            self._mark_loaded(name, keep_alive)
            h.send_json(
                200,
                {
                    "model": model,
                    "created_at": rfc3339_now(),
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": reason,
                },
            )
            return
        caps = self.caps(name)
        if "completion" not in caps:
            raise HttpError(400, f"{goq(model)} does not support chat")
        tools = ci_get(body, "tools")
        if tools and "tools" not in caps:
            raise HttpError(400, f"{full_model_name(name)} does not support tools")
        if think_requested(ci_get(body, "think")) and "thinking" not in caps:
            raise HttpError(400, f"{goq(model)} does not support thinking")
        self._check_format(ci_get(body, "format"))
        reply = self._next_reply(body)
        rec.reply = reply
        prompt_count = sum(len(split_tokens(m["content"])) + 4 for m in msgs) + 1
        self._mark_loaded(name, keep_alive)
        self._generate(
            h,
            rec,
            reply,
            model=model,
            stream=True if stream is None else stream,
            kind="chat",
            prompt_count=prompt_count,
            num_predict=self._num_predict(body),
        )

    @staticmethod
    def _num_predict(body: dict[str, Any]) -> int | None:
        opts = ci_get(body, "options")
        if isinstance(opts, dict):
            n = ci_get(opts, "num_predict")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                return n
        return None

    def _h_generate(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        body = self._body(rec, "api.GenerateRequest")
        model = ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise unmarshal_error(model, "struct field GenerateRequest.model", "string")
        prompt = ci_get(body, "prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise unmarshal_error(prompt, "struct field GenerateRequest.prompt", "string")
        stream = ci_get(body, "stream")
        if stream is not None and not isinstance(stream, bool):
            raise unmarshal_error(stream, "struct field GenerateRequest.stream", "bool")
        if not model:
            raise HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model, "current")
        keep_alive = ci_get(body, "keep_alive")
        if not prompt:
            resp = {
                "model": model,
                "created_at": rfc3339_now(),
                "response": "",
                "done": True,
            }
            if is_zero_duration(keep_alive):
                resp["done_reason"] = "unload"
            self._mark_loaded(name, keep_alive)
            h.send_json(200, resp)
            return
        caps = self.caps(name)
        if "completion" not in caps:
            raise HttpError(400, f"{full_model_name(name)} does not support generate")
        if think_requested(ci_get(body, "think")) and "thinking" not in caps:
            raise HttpError(400, f"{goq(model)} does not support thinking")
        self._check_format(ci_get(body, "format"))
        reply = self._next_reply(body)
        rec.reply = reply
        self._mark_loaded(name, keep_alive)
        self._generate(
            h,
            rec,
            reply,
            model=model,
            stream=True if stream is None else stream,
            kind="generate",
            prompt_count=len(split_tokens(prompt)) + 4,
            num_predict=self._num_predict(body),
        )

    # -- embeddings ---------------------------------------------------------------------------

    def _h_embed(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        t0 = rec.t0_ns
        body = self._body(rec, "api.EmbedRequest")
        model = ci_get(body, "model")
        if model is not None and not isinstance(model, str):
            raise unmarshal_error(model, "struct field EmbedRequest.model", "string")
        if not model:
            raise HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        raw = ci_get(body, "input")
        inputs: list[str] = []
        if isinstance(raw, str):
            if raw:
                inputs.append(raw)
        elif isinstance(raw, list):
            for v in raw:
                if not isinstance(v, str):
                    raise HttpError(400, "invalid input type")
                inputs.append(v)
        elif raw is not None:
            raise HttpError(400, "invalid input type")
        if not inputs:
            h.send_json(200, {"model": model, "embeddings": []})
            return
        dims = ci_get(body, "dimensions")
        dim = self.embed_dim
        vectors = []
        for text in inputs:
            v = embed_vector(normalize_model(name), text, dim)
            if isinstance(dims, int) and not isinstance(dims, bool) and 0 < dims < dim:
                v = l2(v[:dims])
            vectors.append(v)
        self._mark_loaded(name, ci_get(body, "keep_alive"))
        total = max(time.perf_counter_ns() - t0, 2)
        h.send_json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": total,
                "load_duration": max(total // 10, 1),
                "prompt_eval_count": sum(len(split_tokens(t)) for t in inputs) or len(inputs),
            },
        )

    def _h_embeddings(self, h: OllamaHandler, rec: RecordedRequest) -> None:
        """Legacy ``/api/embeddings``: ``{"model", "prompt"}`` -> one non-normalised vector."""
        body = self._body(rec, "api.EmbeddingRequest")
        model = ci_get(body, "model")
        if not isinstance(model, str) or not model:
            raise HttpError(400, "model is required")
        name = self._find_model(model)
        if name is None:
            raise self._not_found(model)
        prompt = ci_get(body, "prompt")
        if not isinstance(prompt, str) or not prompt:
            h.send_json(200, {"embedding": []})
            return
        v = embed_vector(normalize_model(name), prompt, self.embed_dim)
        h.send_json(200, {"embedding": [round(x * 3.7, 9) for x in v]})

"""Async streaming client for a local Ollama server: `POST /api/chat` read as NDJSON, line by line.

Leaving the stream (cancelling the task that iterates `chat()`) closes the HTTP connection, which
is how Ollama is told to stop generating: it has no cancel endpoint.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botifython_tui.core.ollama_address import (  # noqa: F401 (re-exported)
    DEFAULT_HOST,
    OllamaError,
    normalize_host,
)
from botifython_tui.core.settings import MODEL, OLLAMA_HOST
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    import httpx

log = get_logger("ollama")

DEFAULT_MODEL = "llama3.2"
CONNECT_TIMEOUT = 5.0
FIRST_TOKEN_TIMEOUT = 300.0  # loading a model from disk can take minutes
TOKEN_TIMEOUT = 120.0


class OllamaUnreachable(OllamaError):
    """Nothing answers at the host (not running, wrong host or port)."""


class ModelNotFound(OllamaError):
    """The model is not installed (HTTP 404)."""


class OllamaReplyError(OllamaError):
    """Ollama reported an error, before or in the middle of a reply."""


class OllamaTimeout(OllamaError):
    """Ollama stopped sending in time."""


def ollama_host(settings: Any, store: Any) -> str:
    """The declared setting: --ollama-host, then OLLAMA_HOST, then the stored one, then the default."""
    from botifython_tui.core.settings import SettingError

    try:
        return normalize_host(settings.setting(OLLAMA_HOST, store.kv).value)
    except (SettingError, ValueError) as exc:
        raise OllamaError(str(exc)) from None
    except Exception as exc:  # ConfigError: the same message, raised by the settings layer
        if type(exc).__name__ == "ConfigError":
            raise OllamaError(str(exc)) from None
        raise


async def choose_model(client: OllamaClient, kv: Any) -> str:
    """The model setting (BOTIFYTHON_MODEL, else the stored one); when neither is set, llama3.2
    if installed, else the first listed (then stored)."""
    from botifython_tui.core.settings import SettingError, resolve

    try:
        chosen = resolve(MODEL, kv=kv).value
    except SettingError as exc:
        raise OllamaError(f"{exc} Fix or unset it.") from None
    if chosen:
        return single_line(str(chosen))  # saved by an older version, maybe with escapes
    models = await client.models()
    if not models:
        raise OllamaError(
            f"Ollama at {client.host} has no models installed. "
            f"Install one with `ollama pull {DEFAULT_MODEL}`."
        )
    pick = next((m.name for m in models if same_model(m.name, DEFAULT_MODEL)), models[0].name)
    kv[MODEL] = pick
    return pick


def same_model(installed: str, wanted: str) -> bool:
    """`llama3.2` and `llama3.2:latest` name the same model."""

    def tagged(name: str) -> str:
        return name if ":" in name.split("/")[-1] else f"{name}:latest"

    return tagged(installed) == tagged(wanted)


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenReceived:
    text: str


@dataclass(frozen=True)
class ThinkingReceived:
    text: str


@dataclass(frozen=True)
class ToolCallsReceived:
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class ReplyDone:
    done_reason: str = ""
    eval_count: int | None = None
    eval_duration_ns: int | None = None
    prompt_eval_count: int | None = None
    total_duration_ns: int | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if self.eval_count and self.eval_duration_ns:
            return self.eval_count / (self.eval_duration_ns / 1e9)
        return None


ChatEvent = TokenReceived | ThinkingReceived | ToolCallsReceived | ReplyDone


@dataclass
class ModelInfo:
    name: str
    size: int = 0
    details: dict[str, Any] = field(default_factory=dict)


class OllamaClient:
    """Talks to one Ollama host. Use as `async with OllamaClient(host) as client:`."""

    def __init__(
        self,
        host: str | None = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        first_token_timeout: float = FIRST_TOKEN_TIMEOUT,
        token_timeout: float = TOKEN_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx

        self.host = normalize_host(host)
        self.connect_timeout = connect_timeout
        self.first_token_timeout = first_token_timeout
        self.token_timeout = token_timeout
        self._http = httpx.AsyncClient(
            base_url=self.host,
            transport=transport,
            timeout=httpx.Timeout(token_timeout, connect=connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "botifython"},
        )

    async def __aenter__(self) -> OllamaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def where(self) -> str:
        return urlsplit(self.host).netloc or self.host

    def _unreachable(self, exc: Exception) -> OllamaUnreachable:
        return OllamaUnreachable(
            f"Ollama is not answering at {self.host} ({type(exc).__name__}). Start it with "
            "`ollama serve`, or point OLLAMA_HOST (or --ollama-host) at the right host."
        )

    async def models(self) -> list[ModelInfo]:
        import httpx

        try:
            response = await self._http.get("/api/tags")
        except httpx.TimeoutException as exc:
            raise OllamaTimeout(f"Ollama at {self.host} did not answer in time.") from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise OllamaReplyError(
                f"Ollama at {self.host} could not list its models (HTTP {response.status_code}): "
                f"{_error_text(response.content)}"
            )
        try:
            listed = response.json().get("models") or []
        except (ValueError, AttributeError) as exc:
            raise OllamaReplyError(f"Ollama at {self.host} sent an unreadable model list.") from exc
        # Model names are the server's text: never a way to drive the terminal (real names
        # are plain `family:tag`, so a neutralised name only differs for a hostile one).
        return [
            ModelInfo(
                single_line(str(m.get("name") or m.get("model"))),
                int(m.get("size") or 0),
                m.get("details") or {},
            )
            for m in listed
            if isinstance(m, dict) and (m.get("name") or m.get("model"))
        ]

    async def chat(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
        keep_alive: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream one reply. Raises an `OllamaError` subclass with the fix in its message."""
        import httpx

        body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        if tools:
            body["tools"] = tools
        if options:
            body["options"] = options
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        timeout = httpx.Timeout(self.first_token_timeout, connect=self.connect_timeout)
        done = False
        try:
            async with self._http.stream(
                "POST", "/api/chat", json=body, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._http_error(response.status_code, response.content, model)
                async for line in _ndjson_lines(response):
                    if not line.strip():
                        continue
                    try:
                        part = json.loads(line)
                    except ValueError as exc:
                        raise OllamaReplyError(
                            f"Ollama sent a line that is not JSON: {line[:80]!r}"
                        ) from exc
                    if not isinstance(part, dict):
                        continue
                    if part.get("error"):
                        raise OllamaReplyError(
                            f"Ollama stopped with an error in the middle of the reply: {part['error']}"
                        )
                    message = part.get("message") if isinstance(part.get("message"), dict) else {}
                    if message.get("thinking"):
                        yield ThinkingReceived(str(message["thinking"]))
                    if message.get("tool_calls"):
                        yield ToolCallsReceived(_tool_calls(message["tool_calls"]))
                    if message.get("content"):
                        yield TokenReceived(str(message["content"]))
                    if part.get("done"):
                        done = True
                        yield ReplyDone(
                            done_reason=str(part.get("done_reason") or ""),
                            eval_count=_int(part.get("eval_count")),
                            eval_duration_ns=_int(part.get("eval_duration")),
                            prompt_eval_count=_int(part.get("prompt_eval_count")),
                            total_duration_ns=_int(part.get("total_duration")),
                        )
                        return
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from exc
        except httpx.TimeoutException as exc:
            raise OllamaTimeout(
                f"Ollama at {self.host} stopped sending ({type(exc).__name__}): the model may be "
                "loading or stuck. Try again, or a smaller model."
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise OllamaReplyError(
                f"The connection to Ollama at {self.host} dropped in the middle of the reply. "
                "The part received is kept; ask again to continue."
            ) from exc
        if not done:
            raise OllamaReplyError(
                f"The reply from Ollama at {self.host} ended without finishing. "
                "The part received is kept; ask again to continue."
            )

    def _http_error(self, status: int, content: bytes, model: str) -> OllamaError:
        text = _error_text(content)
        if status == 404:
            return ModelNotFound(
                f"The model {model!r} is not installed in Ollama at {self.host}. "
                f"Install it with `ollama pull {model}`, or choose another model."
            )
        if status == 503:
            return OllamaReplyError(
                f"Ollama at {self.host} is busy (HTTP 503): {text} Try again shortly."
            )
        if status >= 500:
            return OllamaReplyError(
                f"Ollama at {self.host} failed (HTTP {status}): {text} Check `ollama serve`'s log."
            )
        return OllamaReplyError(
            f"Ollama at {self.host} refused the request (HTTP {status}): {text}"
        )


async def _ndjson_lines(response: httpx.Response) -> AsyncIterator[str]:
    """NDJSON lines, split on b"\\n" only.

    httpx's aiter_lines() splits like str.splitlines(), also on U+0085, U+2028 and other
    separators that JSON strings may hold raw (Go's encoder leaves U+0085 as it is): a reply
    containing one would be cut into two halves that are not JSON.
    """
    pending = b""
    async for chunk in response.aiter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def _error_text(content: bytes) -> str:
    try:
        body = json.loads(content or b"{}")
    except ValueError:
        return content.decode("utf-8", "replace")[:200].strip() or "(no details)"
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return "(no details)"


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
    calls = []
    for item in raw if isinstance(raw, list) else []:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, str):  # some servers send a JSON string
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = {"_raw": arguments}
        calls.append(
            {"id": item.get("id"), "name": str(function["name"]), "arguments": arguments or {}}
        )
    return calls


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None

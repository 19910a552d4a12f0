"""What goes over the wire the way Ollama (Go) writes it: compact JSON with Go's escapes,
RFC 3339 times, case-insensitive keys, Go type errors, model names, and the HTTP error."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from http import HTTPStatus
from typing import Any

JSON_CT = "application/json; charset=utf-8"
NDJSON_CT = "application/x-ndjson"
TEXT_CT = "text/plain; charset=utf-8"


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# Small helpers: Go-style JSON, timestamps, names
# ---------------------------------------------------------------------------------------------

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(obj: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it (UTF-8, HTML characters escaped)."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = s.translate(_GO_ESCAPES)
    return s


def enc(s: str) -> bytes:
    return s.encode("utf-8", "replace")


def goq(s: str) -> str:
    """Approximately Go's ``%q``."""
    return json.dumps(s)


_ts_cache: list[Any] = [-1, ""]


def rfc3339_now() -> str:
    """UTC RFC 3339 with nanoseconds, trailing zeros trimmed, like Go's ``time.Time`` JSON."""
    ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    if _ts_cache[0] != sec:
        _ts_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache[0] = sec
    base = _ts_cache[1]
    if not frac:
        return base + "Z"
    return f"{base}.{frac:09d}".rstrip("0") + "Z"


def ci_get(obj: dict[str, Any], key: str, default: Any = None) -> Any:
    """Go ``encoding/json`` field matching: case-insensitive, the last matching key wins."""
    found = default
    folded = key.casefold()
    for k, v in obj.items():
        if k == key or k.casefold() == folded:
            found = v
    return found


def ci_has(obj: dict[str, Any], key: str) -> bool:
    folded = key.casefold()
    return any(k.casefold() == folded for k in obj)


def go_type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def unmarshal_error(value: Any, where: str, go_type: str) -> HttpError:
    return HttpError(
        400, f"json: cannot unmarshal {go_type_name(value)} into Go {where} of type {go_type}"
    )


def normalize_model(name: str) -> str:
    """``llama3.2`` -> ``llama3.2:latest`` (case-folded), for matching."""
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    return name.casefold()


def full_model_name(name: str) -> str:
    """Ollama's internal name: ``qwen2.5:0.5b`` -> ``registry.ollama.ai/library/qwen2.5:0.5b``."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    parts = name.split("/")
    if len(parts) == 1:
        parts = ["registry.ollama.ai", "library", *parts]
    elif len(parts) == 2:
        parts = ["registry.ollama.ai", *parts]
    return "/".join(parts)


def is_zero_duration(v: Any) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, int | float):
        return v == 0
    if isinstance(v, str):
        return bool(re.fullmatch(r"\s*[+]?0+(\.0*)?(ns|us|µs|ms|s|m|h)?\s*", v))
    return False


def think_requested(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() not in ("", "false", "none")
    return False


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def embed_vector(model_key: str, text: str, dim: int) -> list[float]:
    vals: list[float] = []
    counter = 0
    while len(vals) < dim:
        digest = hashlib.sha256(f"{model_key}\0{text}\0{counter}".encode()).digest()
        for i in range(0, len(digest), 4):
            vals.append(int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1.0)
        counter += 1
    vals = vals[:dim]
    return l2(vals)


def l2(vals: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return [round(v / norm, 9) for v in vals]

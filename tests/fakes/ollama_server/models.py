"""The models the fake knows: names with or without `:latest`, capabilities, details, tags."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.ollama_server.wire import (
    HttpError,
    goq,
    normalize_model,
)

DEFAULT_CAPS = ("completion", "tools")
_EMBED_NAME = re.compile(r"embed|minilm|bge|e5-|gte-", re.IGNORECASE)


class ModelCatalogue:
    """The part of FakeOllama that knows its models; mixed into it."""

    def _find_model(self, name: Any) -> str | None:
        """The configured model name matching ``name`` (with or without ``:latest``)."""
        if not isinstance(name, str) or not name.strip():
            return None
        want = normalize_model(name)
        for m in list(self.models):
            if normalize_model(m) == want:
                return m
        return None

    def caps(self, model: str) -> list[str]:
        want = normalize_model(model)
        for k, v in self.capabilities.items():
            if normalize_model(k) == want:
                return list(v)
        if _EMBED_NAME.search(model):
            return ["embedding"]
        return list(self.default_capabilities)

    def _not_found(self, name: str, style: str | None = None) -> HttpError:
        if (style or self.not_found_style) == "legacy":
            return HttpError(404, f"model {goq(name)} not found, try pulling it first")
        return HttpError(404, f"model '{name}' not found")

    @staticmethod
    def _details(name: str) -> dict[str, Any]:
        base = name.rsplit("/", 1)[-1]
        stem, _, tag = base.partition(":")
        fam_m = re.match(r"[a-zA-Z]+", stem)
        family = fam_m.group(0).lower() if fam_m else "llama"
        size_m = re.search(r"(\d+(?:\.\d+)?)([bm])\b", tag.lower()) or re.search(
            r"(\d+(?:\.\d+)?)([bm])\b", stem.lower()
        )
        param = f"{size_m.group(1)}{size_m.group(2).upper()}" if size_m else "3.2B"
        return {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": param,
            "quantization_level": "Q4_K_M",
        }

    @staticmethod
    def _model_size(details: dict[str, Any]) -> int:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([BM])", details["parameter_size"])
        params = float(m.group(1)) * (1e9 if m.group(2) == "B" else 1e6) if m else 3.2e9
        return int(params * 0.63) + 1_000_000

    @staticmethod
    def _modified_at(index: int) -> str:
        dt = datetime(2025, 5, 4, 17, 37, 44) - timedelta(days=index, minutes=7 * index)
        ns = 706015396 + index * 1111
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}".rstrip("0") + "-07:00"

    def _tag_entry(self, index: int, name: str) -> dict[str, Any]:
        tagged = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
        details = self._details(tagged)
        return {
            "name": tagged,
            "model": tagged,
            "modified_at": self._modified_at(index),
            "size": self._model_size(details),
            "digest": hashlib.sha256(tagged.encode()).hexdigest(),
            "details": details,
        }

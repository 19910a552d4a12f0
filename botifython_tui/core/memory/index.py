"""The vector index: FAISS `IndexIDMap2(IndexFlatIP)` saved atomically, with an approximate index
(IVF) built in the background once a profile holds more than `APPROX_THRESHOLD` vectors.

The flat index is the truth and the only thing saved. Its file is a small header (magic, JSON
with the model, dimension, count and the SHA-256 of the payload) followed by FAISS's own
serialisation, so a truncated or damaged file is recognised before FAISS reads it.

Why IVF and not HNSW: FAISS's HNSW cannot remove vectors, and documents are removed and replaced
all the time; `IndexIVFFlat` removes by id, so it stays in step with the flat index.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botifython_tui.core.memory.embeddings import EmbeddingError
from botifython_tui.logs import get_logger

if TYPE_CHECKING:
    import numpy as np

log = get_logger("memory.index")

MAGIC = b"BTFYVEC1"
# Above this many vectors a query on the flat index costs more than ~15 ms on a 2-core machine
# (it grows linearly: ~150 ms at a million). Below it exact search is fast enough and costs no
# extra memory. The approximate index is dropped again below 90% of the threshold (hysteresis).
APPROX_THRESHOLD = 100_000
IVF_NPROBE_SHARE = 1 / 24  # share of the lists probed per query (recall@5 ≥ 0.95, see bench)


class IndexCorrupt(Exception):
    """An index file that cannot be read; the message names the file and what happens next."""

    title = "Memory index unreadable"


@dataclass(frozen=True)
class IndexHeader:
    model: str
    dim: int
    count: int
    sha256: str


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise EmbeddingError(
            f"The document memory needs faiss-cpu ({exc.name or exc} is not installed). "
            "Install it with: pip install 'botifython-tui[memory]'"
        ) from exc
    return faiss


def atomic_write(path: Path, chunks: list[bytes]) -> None:
    """Write to a temporary name, fsync, rename over `path`, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def read_header(path: Path) -> tuple[IndexHeader, int]:
    """The header of an index file and the offset of its payload; `IndexCorrupt` if unreadable."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC) + 4)
            if len(head) < len(MAGIC) + 4 or head[: len(MAGIC)] != MAGIC:
                raise IndexCorrupt(f"{path} is not a Botifython vector index (bad header)")
            (length,) = struct.unpack("<I", head[len(MAGIC) :])
            if length > 1_000_000:
                raise IndexCorrupt(f"{path} has a damaged header")
            raw = handle.read(length)
    except OSError as exc:
        raise IndexCorrupt(f"{path} cannot be read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
        header = IndexHeader(
            str(data["model"]), int(data["dim"]), int(data["count"]), data["sha256"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} has a damaged header") from exc
    return header, len(MAGIC) + 4 + length


class VectorIndex:
    """One profile's vectors by chunk id. Thread-safe; searches use IVF when it is ready."""

    def __init__(
        self,
        dim: int,
        model: str,
        *,
        approx_threshold: int = APPROX_THRESHOLD,
        background: bool = True,
    ) -> None:
        faiss = _faiss()
        self.dim = dim
        self.model = model
        self.approx_threshold = approx_threshold
        self.background = background
        self.flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._approx: Any = None
        self._approx_quantizer: Any = None
        self._building: threading.Thread | None = None
        self._generation = 0  # bumped on every change, so a finished build knows what it missed
        self._lock = threading.RLock()
        self.approx_build_seconds: float | None = None

    # --- contents ----------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self.flat.ntotal)

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        with self._lock:
            return faiss.vector_to_array(self.flat.id_map).copy()

    def add(self, ids: Any, vectors: np.ndarray) -> None:
        import numpy as np

        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of {self.dim}, got {vectors.shape}")
        with self._lock:
            self.flat.add_with_ids(vectors, ids)
            if self._approx is not None:
                self._approx.add_with_ids(vectors, ids)
            self._generation += 1
        self.maybe_build_approx()

    def remove(self, ids: Any) -> int:
        import numpy as np

        ids = np.ascontiguousarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            removed = int(self.flat.remove_ids(ids))
            if self._approx is not None:
                self._approx.remove_ids(ids)
                if self.count < self.approx_threshold * 0.9:
                    self._approx = self._approx_quantizer = None
            self._generation += 1
        return removed

    def reconstruct(self, chunk_id: int) -> np.ndarray | None:
        """The stored vector of a chunk (to reuse it when a changed file keeps that chunk)."""
        with self._lock:
            try:
                return self.flat.reconstruct(int(chunk_id))
            except RuntimeError:
                return None

    # --- search ------------------------------------------------------------------------------
    @property
    def approximate(self) -> bool:
        return self._approx is not None

    def search(self, query: np.ndarray, k: int, *, exact: bool = False) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity), best first."""
        import numpy as np

        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with self._lock:
            if self.count == 0 or k <= 0:
                return []
            index = self.flat if exact or self._approx is None else self._approx
            scores, ids = index.search(query, min(k, self.count))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    # --- approximate index -------------------------------------------------------------------
    def maybe_build_approx(self) -> None:
        """Start the IVF build when the flat index has grown past the threshold."""
        with self._lock:
            if (
                self.count < self.approx_threshold
                or self._approx is not None
                or (self._building is not None and self._building.is_alive())
            ):
                return
            if not self.background:
                self._build_approx()
                return
            self._building = threading.Thread(
                target=self._build_approx, name="botifython-ivf-build", daemon=True
            )
            self._building.start()

    def wait_for_approx(self, timeout: float | None = None) -> bool:
        thread = self._building
        if thread is not None:
            thread.join(timeout)
        return self._approx is not None

    def _build_approx(self) -> None:
        faiss = _faiss()
        import numpy as np

        started = time.monotonic()
        with self._lock:
            generation = self._generation
            ids = faiss.vector_to_array(self.flat.id_map).copy()
            vectors = self.flat.index.reconstruct_n(0, self.count)
        try:
            quantizer, ivf = build_ivf(vectors, ids)
        except Exception:
            log.exception("building the approximate index failed; exact search continues")
            return
        with self._lock:
            if self._generation != generation:  # changes made during the build: apply them
                current = faiss.vector_to_array(self.flat.id_map)
                missing = np.setdiff1d(current, ids, assume_unique=True)
                gone = np.setdiff1d(ids, current, assume_unique=True)
                if len(gone):
                    ivf.remove_ids(np.ascontiguousarray(gone, dtype=np.int64))
                if len(missing):
                    extra = np.vstack([self.flat.reconstruct(int(i)) for i in missing])
                    ivf.add_with_ids(extra, np.ascontiguousarray(missing, dtype=np.int64))
            if self.count >= self.approx_threshold * 0.9:
                self._approx, self._approx_quantizer = ivf, quantizer
        self.approx_build_seconds = time.monotonic() - started
        log.info(
            "approximate index (IVF, %d lists) ready for %d vectors in %.1f s",
            ivf.nlist,
            len(ids),
            self.approx_build_seconds,
        )

    # --- files -------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Atomically replace `path` with this index (temp file, fsync, rename)."""
        faiss = _faiss()
        with self._lock:
            payload = faiss.serialize_index(self.flat).tobytes()
            count = self.count
        header = json.dumps(
            {
                "model": self.model,
                "dim": self.dim,
                "count": count,
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        ).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, [MAGIC, struct.pack("<I", len(header)), header, payload])

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        approx_threshold: int = APPROX_THRESHOLD,
        background: bool = True,
    ) -> VectorIndex:
        """Read an index file; raises `IndexCorrupt` (never a FAISS crash) if it is damaged."""
        faiss = _faiss()
        import numpy as np

        header, offset = read_header(path)
        try:
            payload = path.read_bytes()[offset:]
        except OSError as exc:
            raise IndexCorrupt(f"{path} cannot be read: {exc.strerror or exc}") from exc
        if hashlib.sha256(payload).hexdigest() != header.sha256:
            raise IndexCorrupt(f"{path} is damaged (its checksum does not match)")
        try:
            flat = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path} could not be read by FAISS: {exc}") from exc
        if flat.d != header.dim or flat.ntotal != header.count:
            raise IndexCorrupt(f"{path} does not match its header")
        if not isinstance(flat, faiss.IndexIDMap2):
            flat = faiss.downcast_index(flat)
            if not isinstance(flat, faiss.IndexIDMap2):
                raise IndexCorrupt(f"{path} holds an unexpected kind of index")
        index = cls(
            header.dim, header.model, approx_threshold=approx_threshold, background=background
        )
        index.flat = flat
        index.maybe_build_approx()
        return index


def ivf_lists(count: int) -> int:
    """About 4·√n inverted lists (FAISS's guideline), at least 1."""
    return max(1, min(count // 39, int(4 * math.sqrt(count))))


def build_ivf(vectors: np.ndarray, ids: np.ndarray) -> tuple[Any, Any]:
    """Train and fill an IVF-flat inner-product index; returns (quantizer, index)."""
    faiss = _faiss()
    import numpy as np

    dim = vectors.shape[1]
    nlist = ivf_lists(len(vectors))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 10  # k-means iterations: 10 is plenty for assigning lists
    ivf.train(np.ascontiguousarray(vectors, dtype=np.float32))
    ivf.add_with_ids(
        np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
    )
    ivf.nprobe = max(8, math.ceil(nlist * IVF_NPROBE_SHARE))
    return quantizer, ivf

"""The document memory: embeddings, a FAISS index per profile and chunk metadata in SQLite.

Importing this package is cheap: numpy, faiss and the model's runtime load on first use.
"""

from __future__ import annotations

from botifython_tui.core.memory.embeddings import (
    DEFAULT_MODEL,
    MODEL_ENV,
    Embedder,
    EmbeddingError,
    HashingEmbedder,
    MemoryUnavailable,
    configured_model,
    default_model_path,
    make_embedder,
    missing_memory_stack,
)
from botifython_tui.core.memory.events import (
    ChunksEmbedded,
    Event,
    FileDone,
    IngestReport,
    ModelLoading,
    ModelReady,
    Notice,
    ReconcileReport,
    ScanFinished,
)
from botifython_tui.core.memory.index import APPROX_THRESHOLD, IndexCorrupt
from botifython_tui.core.memory.index_store import MemoryStorageError
from botifython_tui.core.memory.records import CHAT, DOCUMENT, EXPORT, DocumentInfo, Hit
from botifython_tui.core.memory.service import Memory

__all__ = [
    "APPROX_THRESHOLD",
    "CHAT",
    "DEFAULT_MODEL",
    "DOCUMENT",
    "EXPORT",
    "MODEL_ENV",
    "ChunksEmbedded",
    "DocumentInfo",
    "Embedder",
    "EmbeddingError",
    "Event",
    "FileDone",
    "HashingEmbedder",
    "Hit",
    "IndexCorrupt",
    "IngestReport",
    "Memory",
    "MemoryStorageError",
    "MemoryUnavailable",
    "ModelLoading",
    "ModelReady",
    "Notice",
    "ReconcileReport",
    "ScanFinished",
    "configured_model",
    "default_model_path",
    "make_embedder",
    "missing_memory_stack",
]

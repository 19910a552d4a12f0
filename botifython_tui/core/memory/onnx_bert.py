"""A BERT encoder (all-MiniLM-L6-v2) as an ONNX graph, written from its safetensors weights.

No torch and no `onnx` package: the few protobuf messages an ONNX model needs are encoded here
by hand (the wire format is small and stable), so the packaged model runs on ONNX Runtime with
nothing heavier than numpy. The graph computes exactly what sentence-transformers computes with
the same weights (token embeddings, then `SentenceModel` pools and normalises them as
sentence-transformers does), and the file is written once, beside the index, then reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

GRAPH_VERSION = 2  # bump when the graph changes: the cached file name carries it
OPSET = 17  # LayerNormalization
IR_VERSION = 8
_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


# --- protobuf wire format ------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def _attribute(name: str, value: float | int | list[int]) -> bytes:
    if isinstance(value, float):
        return _bytes(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _bytes(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)


def _node(op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> bytes:
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    body += _bytes(4, op)
    body += b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    import numpy as np

    kind = _INT64 if array.dtype == np.int64 else _FLOAT
    array = np.ascontiguousarray(array, dtype=np.int64 if kind == _INT64 else np.float32)
    body = b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name)
    return body + _bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes())


def _value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


# --- weights -------------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (memory-mapped; read-only views)."""
    import numpy as np

    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) < 8:
        raise ValueError(f"{path} is not a safetensors file")
    (length,) = struct.unpack("<Q", bytes(data[:8]))
    if length > len(data) - 8:
        raise ValueError(f"{path} is not a safetensors file")
    header = json.loads(bytes(data[8 : 8 + length]))
    types = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = types[info["dtype"]]
        raw = data[8 + length + start : 8 + length + end]
        tensors[name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(
            info["shape"]
        )
    return tensors


def bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> bytes:
    """An ONNX model: input embeddings [B, T, H] and attention_bias → token embeddings [B, T, H].

    The embedding tables stay out of the graph (`Embeddings` looks the rows up from the
    memory-mapped weights): the file is half the size and a session starts twice as fast.
    """
    import numpy as np

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    head_dim = hidden // heads
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name: str) -> np.ndarray:
        return weights[prefix + name]

    nodes: list[bytes] = []
    inits: list[bytes] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(_tensor(name, array))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(_node(op, inputs, [output], **attrs))
        return output

    def dense(x: str, name: str, out: str, scale: float = 1.0) -> str:
        weight = init(f"{out}.w", (w(f"{name}.weight").T * scale).astype(np.float32))
        bias = init(f"{out}.b", (w(f"{name}.bias") * scale).astype(np.float32))
        return node("Add", [node("MatMul", [x, weight], f"{out}.mm"), bias], out)

    def layer_norm(x: str, name: str, out: str) -> str:
        scale = init(f"{out}.g", w(f"{name}.weight"))
        bias = init(f"{out}.beta", w(f"{name}.bias"))
        return node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    heads_shape = init("heads_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merged_shape = init("merged_shape", np.array([0, 0, hidden], dtype=np.int64))
    half = init("half", np.array(0.5, dtype=np.float32))
    one = init("one", np.array(1.0, dtype=np.float32))
    root2 = init("root2", np.array(math.sqrt(2.0), dtype=np.float32))

    x = layer_norm("input_embeddings", "embeddings.LayerNorm", "e.ln")
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q = dense(x, p + "attention.self.query", f"l{i}.q", 1.0 / math.sqrt(head_dim))
        k = dense(x, p + "attention.self.key", f"l{i}.k")
        v = dense(x, p + "attention.self.value", f"l{i}.v")
        q = node("Transpose", [node("Reshape", [q, heads_shape], f"l{i}.qr")], f"l{i}.qt", perm=[0, 2, 1, 3])  # fmt: skip
        k = node("Transpose", [node("Reshape", [k, heads_shape], f"l{i}.kr")], f"l{i}.kt", perm=[0, 2, 3, 1])  # fmt: skip
        v = node("Transpose", [node("Reshape", [v, heads_shape], f"l{i}.vr")], f"l{i}.vt", perm=[0, 2, 1, 3])  # fmt: skip
        scores = node("Add", [node("MatMul", [q, k], f"l{i}.qk"), "attention_bias"], f"l{i}.s")
        probs = node("Softmax", [scores], f"l{i}.p", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"l{i}.c")], f"l{i}.ct", perm=[0, 2, 1, 3])  # fmt: skip
        context = node("Reshape", [context, merged_shape], f"l{i}.cm")
        attended = dense(context, p + "attention.output.dense", f"l{i}.o")
        x = layer_norm(node("Add", [attended, x], f"l{i}.r1"), p + "attention.output.LayerNorm", f"l{i}.ln1")  # fmt: skip
        inner = dense(x, p + "intermediate.dense", f"l{i}.i")
        # GELU (erf form, as BERT): 0.5·x·(1 + erf(x/√2))
        erf = node("Erf", [node("Div", [inner, root2], f"l{i}.g1")], f"l{i}.g2")
        gelu = node("Mul", [node("Mul", [inner, half], f"l{i}.g3"), node("Add", [erf, one], f"l{i}.g4")], f"l{i}.g5")  # fmt: skip
        out = dense(gelu, p + "output.dense", f"l{i}.f")
        x = layer_norm(node("Add", [out, x], f"l{i}.r2"), p + "output.LayerNorm", f"l{i}.ln2")
    nodes.append(_node("Identity", [x], ["token_embeddings"]))

    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "bert")
    graph += b"".join(_bytes(5, t) for t in inits)
    graph += _bytes(11, _value_info("input_embeddings", _FLOAT, ["batch", "tokens", hidden]))
    graph += _bytes(11, _value_info("attention_bias", _FLOAT, ["batch", 1, 1, "tokens"]))
    graph += _bytes(12, _value_info("token_embeddings", _FLOAT, ["batch", "tokens", hidden]))
    opset = _bytes(1, "") + _int(2, OPSET)
    return _int(1, IR_VERSION) + _bytes(2, "botifython") + _bytes(8, opset) + _bytes(7, graph)


class Embeddings:
    """BERT's input embeddings (word + position + token type 0), looked up in numpy from the
    memory-mapped safetensors file: only the rows of the words used are read."""

    def __init__(self, model_dir: Path) -> None:
        weights = read_safetensors(model_dir / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.words = weights[prefix + "embeddings.word_embeddings.weight"]
        self.positions = weights[prefix + "embeddings.position_embeddings.weight"]
        self.kind = weights[prefix + "embeddings.token_type_embeddings.weight"][0]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        import numpy as np

        out = np.take(self.words, ids, axis=0)
        out += self.positions[: ids.shape[1]]
        out += self.kind
        return np.ascontiguousarray(out, dtype=np.float32)


# --- the cached file -----------------------------------------------------------------------------

_build_lock = threading.Lock()


class SentenceModel:
    """BERT token embeddings on ONNX Runtime, then mean pooling and L2 normalisation, as
    sentence-transformers does them (`Pooling(mean)` then `Normalize`)."""

    def __init__(self, session: Any, embeddings: Any, tokenizer: Any, max_tokens: int) -> None:
        self.session = session
        self.embeddings = embeddings
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import numpy as np

        encoded = self.tokenizer.encode_batch(texts)  # with [CLS] … [SEP]
        ids_of = []
        for item in encoded:
            ids = item.ids
            if len(ids) > self.max_tokens:  # cut as sentence-transformers does, [SEP] kept
                ids = ids[: self.max_tokens - 1] + ids[-1:]
            ids_of.append(ids)
        order = sorted(range(len(texts)), key=lambda i: -len(ids_of[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids_of[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                ids[r, : len(ids_of[i])] = ids_of[i]
                mask[r, : len(ids_of[i])] = 1.0
            bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
            (hidden,) = self.session.run(
                None, {"input_embeddings": self.embeddings(ids), "attention_bias": bias}
            )
            summed = np.einsum("btd,bt->bd", hidden, mask)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        return out


def weights_fingerprint(model_dir: Path) -> str:
    """Names one version of the weights (size and mtime, cheap) and of this graph."""
    parts = [f"graph{GRAPH_VERSION}"]
    for name in ("model.safetensors", "config.json"):
        info = (model_dir / name).stat()
        parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def build_model_bytes(model_dir: Path) -> bytes:
    """The ONNX model for a BERT folder with model.safetensors and config.json."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert":
        raise ValueError(f"{model_dir} is not a BERT model")
    return bert_graph(read_safetensors(model_dir / "model.safetensors"), config)


def cached_model(model_dir: Path, cache_dir: Path | None, stem: str) -> Path | bytes:
    """The ONNX file in `cache_dir` (written once, atomically), or the bytes if it cannot be."""
    if cache_dir is None:
        return build_model_bytes(model_dir)
    target = cache_dir / f"{stem}-{weights_fingerprint(model_dir)}.onnx"
    if target.is_file():
        return target
    with _build_lock:
        if target.is_file():
            return target
        data = build_model_bytes(model_dir)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            for old in cache_dir.glob(f"{stem}-*.onnx"):  # earlier graph or weights versions
                if old != target:
                    old.unlink(missing_ok=True)
        except OSError:
            return data  # a read-only or full folder: run from memory this time
        return target

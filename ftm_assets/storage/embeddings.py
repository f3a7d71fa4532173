"""Stored sentence embeddings: what a batch computed, so a re-run with other topic settings embeds nothing.

Each file holds one row per sentence, grouped by firm in the firm's own order: ``call`` (16 bytes, sha256 of
the firm's ordered sentence texts: the *call key*), ``sentence`` (16 bytes, sha256 of the text) and
``vector`` (the fp16 embedding, little-endian bytes). Its key-value metadata names the embedding identity
(model, weights fingerprint, backend, precision, device, batch size and batching, runtime versions): vectors made with
another identity are never reused.

Why a firm is reused whole, keyed by its call, and not sentence by sentence: an embedding depends a little
on the other sentences of its encoder batch (padding; on a bf16 CPU up to 3e-3, enough to flip ~18% of the
fp16-rounded vectors), so only a firm's full, unchanged sentence list gives back exactly the vectors a run
without the store computes. Reusing whole firms keeps topics bit for bit independent of the store's state.
No I/O here beyond the bytes handed in; ``worker.embedding_store`` decides which files to read and write.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.storage.file_hash import file_sha256
from ftm_assets.versions import installed_versions

KEY_BYTES = 16
IDENTITY_META = "ftm.embedding_identity"
DIM_META = "ftm.embedding_dim"
RUNTIMES = ("torch", "transformers", "sentence-transformers", "onnxruntime")


class EmbeddingFileError(ValueError):
    """A stored embeddings file cannot be read back (truncated, another format); the caller embeds again."""


def text_hash(text: str) -> bytes:
    """The 16-byte key of a sentence's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


def call_key(sentence_hashes: list[bytes]) -> bytes:
    """The 16-byte key of a firm's ordered sentence list (the unit that is reused whole)."""
    digest = hashlib.sha256()
    for h in sentence_hashes:
        digest.update(h)
    return digest.digest()[:KEY_BYTES]


def model_fingerprint(model_path: str) -> str:
    """Every file of the model folder by content (its pooling, its ``max_seq_length``, its weights), machine-
    independent; each file's hash is cached by path, size and mtime, so the folder is read once per machine."""
    root = Path(model_path)
    if not root.is_dir():
        return "name-only"  # a hub name: the identity then rests on the name and the runtime versions
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}:{file_sha256(path, persist=True)}\n".encode())
    return digest.hexdigest()[:16]


def runtime_versions() -> dict[str, str]:
    """The libraries whose arithmetic makes the vectors (an upgrade can move their last bits)."""
    return installed_versions(RUNTIMES)


@dataclass(frozen=True)
class EmbeddingIdentity:
    """Everything that changes the numbers of an embedding; stored vectors are reused only under an equal one."""

    model: str  # the model folder's name
    fingerprint: str  # model_fingerprint of its files
    backend: str
    precision: str
    device: str
    batch_size: int  # the encoder's batch size: the batches' padding moves the last bits
    runtimes: str  # JSON of runtime_versions()
    # How the batches are cut ("count": batch_size sentences; "tokens<=N": a token budget, issue 29); files
    # from before the field say nothing and were cut by count.
    batching: str = "count"

    @classmethod
    def of(
        cls, model_path: str, backend: str, precision: str, device: str, batch_size: int, batching: str = "count"
    ) -> EmbeddingIdentity:
        """``device`` as the worker names it, GPU model included (``worker.model.embed.device_name``): torch is
        asked there, so that this module, which the theme side reads stored vectors with, never imports it."""
        return cls(Path(model_path).name or model_path, model_fingerprint(model_path), backend, precision,
                   device, int(batch_size), json.dumps(runtime_versions(), sort_keys=True), batching)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmbeddingIdentity:
        return cls(**json.loads(text))

    def describe(self) -> str:
        return f"{self.model} ({self.fingerprint}) on {self.device}, {self.backend} {self.precision}"


@dataclass
class FirmVectors:
    """One firm's fp16 vectors in sentence order, with the keys they are stored under."""

    call: bytes
    sentences: list[bytes]
    vectors: np.ndarray  # (n, dim) float16

    def __post_init__(self) -> None:
        if len(self.sentences) != len(self.vectors):
            raise ValueError(f"{len(self.sentences)} sentence keys for {len(self.vectors)} vectors.")


def encode_file(firms: list[FirmVectors], identity: EmbeddingIdentity) -> bytes:
    """The Parquet bytes of ``firms`` (one row per sentence, each firm's rows together, in order)."""
    dim = firms[0].vectors.shape[1] if firms else 0
    n = sum(len(f.sentences) for f in firms)
    calls = b"".join(f.call * len(f.sentences) for f in firms)
    sentences = b"".join(h for f in firms for h in f.sentences)
    vectors = b"".join(np.ascontiguousarray(f.vectors, dtype="<f2").tobytes() for f in firms)
    table = pa.table({
        "call": _fixed(calls, KEY_BYTES, n),
        "sentence": _fixed(sentences, KEY_BYTES, n),
        "vector": _fixed(vectors, 2 * dim, n),
    })
    meta = {IDENTITY_META: identity.to_json(), DIM_META: str(dim), "ftm.embedding_dtype": "float16 little-endian"}
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", use_dictionary=["call"])
    return sink.getvalue()


def _fixed(data: bytes, width: int, n: int) -> pa.Array:
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(max(width, 1)), n, [None, pa.py_buffer(data)])


@dataclass
class StoredFile:
    """A file's identity and its rows: calls and sentences as (n, 16) uint8, vectors as (n, dim) float16."""

    identity: EmbeddingIdentity
    calls: np.ndarray
    sentences: np.ndarray
    vectors: np.ndarray | None  # None when read with ``keys_only``

    def spans(self) -> dict[bytes, tuple[int, int]]:
        """Each call key's (first row, row count); a call stored twice in one file keeps its first run."""
        out: dict[bytes, tuple[int, int]] = {}
        n = len(self.calls)
        if n == 0:
            return out
        starts = np.flatnonzero(np.r_[True, (self.calls[1:] != self.calls[:-1]).any(axis=1)])
        ends = np.r_[starts[1:], n]
        for start, end in zip(starts.tolist(), ends.tolist()):
            out.setdefault(self.calls[start].tobytes(), (start, end - start))
        return out


def decode_file(data: bytes, *, keys_only: bool = False) -> StoredFile:
    """A file written by ``encode_file``; ``EmbeddingFileError`` if it is not one."""
    try:
        columns = ["call", "sentence"] if keys_only else None
        table = pq.read_table(io.BytesIO(data), columns=columns)
        meta = table.schema.metadata or {}
        identity = EmbeddingIdentity.from_json(meta[IDENTITY_META.encode()].decode())
        dim = int(meta[DIM_META.encode()])
        calls = _rows(table.column("call"), KEY_BYTES, np.uint8)
        sentences = _rows(table.column("sentence"), KEY_BYTES, np.uint8)
        vectors = None if keys_only else _rows(table.column("vector"), 2 * dim, "<f2")
    except (pa.ArrowException, KeyError, TypeError, ValueError, OSError) as exc:
        raise EmbeddingFileError(f"{type(exc).__name__}: {exc}") from exc
    return StoredFile(identity, calls, sentences, vectors)


def _rows(column: pa.ChunkedArray, width: int, dtype) -> np.ndarray:
    """A fixed-size binary column as an (n, width / itemsize) array."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if arr.null_count:
        raise ValueError("null rows in a stored embeddings file")
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * width : (arr.offset + len(arr)) * width]
    return raw.view(dtype).reshape(len(arr), -1) if len(arr) else np.zeros((0, width // np.dtype(dtype).itemsize), dtype)

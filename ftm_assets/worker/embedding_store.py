"""The partition's stored embeddings during one attempt: which firms need no embedding, and what to write.

``EmbeddingStore`` is built by the batch loop from the files the last commit and the checkpoint name
(``candidate_files``), handed to the processor, and asked once per firm (``lookup``) from the thread that
prepares firms. It reads only the keys of every file at the first lookup, then a file's vectors when a
firm needs them (the last two files stay decoded: firms come in manifest order, as they were written, so
memory stays flat with the batch). A file that is missing, unreadable or made with another embedding
identity is skipped with a warning naming it: the firm is embedded again, never failed for a cache.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ftm_assets.storage import Storage, StorageError
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.storage.embeddings import (
    EmbeddingFileError,
    EmbeddingIdentity,
    FirmVectors,
    StoredFile,
    decode_file,
)
from ftm_assets.worker.outputs import BatchState

DECODED_FILES_KEPT = 2


def candidate_files(committed: CommitRecord | None, checkpoint: BatchState | None) -> list[str]:
    """Stored embeddings this attempt may reuse: the checkpoint's own and carried files, then the commit's."""
    keys: list[str] = []
    if checkpoint is not None:
        keys += checkpoint.embedding_parts + checkpoint.embedding_carried
    if committed is not None:
        keys += committed.embedding_parts
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Hit:
    vectors: np.ndarray  # (n, dim) float16, the firm's sentences in order
    source: str  # the file they came from: the next commit must name it


class EmbeddingStore:
    """Lookups in one partition's stored embeddings for one embedding identity (``lookup``'s first call)."""

    def __init__(self, storage: Storage, files: list[str], log: logging.Logger):
        self.storage = storage
        self.files = list(dict.fromkeys(files))
        self.log = log
        self._identity: EmbeddingIdentity | None = None
        self._keys: dict[int, StoredFile] = {}
        self._index: dict[bytes, tuple[int, int, int]] = {}  # call key -> (file, first row, rows)
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # lookups come from the prepare thread; this keeps a second caller safe

    def lookup(self, identity: EmbeddingIdentity, call: bytes, sentences: list[bytes]) -> Hit | None:
        """The stored vectors of exactly this sentence list (``call`` is its key) under ``identity``, or None."""
        with self._lock:
            if self._identity != identity:
                self._load_keys(identity)
            where = self._index.get(call)
            if where is None:
                return None
            i, start, n = where
            stored = self._keys[i]
            if n != len(sentences) or stored.sentences[start : start + n].tobytes() != b"".join(sentences):
                return None  # a different sentence list under the same call key: never trust it
            vectors = self._vectors(i)
            if vectors is None:
                return None
            return Hit(vectors[start : start + n].copy(), self.files[i])

    def _load_keys(self, identity: EmbeddingIdentity) -> None:
        self._identity, self._keys, self._index = identity, {}, {}
        self._decoded.clear()
        other = []
        for i, key in enumerate(self.files):
            stored = self._read(i, keys_only=True)
            if stored is None:
                continue
            if stored.identity != identity:
                other.append(key)
                continue
            self._keys[i] = stored
            for call, (start, n) in stored.spans().items():
                self._index.setdefault(call, (i, start, n))
        if other:
            self.log.info(f"{len(other)} stored embeddings file(s) were made by another model or embedder "
                          f"({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); not reused: "
                          f"this run embeds with {identity.describe()}.")

    def _vectors(self, i: int) -> np.ndarray | None:
        if i in self._decoded:
            self._decoded.move_to_end(i)
            return self._decoded[i]
        stored = self._read(i, keys_only=False)
        if stored is None or stored.identity != self._identity or stored.vectors is None:
            self._forget(i)
            return None
        self._decoded[i] = stored.vectors
        while len(self._decoded) > DECODED_FILES_KEPT:
            self._decoded.popitem(last=False)
        return stored.vectors

    def _read(self, i: int, *, keys_only: bool) -> StoredFile | None:
        key = self.files[i]
        try:
            return decode_file(self.storage.read_bytes(key), keys_only=keys_only)
        except (StorageError, EmbeddingFileError) as exc:
            self.log.warning(f"Stored embeddings {self.storage.uri(key)} could not be read ({str(exc).rstrip('.')}); "
                             "the firms it held are embedded again.")
            self._forget(i)
            return None

    def _forget(self, i: int) -> None:
        """Drop a file that failed to read: its firms are embedded again."""
        self._keys.pop(i, None)
        self._index = {call: where for call, where in self._index.items() if where[0] != i}


@dataclass(frozen=True)
class EmbeddingUse:
    """How one firm got its embeddings, carried from ``prepare`` to the batch loop with its result."""

    new: FirmVectors | None  # computed now: written with the next part
    source: str | None  # reused from this stored file: the next checkpoint and commit name it
    embedded: int  # sentences embedded now
    reused: int  # sentences whose vectors came from the store
    identity: EmbeddingIdentity | None = None  # of ``new``

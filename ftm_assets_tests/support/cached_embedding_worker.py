"""``python -m ftm_assets_tests.support.cached_embedding_worker``: the shipped worker whose embedder reuses a
sentence's vector when the same text was embedded before in this test session (same model and settings).

For tests that run the real model over the same real calls more than once (the theme figures' three quarters:
the second holds a subset of each of the first's calls, the third repeats them). Everything else, the topics,
themes and panel included, is computed as shipped; only a call whose every sentence was embedded before is
not embedded again: its vectors are the ones the model gave those texts before (the embedding store does
the same across re-runs of a partition, ``worker/embedding_store.py``; this one also spans quarters).

The folder is ``FTM_TEST_EMBED_CACHE`` (a session tmp dir, set by the test for its worker processes); without
the variable this is the shipped worker. Each worker process appends one file of the vectors it computed.
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

import ftm_assets.worker.__main__ as worker
from ftm_assets.worker.model.embed import Embedder

CACHED_EMBEDDING_WORKER_MODULE = "ftm_assets_tests.support.cached_embedding_worker"
CACHE_ENV = "FTM_TEST_EMBED_CACHE"


class SentenceVectors:
    """Vectors by sentence text, for one embedding identity, in ``.npz`` files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.vectors: dict[str, np.ndarray] = {}
        for part in sorted(folder.glob("*.npz")):
            with np.load(part) as data:
                self.vectors.update(zip(data["keys"].tolist(), data["vectors"]))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def encode(self, encode: Callable[[list[str]], np.ndarray], sentences: list[str]) -> np.ndarray:
        """``encode(sentences)`` unless every text was embedded before: then the vectors it gave them.

        A list with any new text goes to the model whole, as the shipped worker sends it, so the vectors (and
        the topics, which flip on 1e-5 noise) are those of a run without this cache.
        """
        keys = [self.key(s) for s in sentences]
        if not keys or any(k not in self.vectors for k in keys):
            vectors = encode(sentences)
            new = {k: v for k, v in zip(keys, vectors) if k not in self.vectors}
            if new:
                self.vectors.update(new)
                self._append(list(new), np.stack(list(new.values())))
            return vectors
        return np.stack([self.vectors[k] for k in keys])

    def _append(self, keys: list[str], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{uuid.uuid4().hex}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=vectors)
        os.replace(tmp, self.folder / f"{uuid.uuid4().hex}.npz")  # whole files only, for the next process


def identity(embedder: Embedder) -> str:
    """What the vectors depend on: the model, backend, precision and batch size."""
    parts = (embedder.model_path, embedder.backend, embedder.precision, str(embedder.batch_size))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def use_sentence_cache(root: Path) -> None:
    """Wrap ``Embedder.encode`` of this process with a ``SentenceVectors`` per embedder identity."""
    shipped = Embedder.encode
    caches: dict[str, SentenceVectors] = {}

    def encode(self: Embedder, sentences: list[str]) -> np.ndarray:
        cache = caches.setdefault(identity(self), SentenceVectors(root / identity(self)))
        return cache.encode(lambda texts: shipped(self, texts), sentences)

    Embedder.encode = encode  # type: ignore[method-assign]


if __name__ == "__main__":
    if os.environ.get(CACHE_ENV):
        use_sentence_cache(Path(os.environ[CACHE_ENV]))
    sys.exit(worker.main())

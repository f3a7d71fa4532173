"""``python -m ftm_assets_tests.support.scripted_pipes_worker``: the real worker (Pipes, lease, commit, reports)
with the scripted processor instead of the model, for tests about what runs when, not about topics.

Bind it with ``LocalLauncher(module=SCRIPTED_WORKER_MODULE)``; a batch then takes about a second.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np

import ftm_assets.worker.__main__ as worker
from ftm_assets.storage.embeddings import EmbeddingIdentity, FirmVectors, call_key, text_hash
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker.embedding_store import EmbeddingUse
from ftm_assets_tests.support.scripted_processor import ScriptedProcessor

SCRIPTED_WORKER_MODULE = "ftm_assets_tests.support.scripted_pipes_worker"
DIMS = 32
IDENTITY = EmbeddingIdentity("scripted", "0", "scripted", "fp16", "cpu", 1, "{}")


def _centroid(words: list[str]) -> list[float]:
    """A bag of hashed words, normalised: firms that say similar things get close centroids (for the themes)."""
    vec = np.zeros(DIMS)
    for word in words:
        vec[int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:4], "big") % DIMS] += 1.0
    norm = np.linalg.norm(vec)
    return (vec / norm if norm else vec).tolist()


class CentroidScripted(ScriptedProcessor):
    """The scripted processor's rows, each topic with the centroid the themes need and each sentence with the
    stored embedding that per-sentence exposure reads (the hashed bag of its words)."""

    @staticmethod
    def result(firm, quarter):
        out = ScriptedProcessor.result(firm, quarter)
        for topic in out.topic_rows:
            topic["centroid"] = _centroid(" ".join(c.text for c in firm.components if c.text).split())
        texts = [s["text"] for s in out.sentence_rows]
        hashes = [text_hash(t) for t in texts]
        vectors = np.array([_centroid(t.split()) for t in texts], dtype=np.float16).reshape(len(texts), DIMS)
        out.embedding_use = EmbeddingUse(FirmVectors(call_key(hashes), hashes, vectors), None, len(texts), 0, IDENTITY)
        return out


def _scripted_run_batch(cfg, storage, log):
    return run_batch(cfg, storage, log, type("Scripted", (CentroidScripted,), {"seen": []}))


if __name__ == "__main__":
    worker.run_batch = _scripted_run_batch  # the one seam: everything else is the worker as it ships
    sys.exit(worker.main())

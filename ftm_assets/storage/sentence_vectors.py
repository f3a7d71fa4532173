"""Each committed sentence's stored embedding, found from the sentences table: what per-sentence exposure reads.

How the two map: the worker embeds every sentence it writes to the sentences table (procedural ones too), a
firm's sentences in ``sentence_id`` order, and stores them under the firm's *call key* (``embeddings.call_key``
of the texts' hashes in that order). So a firm's rows of the sentences table, sorted by ``sentence_id``, give
back its call key, and the stored span under it holds one vector per row, in order. A batch's commit record
names the files (``embedding_parts``) holding every firm of its output, new or reused. A firm is *missing*
when none of them holds its key: its batch ran with ``FTM_EMBEDDING_STORE=off`` or was committed before the
store existed. No Dagster and no worker import: the theme side reads here, the worker writes the files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftm_assets.storage import Storage
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.storage.embeddings import EmbeddingFileError, call_key, decode_file, text_hash


@dataclass(frozen=True)
class BatchVectors:
    """One batch's sentences (rows of the sentences table, sorted by firm and sentence) and their vectors."""

    batch: str
    sentences: pd.DataFrame  # the batch's rows of the sentences table whose firm has stored vectors
    vectors: np.ndarray  # (len(sentences), dim) float32, row i the embedding of sentences' row i
    missing_firms: list[str]  # firms of the batch whose vectors no named file holds


def firm_call_keys(sentences: pd.DataFrame) -> dict[str, bytes]:
    """Each firm's call key from its rows of the sentences table (sorted by ``sentence_id`` first)."""
    ordered = sentences.sort_values(["firm_id", "sentence_id"], kind="stable")
    return {firm: call_key([text_hash(t) for t in group["text"]]) for firm, group in ordered.groupby("firm_id", sort=True)}


def batch_vectors(store: Storage, record: CommitRecord, sentences: pd.DataFrame) -> BatchVectors:
    """The stored vectors of ``sentences`` (this batch's rows of the sentences table) from ``record``'s files.

    Files are decoded one at a time; a firm takes the first span under its call key with as many rows as it
    has sentences. A file that is not one counts as absent (its firms are reported missing, never guessed); a
    file that is gone raises ``StorageError`` (a newer commit cleaned it up: the caller reads that commit).
    """
    ordered = sentences.sort_values(["firm_id", "sentence_id"], kind="stable").reset_index(drop=True)
    keys = firm_call_keys(ordered)
    counts = ordered.groupby("firm_id", sort=True).size()
    found: dict[str, np.ndarray] = {}
    for part in record.embedding_parts:
        if len(found) == len(keys):
            break
        try:
            stored = decode_file(store.read_bytes(part))
        except EmbeddingFileError:
            continue  # not a stored embeddings file: its firms are reported missing, never guessed
        spans = stored.spans()
        for firm, key in keys.items():
            where = spans.get(key)
            if firm not in found and where is not None and where[1] == counts[firm]:
                found[firm] = stored.vectors[where[0] : where[0] + where[1]]
    have = ordered["firm_id"].isin(found.keys()).to_numpy()
    kept = ordered[have].reset_index(drop=True)
    dim = next(iter(found.values())).shape[1] if found else 0
    vectors = (np.concatenate([found[f] for f in sorted(found)]).astype(np.float32) if found
               else np.zeros((0, dim), dtype=np.float32))
    return BatchVectors(record.batch, kept, vectors, sorted(set(keys) - set(found)))


def quarter_vectors(store: Storage, batches: list[tuple[CommitRecord, pd.DataFrame]]) -> Iterator[BatchVectors]:
    """``batch_vectors`` of each (record, its rows of the sentences table) in turn: one batch in memory at a time."""
    for record, sentences in batches:
        yield batch_vectors(store, record, sentences)

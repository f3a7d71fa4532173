"""Each non-procedural sentence of a quarter assigned to its nearest theme anchor, from its stored embedding.

Why per sentence: themes are discovered from firm topics, but a topic (~12 sentences) joins a theme whole, so
a subject raised in three sentences inside a broader answer would never register. Here every sentence is
compared with the anchors of the quarter's themes (the anchor, fixed at the theme's birth, is what the theme
means) and goes to the most similar one if the cosine reaches ``sentence_similarity``; no smoothing over
neighbouring sentences. A sentence goes to at most one theme, so a firm's shares sum to at most 1.
Procedural sentences (``procedural`` true in the sentences table) are never assigned; files written before
the column existed count every sentence as non-procedural.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ftm_assets.storage.sentence_vectors import BatchVectors
from ftm_assets.themes.cluster import best_match, normalise

ASSIGNMENT_COLUMNS = ["firm_id", "sentence_id", "theme_id", "similarity"]


class MissingSentenceVectors(ValueError):
    """Firms of the quarter have no stored sentence embeddings, so their exposure cannot be measured."""


def non_procedural(sentences: pd.DataFrame) -> np.ndarray:
    """Per row: True unless the sentences table marks it procedural (no column, or null: non-procedural)."""
    if "procedural" not in sentences:
        return np.ones(len(sentences), dtype=bool)
    return ~sentences["procedural"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def assign_sentences(chunks: Iterable[BatchVectors], anchors: np.ndarray, theme_ids: list[str],
                     threshold: float) -> pd.DataFrame:
    """(firm_id, sentence_id, theme_id, similarity) of every non-procedural sentence whose most similar anchor
    reaches ``threshold``, sorted by (firm_id, sentence_id). ``chunks``: one batch's sentences and vectors at a
    time. Raises ``MissingSentenceVectors`` naming every batch with firms that have no stored vectors."""
    anchors = normalise(anchors) if len(anchors) else anchors
    frames, missing = [], {}
    for chunk in chunks:
        if chunk.missing_firms:
            missing[chunk.batch] = chunk.missing_firms
        if not len(anchors) or not len(chunk.sentences):
            continue
        keep = non_procedural(chunk.sentences)
        best, sim = best_match(normalise(chunk.vectors[keep]), anchors)
        rows = chunk.sentences.loc[keep, ["firm_id", "sentence_id"]].reset_index(drop=True)
        taken = sim >= threshold
        frames.append(rows[taken].assign(theme_id=np.asarray(theme_ids, dtype=object)[best[taken]],
                                         similarity=sim[taken].astype(np.float32)))
    if missing:
        named = "; ".join(f"batch {b}: {len(f)} firm(s), e.g. {', '.join(f[:3])}" for b, f in sorted(missing.items()))
        raise MissingSentenceVectors(
            f"No stored sentence embeddings for some firms ({named}). Exposure is measured per sentence from the "
            "embeddings each batch stores; these batches ran with FTM_EMBEDDING_STORE=off or before the store "
            "existed. Re-materialize their firm_topics with the store on, then quarter_themes.")
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(ASSIGNMENT_COLUMNS, ("object", "int32", "object", "float32"))})
    out = pd.concat(frames, ignore_index=True)
    out["sentence_id"] = out["sentence_id"].astype("int32")
    return out.sort_values(["firm_id", "sentence_id"], kind="stable").reset_index(drop=True)[ASSIGNMENT_COLUMNS]


def in_memory_chunks(sentences: pd.DataFrame, vectors: np.ndarray) -> list[BatchVectors]:
    """One chunk of ``sentences`` and their vectors (row i of ``vectors`` for row i of ``sentences``)."""
    if len(sentences) != len(vectors):
        raise ValueError(f"{len(vectors)} vectors for {len(sentences)} sentences.")
    return [BatchVectors("memory", sentences.reset_index(drop=True), np.asarray(vectors, dtype=np.float32), [])]

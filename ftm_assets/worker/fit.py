"""One firm's topic fit and output rows, as a pure function: what a fit process (``fit_pool``) runs.

``fit_firm`` is module-level and free of the processor's state (model, embedder, timings), and its
arguments and result are plain picklable values, so a spawned process can run it as well as the worker's
own process. BLAS and OpenMP are held to one thread during the fit wherever it runs: the numbers, and
so the topics, cannot depend on which process fitted the firm or on how many cores it had.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ftm_assets.text.tone import count_tone
from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.model import boilerplate
from ftm_assets.worker.model.topic_model import fit_topics
from ftm_assets.worker.outputs import now_utc
from ftm_assets.worker.segment import Sentence

FIT_THREADS = 1  # BLAS and OpenMP threads of a fit: a fixed summation order, and no oversubscription


@dataclass
class FitRows:
    """A fitted firm's output rows, and the fit's own seconds (the ``fit`` stage of the timings)."""

    topic_rows: list[dict]
    sentence_rows: list[dict]
    fit_seconds: float


def topic_centroids(embeddings: np.ndarray, topics) -> dict[int, list[float]]:
    """Each topic's L2-normalised mean sentence embedding (none for -1), so themes never re-embed."""
    out: dict[int, list[float]] = {}
    for t in topics:
        if t.topic_id < 0 or not t.sentence_ids:
            continue
        mean = embeddings[np.asarray(t.sentence_ids)].astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(mean)
        out[t.topic_id] = (mean / norm if norm > 0 else mean).astype(np.float32).tolist()
    return out


def fit_firm(firm: FirmInput, quarter: str, sentences: list[Sentence], embeddings: np.ndarray,
             params: TopicParams, use_gpu: bool, tone_scores: np.ndarray | None = None) -> FitRows:
    """Fit one firm's topic model and build its topic and sentence rows (``firm``'s components unused).

    ``tone_scores``: the tone classifier's score per sentence (``FTM_TONE_MODEL``), None when it is unset.
    """
    from threadpoolctl import threadpool_limits

    texts = [s.text for s in sentences]
    t0 = time.perf_counter()
    with threadpool_limits(limits=FIT_THREADS):
        procedural = boilerplate.procedural_mask(texts)  # once: the fit's outliers and the rows' flag
        topics = fit_topics(
            texts, embeddings, params, use_gpu=use_gpu,
            groups=[(s.call_id, s.component_order) for s in sentences], procedural=procedural,
        )  # fmt: skip
        fit_seconds = time.perf_counter() - t0
        centroids = topic_centroids(embeddings, topics)
    stamp = now_utc()
    topic_rows = [
        {
            "firm_id": firm.firm_id,
            "firm_name": firm.firm_name,
            "quarter": quarter,
            "permno": firm.permno,
            "gvkey": firm.gvkey,
            "earnings_call_date": firm.earnings_call_date,
            "topic_id": t.topic_id,
            "representation": t.representation,
            "keywords": t.keywords,
            "n_sentences": len(t.sentence_ids),
            "sentence_ids": t.sentence_ids,
            "centroid": centroids.get(t.topic_id),
            "processing_timestamp": stamp,
            "stability": t.stability,
        }
        for t in topics
    ]
    return FitRows(topic_rows, sentence_rows(firm, quarter, sentences, procedural, tone_scores), fit_seconds)


def sentence_rows(firm: FirmInput, quarter: str, sentences: list[Sentence], procedural: list[bool],
                  tone_scores: np.ndarray | None) -> list[dict]:
    """One row per sentence (``SENTENCES_SCHEMA``): its text, the fit's procedural flag and its tone (LM word
    counts, and the classifier's score or null), so the panel sums tone over any set of sentences."""
    rows = []
    for i, s in enumerate(sentences):
        counts = count_tone(s.text)
        rows.append({
            "quarter": quarter,
            "firm_id": firm.firm_id,
            "sentence_id": s.sentence_id,
            "call_id": s.call_id,
            "component_order": s.component_order,
            "speaker_type": s.speaker_type,
            "text": s.text,
            "procedural": bool(procedural[i]),
            "n_words": counts.n_words,
            "lm_positive": counts.positive,
            "lm_negative": counts.negative,
            "lm_uncertainty": counts.uncertainty,
            "tone_model": None if tone_scores is None else float(tone_scores[i]),
        })  # fmt: skip
    return rows


def warm_up() -> None:
    """Fit a small synthetic firm once: the imports and lazy set-up a process's first real fit would pay."""
    rng = np.random.default_rng(0)
    words = ["revenue", "margin", "guidance", "customers", "capital", "pricing", "demand", "costs"]
    n = 48
    sentences = [Sentence(i, 1, i // 4, "speaker", f"Our {words[i % 8]} and {words[(i * 3) % 8]} grew in quarter {i}.")
                 for i in range(n)]
    embeddings = rng.standard_normal((n, 16)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    firm = FirmInput("warm-up", None, None, None, None, [])
    fit_firm(firm, "2000Q1", sentences, embeddings, TopicParams(stability_members=1), use_gpu=False)

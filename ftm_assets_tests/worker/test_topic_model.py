"""fit_topics on CPU: every sentence in exactly one topic, and the same seed gives the same topics."""

import numpy as np

from ftm_assets.worker.config import TopicParams
from ftm_assets.worker.topic_model import fit_topics

WORDS = ("cloud revenue growth", "supply chain costs", "dividend buyback capital", "hiring wage labor")


def _corpus(n_per_theme: int = 15):
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(len(WORDS), 32))
    texts, rows = [], []
    for i, words in enumerate(WORDS):
        for j in range(n_per_theme):
            texts.append(f"We discussed {words} in detail, item {j}.")
            rows.append(centers[i] + 0.05 * rng.normal(size=32))
    emb = np.asarray(rows, dtype=np.float32)
    return texts, emb / np.linalg.norm(emb, axis=1, keepdims=True)


def test_topics_partition_the_sentences_and_are_deterministic():
    texts, emb = _corpus()
    first = fit_topics(texts, emb, TopicParams(), use_gpu=False)
    again = fit_topics(texts, emb, TopicParams(), use_gpu=False)
    assert first == again
    ids = sorted(i for t in first for i in t.sentence_ids)
    assert ids == list(range(len(texts)))
    assert sum(1 for t in first if t.topic_id >= 0) >= 2
    real = [t for t in first if t.topic_id >= 0]
    assert all(t.keywords and t.representation == ", ".join(t.keywords[:4]) for t in real)
    assert [t.topic_id for t in first] == sorted(t.topic_id for t in first)

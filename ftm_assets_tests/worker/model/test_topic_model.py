"""fit_topics on CPU: every sentence in one topic, deterministic, and the lean fit equal to plain BERTopic."""

import numpy as np
import pytest

from ftm_assets.worker.config import TopicParams
from ftm_assets.worker.model.topic_model import fit_topics
from ftm_assets_tests.support.earnings22 import requires_earnings22

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


@pytest.mark.parametrize("n_per_theme", [3, 15, 60])
def test_lean_fit_gives_plain_bertopics_topics(n_per_theme):
    """Precomputed exact neighbours and no representative documents change nothing in the output."""
    texts, emb = _corpus(n_per_theme)
    lean = fit_topics(texts, emb, TopicParams(), use_gpu=False)
    plain = fit_topics(texts, emb, TopicParams(), use_gpu=False, lean=False)
    assert lean == plain


@requires_earnings22
def test_lean_fit_gives_plain_bertopics_topics_on_real_calls():
    """Real sentence embeddings of two calls: the same topics, keywords and sentence ids, bit for bit."""
    from benchmarks.corpora import real_firms
    from ftm_assets.worker.model.embed import Embedder, resolve_model_path
    from ftm_assets.worker.segment import segment

    embedder = Embedder(resolve_model_path(None), "cpu", batch_size=32)
    params = TopicParams()
    for firm in real_firms(limit=2):
        texts = [s.text for s in segment(firm.components, min_words=params.min_sentence_words)]
        emb = embedder.encode(texts)
        lean = fit_topics(texts, emb, params, use_gpu=False)
        assert lean == fit_topics(texts, emb, params, use_gpu=False, lean=False), firm.firm_id
        assert sum(1 for t in lean if t.topic_id >= 0) >= 3

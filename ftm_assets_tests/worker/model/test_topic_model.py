"""fit_topics on CPU: every sentence in one topic, deterministic; the UMAP method's lean fit equal to plain
BERTopic; on real calls, the default method's topics agree across seeds and lost components, with a stability."""

import numpy as np
import pytest

from ftm_assets.worker_config import TopicParams
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
    params = TopicParams(topic_method="umap")
    lean = fit_topics(texts, emb, params, use_gpu=False)
    plain = fit_topics(texts, emb, params, use_gpu=False, lean=False)
    assert lean == plain


@requires_earnings22
def test_lean_fit_gives_plain_bertopics_topics_on_real_calls():
    """Real sentence embeddings of two calls: the same topics, keywords and sentence ids, bit for bit."""
    from benchmarks.corpora import real_firms
    from ftm_assets.worker.model.embed import Embedder, resolve_model_path
    from ftm_assets.worker.segment import segment

    embedder = Embedder(resolve_model_path(None), "cpu", batch_size=32)
    params = TopicParams(topic_method="umap")
    for firm in real_firms(limit=2):
        texts = [s.text for s in segment(firm.components, min_words=params.min_sentence_words)]
        emb = embedder.encode(texts)
        lean = fit_topics(texts, emb, params, use_gpu=False)
        assert lean == fit_topics(texts, emb, params, use_gpu=False, lean=False), firm.firm_id
        assert sum(1 for t in lean if t.topic_id >= 0) >= 3


REAL_CALLS = 6


@requires_earnings22
def test_default_topics_on_real_calls_agree_across_seeds_and_lost_components():
    """Six real calls through the worker's processor: seeds 42 and 7 give the same topics (the method draws
    nothing at random), dropping 15% of the components keeps the others' topics, and every row has a
    stability in [0, 1] that depends on the seed's draws."""
    import dataclasses
    import logging

    from sklearn.metrics import adjusted_rand_score

    from benchmarks.corpora import real_firms
    from benchmarks.quality import drop_components
    from ftm_assets.worker_config import EmbeddingSettings, WorkerConfig
    from ftm_assets.worker.processor import FirmProcessor, PreparedFirm
    from ftm_assets.worker.segment import segment

    cfg = WorkerConfig(quarter="2024Q4", batch="000", storage_root="/unused", run_id="t",
                       embedding=EmbeddingSettings(device="cpu"))  # fmt: skip
    processor = FirmProcessor(cfg, logging.getLogger("test"))
    seed_ari, drop_ari, shares = [], [], []
    for firm in real_firms(limit=REAL_CALLS):
        prepared = processor.prepare(firm, "2024Q4")
        n = len(prepared.sentences)
        processor.cfg = cfg
        first = processor.finish(firm, "2024Q4", prepared)
        processor.cfg = dataclasses.replace(cfg, topics=dataclasses.replace(cfg.topics, random_seed=7))
        second = processor.finish(firm, "2024Q4", prepared)
        seed_ari.append(adjusted_rand_score(_labels(first.topic_rows, n), _labels(second.topic_rows, n)))
        for row in first.topic_rows:
            assert 0.0 <= row["stability"] <= 1.0, row
        real = [r for r in first.topic_rows if r["topic_id"] >= 0]
        assert 5 <= len(real) <= 40, len(real)
        assert [r["stability"] for r in real] != [r["stability"] for r in second.topic_rows if r["topic_id"] >= 0]
        shares.append(sum(r["n_sentences"] for r in first.topic_rows if r["topic_id"] < 0) / n)

        # The call less 15% of its components: its sentences are the full call's, so are their embeddings.
        processor.cfg = cfg
        position = {(s.component_order, s.text): i for i, s in enumerate(prepared.sentences)}
        smaller = segment(drop_components(firm).components, min_words=cfg.topics.min_sentence_words)
        shared = [position[(s.component_order, s.text)] for s in smaller]
        part = PreparedFirm([prepared.sentences[i] for i in shared], prepared.embeddings[shared])
        dropped = processor.finish(firm, "2024Q4", part)
        full = _labels(first.topic_rows, n)[shared]
        drop_ari.append(adjusted_rand_score(full, _labels(dropped.topic_rows, len(shared))))
    assert np.median(seed_ari) >= 0.85, seed_ari
    assert np.median(drop_ari) >= 0.75, drop_ari
    assert np.median(shares) <= 0.25, shares


def _labels(rows, n):
    out = np.full(n, -2)
    for row in rows:
        out[row["sentence_ids"]] = row["topic_id"]
    return out

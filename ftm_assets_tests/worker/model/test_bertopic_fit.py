"""bertopic_fit: the Ward method runs inside BERTopic, whose own numbering and c-TF-IDF give the topics'
ids and keywords (checked against a plain BERTopic given the same labels, on constructed ties, demo firms and
real Earnings-22 calls); procedural sentences are outliers; a Ward fit imports BERTopic."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.model import boilerplate
from ftm_assets.worker.model.bertopic_fit import WardClusters
from ftm_assets.worker.model.topic_model import Topic, fit_topics, ward_params
from ftm_assets_tests.support.earnings22 import requires_earnings22

REAL_CALLS = 6
DEMO_FIRMS = 6


class _GivenLabels:
    """A "clustering model" for BERTopic that returns labels decided beforehand (BERTopic only names them)."""

    def __init__(self, labels: np.ndarray):
        self.labels_ = np.asarray(labels)

    def fit(self, X, y=None):  # noqa: N803 (BERTopic's signature)
        return self


def plain_bertopic(sentences: list[str], labels: np.ndarray, top_n: int) -> list[tuple[int, list[str], list[int]]]:
    """(topic id, keywords, sentence ids) as an unmodified BERTopic numbers and names ``labels``."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    model = BERTopic(
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=_GivenLabels(labels),
        vectorizer_model=CountVectorizer(stop_words=boilerplate.stop_words(sentences), ngram_range=(1, 2)),
        top_n_words=top_n,
        calculate_probabilities=False,
        verbose=False,
    )
    assignments = np.asarray(model.fit_transform(sentences, embeddings=np.zeros((len(sentences), 2)))[0])
    out = []
    for topic_id in sorted(set(assignments.tolist())):
        words = [w for w, _ in (model.get_topic(topic_id) or []) if w][:top_n]
        out.append((topic_id, words, np.flatnonzero(assignments == topic_id).tolist()))
    return out


def _as_tuples(topics: list[Topic]) -> list[tuple[int, list[str], list[int]]]:
    return [(t.topic_id, t.keywords, t.sentence_ids) for t in topics]


def _ward_labels(texts, emb, params, groups) -> np.ndarray:
    return WardClusters(texts, groups, ward_params(params, len(texts)), params.random_seed).fit(emb).labels_


def test_keywords_and_numbering_are_bertopics_for_the_ward_labels():
    """Four themes, uneven sizes and two procedural lines: fit_topics = plain BERTopic given Ward's labels."""
    rng = np.random.default_rng(3)
    themes = ["cloud revenue growth", "supply chain freight costs", "dividend buyback capital", "hiring wage labor"]
    texts, rows = [], []
    centers = rng.normal(size=(4, 16))
    for i, n in enumerate((30, 22, 16, 12)):
        for j in range(n):
            texts.append(f"We discussed {themes[i]} at length, note {j % 5}.")
            rows.append(centers[i] + 0.05 * rng.normal(size=16))
    texts += ["Thank you, operator.", "Good morning everyone and welcome to the call."]
    rows += [rng.normal(size=16), rng.normal(size=16)]
    emb = np.asarray(rows, dtype=np.float32)
    params = TopicParams()
    labels = _ward_labels(texts, emb, params, None)
    assert (labels[-2:] == -1).all() and (labels[:-2] >= 0).sum() >= 60  # procedure: outliers
    fitted = fit_topics(texts, emb, params, use_gpu=False)
    assert _as_tuples(fitted) == plain_bertopic(texts, labels, params.top_n_keywords)
    assert [len(t.sentence_ids) for t in fitted if t.topic_id >= 0] == sorted(
        (len(t.sentence_ids) for t in fitted if t.topic_id >= 0), reverse=True)  # BERTopic: largest first
    assert all(0.0 <= t.stability <= 1.0 for t in fitted) and fitted[0].topic_id == -1 and fitted[0].stability == 0.0


def test_a_topics_stability_follows_it_through_bertopics_renumbering():
    """Ward numbers topics by first appearance, BERTopic by size: each topic keeps its own Ward stability."""
    texts, emb = [], []
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(3, 8))
    for i, n in enumerate((10, 25, 40)):  # the first to appear is the smallest
        texts += [f"Topic {'abc'[i]} sentence about item{i} number {j}." for j in range(n)]
        emb += [centers[i] + 0.02 * rng.normal(size=8) for _ in range(n)]
    emb = np.asarray(emb, dtype=np.float32)
    params = TopicParams(stability_members=3)
    model = WardClusters(texts, None, ward_params(params, len(texts)), params.random_seed).fit(emb)
    for t in fit_topics(texts, emb, params, use_gpu=False):
        assert t.stability == model.stability_[int(model.labels_[t.sentence_ids[0]])]


def _compare_on(firms, embedder) -> int:
    from ftm_assets.worker.segment import segment

    params = TopicParams()
    compared = 0
    for firm in firms:
        sentences = segment(firm.components, min_words=params.min_sentence_words)
        texts = [s.text for s in sentences]
        emb = embedder.encode(texts)
        groups = [(s.call_id, s.component_order) for s in sentences]
        labels = _ward_labels(texts, emb, params, groups)
        if (labels >= 0).sum() == 0:
            continue
        fitted = fit_topics(texts, emb, params, use_gpu=False, groups=groups)
        assert _as_tuples(fitted) == plain_bertopic(texts, labels, params.top_n_keywords), firm.firm_id
        compared += 1
    return compared


@pytest.fixture(scope="module")
def embedder():
    from ftm_assets.worker.model.embed import Embedder, resolve_model_path

    return Embedder(resolve_model_path(None), "cpu", batch_size=32)


@pytest.mark.slow
def test_demo_firms_get_bertopics_topics(embedder):
    from benchmarks.corpora import demo_firms

    assert _compare_on(demo_firms(DEMO_FIRMS), embedder) == DEMO_FIRMS


@pytest.mark.slow
@requires_earnings22
def test_real_calls_get_bertopics_topics(embedder):
    from benchmarks.corpora import real_firms

    assert _compare_on(real_firms(limit=REAL_CALLS), embedder) == REAL_CALLS


def test_a_ward_fit_runs_in_bertopic():
    """A Ward fit in a fresh process goes through BERTopic (imported by the fit, not before it)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from ftm_assets.worker_config import TopicParams
        from ftm_assets.worker.model.topic_model import fit_topics

        assert "bertopic" not in sys.modules  # imported by the fit, not by the module

        rng = np.random.default_rng(0)
        themes = ["cloud revenue growth", "supply chain costs", "dividend buyback capital"]
        texts = [f"We discussed {themes[i % 3]} in detail, item {i}." for i in range(60)]
        emb = np.asarray([np.eye(8)[i % 3] + 0.05 * rng.normal(size=8) for i in range(60)], dtype=np.float32)
        topics = fit_topics(texts, emb, TopicParams(), use_gpu=False)
        assert sum(t.topic_id >= 0 for t in topics) >= 2, topics
        print("bertopic" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True", done.stdout


def test_all_outliers_give_one_outlier_topic():
    texts = ["Thank you, operator.", "Good morning everyone and welcome to the call."] * 4
    emb = np.eye(8, dtype=np.float32)[np.arange(8) % 8]
    assert fit_topics(texts, emb, TopicParams(), use_gpu=False) == [Topic(-1, [], list(range(8)), 0.0)]

"""ctfidf against BERTopic 0.17 itself: the same topic numbering (ties included) and keywords for given labels,
on constructed ties, demo firms and real Earnings-22 calls; and a Ward fit that never imports BERTopic."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.model import boilerplate, ctfidf
from ftm_assets.worker.model.topic_model import Topic, fit_topics, ward_labels
from ftm_assets_tests.support.earnings22 import requires_earnings22

REAL_CALLS = 12
DEMO_FIRMS = 8


class _GivenLabels:
    """A "clustering model" for BERTopic that returns labels decided beforehand (BERTopic only names them)."""

    def __init__(self, labels: np.ndarray):
        self.labels_ = np.asarray(labels)

    def fit(self, X, y=None):  # noqa: N803 (BERTopic's signature)
        return self


def bertopic_topics(sentences: list[str], labels: np.ndarray, top_n: int) -> list[tuple[int, list[str], list[int]]]:
    """(topic id, keywords, sentence ids) as BERTopic numbers and names ``labels`` (the Ward path's old code)."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache

    import_umap_with_jit_cache()
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


def ours(sentences: list[str], labels: np.ndarray, top_n: int) -> list[tuple[int, list[str], list[int]]]:
    assignments = ctfidf.renumber_by_size(labels)
    words = ctfidf.keywords(sentences, assignments, boilerplate.stop_words(sentences), top_n)
    return [(t, words[t], np.flatnonzero(assignments == t).tolist()) for t in sorted(set(assignments.tolist()))]


def test_renumbering_breaks_size_ties_as_bertopic_does():
    """40 topics in 5 sizes, in a shuffled first-appearance order: numpy's quicksort is unstable over 16 items."""
    rng = np.random.default_rng(3)
    sizes = rng.permutation(np.repeat([2, 3, 4, 5, 6], 8))
    labels = rng.permutation(np.repeat(np.arange(40), sizes))
    labels[rng.choice(len(labels), 15, replace=False)] = -1
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]
    sentences = [f"{words[i % 8]} {words[(i * 3) % 8]} item{label} note{i % 5}" for i, label in enumerate(labels)]
    expected = bertopic_topics(sentences, labels, 10)
    assert [t[0] for t in expected] == [-1, *range(40)]
    assert ours(sentences, labels, 10) == expected


def test_keywords_equal_bertopics_with_tied_scores_and_stop_word_only_text():
    """Repeated phrases give many equal c-TF-IDF scores; a topic of stop words only has no keywords."""
    sentences = ["margin margin growth cloud", "cloud growth margin", "the of and we", "thank you everyone",
                 "supply chain costs rose", "costs supply chain", "cloud margin growth"] * 3  # fmt: skip
    labels = np.asarray([0, 0, 1, -1, 2, 2, 0] * 3)
    assert ours(sentences, labels, 10) == bertopic_topics(sentences, labels, 10)


def _compare_on(firms, embedder) -> int:
    from ftm_assets.worker.segment import segment

    params = TopicParams()
    compared = 0
    for firm in firms:
        sentences = segment(firm.components, min_words=params.min_sentence_words)
        texts = [s.text for s in sentences]
        emb = embedder.encode(texts)
        groups = [(s.call_id, s.component_order) for s in sentences]
        labels, _ = ward_labels(texts, emb, params, groups)
        if (labels >= 0).sum() == 0:
            continue
        expected = bertopic_topics(texts, labels, params.top_n_keywords)
        assert ours(texts, labels, params.top_n_keywords) == expected, firm.firm_id
        fitted = fit_topics(texts, emb, params, use_gpu=False, groups=groups)
        assert [(t.topic_id, t.keywords, t.sentence_ids) for t in fitted] == expected, firm.firm_id
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


def test_ward_fit_imports_no_bertopic_umap_or_hdbscan():
    """The GPU image ships none of them: a Ward fit in a fresh process must not import them."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from ftm_assets.worker_config import TopicParams
        from ftm_assets.worker.model.topic_model import fit_topics

        rng = np.random.default_rng(0)
        themes = ["cloud revenue growth", "supply chain costs", "dividend buyback capital"]
        texts = [f"We discussed {themes[i % 3]} in detail, item {i}." for i in range(60)]
        emb = np.asarray([np.eye(8)[i % 3] + 0.05 * rng.normal(size=8) for i in range(60)], dtype=np.float32)
        topics = fit_topics(texts, emb, TopicParams(), use_gpu=False)
        assert sum(t.topic_id >= 0 for t in topics) >= 2, topics
        print(sorted(m for m in ("bertopic", "umap", "hdbscan", "pynndescent", "numba") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_all_outliers_give_one_outlier_topic():
    texts = ["Thank you, operator.", "Good morning everyone and welcome to the call."] * 4
    emb = np.eye(8, dtype=np.float32)[np.arange(8) % 8]
    assert fit_topics(texts, emb, TopicParams(), use_gpu=False) == [Topic(-1, [], list(range(8)), 0.0)]

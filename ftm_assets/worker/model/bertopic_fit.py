"""BERTopic as the frame of every topic method: our parts plugged in where BERTopic is designed to take them.

``fit_bertopic`` runs ``BERTopic.fit_transform`` (bertopic 0.17, pinned) on one firm's sentences and their
precomputed embeddings, with a given dimensionality reduction and cluster model, and returns each sentence's
topic and each topic's keywords. BERTopic itself numbers the topics (largest first, -1 the outliers) and names
them with its class-based TF-IDF (c-TF-IDF) over ``vectorizer``'s counts.

- ``WardClusters``: the default method's cluster model (an object with ``fit``/``labels_``, as BERTopic asks
  of a ``hdbscan_model``): procedural sentences to -1, the rest smoothed within their components and cut by
  Ward's clustering (``ward.cluster``); each topic's stability is kept in ``stability_``.
- ``pass_through()``: BERTopic's ``BaseDimensionalityReduction``, which hands the embeddings on unchanged
  (Ward clusters the embedding space itself).
- ``vectorizer(sentences)``: scikit-learn's ``CountVectorizer`` (words and bigrams) with the one stop list
  (``ftm_assets/text/stopwords.py``) and the call's speaker names.

BERTopic is built without the 3 representative documents per topic it would pick (``lean_bertopic_class``),
which nothing here reads. It imports umap at import time, so the numba JIT cache hook runs first. BERTopic
also imports sentence-transformers and torch at import time: each fit process pays that once, in its warm-up
(``worker/fit.warm_up``), never per firm; ``benchmarks/bertopic_import.py`` measures it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Hashable, Sequence

import numpy as np

from ftm_assets.worker.model import boilerplate
from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache
from ftm_assets.worker.model.ward import WardParams, cluster

OUTLIER = -1


def bertopic_class(lean: bool = True) -> type:
    """BERTopic, or with ``lean`` its subclass that skips the representative documents."""
    import_umap_with_jit_cache()  # a no-op once umap is imported; must precede BERTopic's own import of it
    from bertopic import BERTopic

    return lean_bertopic_class() if lean else BERTopic


@functools.cache
def lean_bertopic_class() -> type:
    """BERTopic without the 3 representative documents per topic, which nothing here reads.

    Built on first use: BERTopic imports umap, which must wait for ``import_umap_with_jit_cache``.
    Overrides a private hook of bertopic 0.17 (pinned); ``test_topic_model`` checks the topics match.
    """
    import_umap_with_jit_cache()
    from bertopic import BERTopic

    class LeanBERTopic(BERTopic):
        def _save_representative_docs(self, documents) -> None:
            self.representative_docs_ = {}

    return LeanBERTopic


def pass_through():
    """BERTopic's own "no reduction" step: ``transform`` returns the embeddings as given."""
    import_umap_with_jit_cache()
    from bertopic.dimensionality import BaseDimensionalityReduction

    return BaseDimensionalityReduction()


def vectorizer(sentences: Sequence[str]):
    """Word and bigram counts for c-TF-IDF, leaving out the one stop list and this call's speaker names."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words=boilerplate.stop_words(sentences), ngram_range=(1, 2))


class WardClusters:
    """The Ward method as BERTopic's cluster model: ``fit(X)`` sets ``labels_`` (-1: outlier) and ``stability_``.

    ``X`` is the firm's sentence embeddings in call order (the pass-through reduction's output). Procedural
    sentences (``boilerplate.procedural_mask``) are outliers; the others are clustered by ``ward.cluster``,
    which smooths each one with its neighbours in the same component (``groups``) before Ward's linkage. When
    fewer than ``max(2 * min_cluster_size, 4)`` content sentences remain, every sentence is an outlier.
    """

    def __init__(self, sentences: Sequence[str], groups: Sequence[Hashable] | None, params: WardParams, seed: int,
                 procedural: Sequence[bool] | None = None):
        self.sentences = list(sentences)
        self.groups = list(range(len(self.sentences))) if groups is None else list(groups)
        self.params = params
        self.seed = seed
        if procedural is None:  # the caller's mask when it has one (fit.fit_firm: the same mask its rows carry)
            procedural = boilerplate.procedural_mask(self.sentences, boilerplate.call_names(self.sentences))
        self.content = np.flatnonzero(~np.asarray(procedural, dtype=bool))
        self.labels_ = np.full(len(self.sentences), OUTLIER, dtype=np.int64)
        self.stability_: dict[int, float] = {}

    def has_content(self) -> bool:
        """Enough non-procedural sentences for two topics of the minimum size (else every sentence is an outlier)."""
        return len(self.content) >= max(2 * self.params.min_cluster_size, 4)

    def fit(self, X: np.ndarray, y=None) -> "WardClusters":  # noqa: N803 (BERTopic's signature)
        labels = np.full(len(self.sentences), OUTLIER, dtype=np.int64)
        stability: dict[int, float] = {}
        if self.has_content():
            content = self.content
            found = cluster(np.asarray(X)[content], [self.groups[i] for i in content], self.params, self.seed)
            labels[content] = found.labels
            stability = dict(found.stability)
        self.labels_, self.stability_ = labels, stability
        return self


def fit_bertopic(sentences: Sequence[str], embeddings: np.ndarray, reduction, cluster_model,
                 top_n: int, *, lean: bool = True) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Per sentence its BERTopic topic id, and per topic id (-1 included) its top ``top_n`` c-TF-IDF keywords."""
    model = bertopic_class(lean)(
        umap_model=reduction,
        hdbscan_model=cluster_model,
        vectorizer_model=vectorizer(sentences),
        top_n_words=top_n,
        calculate_probabilities=False,
        verbose=False,
    )
    with warnings.catch_warnings():
        # The call's names hold contractions like "don't": sklearn notes that its tokenizer splits them, once
        # per fit, in every fit process's stderr. The counts are as intended.
        warnings.filterwarnings("ignore", message="Your stop_words may be inconsistent", category=UserWarning)
        assignments, _ = model.fit_transform(list(sentences), embeddings=embeddings)
    assignments = np.asarray(assignments, dtype=np.int64)
    words = {int(t): [w for w, _ in (model.get_topic(int(t)) or []) if w][:top_n] for t in np.unique(assignments)}
    return assignments, words

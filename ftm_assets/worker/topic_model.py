"""Fits BERTopic on one firm's sentence embeddings: cuML's UMAP/HDBSCAN on GPU when importable, else CPU.

On CPU, UMAP's numba kernels are compiled once per machine and cached (``jit_cache``); with a
``random_state`` its layout runs on one core, which is why the processor overlaps it with embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftm_assets import constants as C
from ftm_assets.worker.config import TopicParams
from ftm_assets.worker.jit_cache import import_umap_with_jit_cache


@dataclass(frozen=True)
class Topic:
    topic_id: int
    keywords: list[str]
    sentence_ids: list[int]

    @property
    def representation(self) -> str:
        if self.topic_id == -1:
            return "outliers (no topic)"
        return ", ".join(self.keywords[:4])


def gpu_backend_available() -> bool:
    try:
        import cuml  # noqa: F401
    except Exception:  # cuML raises more than ImportError when CUDA is absent
        return False
    return True


def _reducers(params: TopicParams, n_docs: int, use_gpu: bool):
    n_neighbors = max(2, min(params.umap_n_neighbors, n_docs - 1))
    n_components = max(2, min(params.umap_n_components, n_docs - 2))
    if use_gpu:
        from cuml.cluster import HDBSCAN
        from cuml.manifold import UMAP
    else:
        from hdbscan import HDBSCAN
        from umap import UMAP
    umap_model = UMAP(
        n_neighbors=n_neighbors,
        n_components=n_components,
        min_dist=params.umap_min_dist,
        metric="cosine",
        random_state=params.random_seed,
    )
    hdbscan_model = HDBSCAN(
        min_cluster_size=min_topic_size(params, n_docs),
        min_samples=params.hdbscan_min_samples,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=False,
    )
    return umap_model, hdbscan_model


def min_topic_size(params: TopicParams, n_docs: int) -> int:
    """The configured minimum, growing with very long calls so that they get tens of topics, not hundreds."""
    return max(params.hdbscan_min_cluster_size, n_docs // C.SENTENCES_PER_MIN_TOPIC_SIZE)


def fit_topics(sentences: list[str], embeddings: np.ndarray, params: TopicParams, *, use_gpu: bool) -> list[Topic]:
    """Topics of one firm, ordered by topic id (-1, the outliers, first when present)."""
    import_umap_with_jit_cache()  # a no-op once umap is imported; must precede BERTopic's own import of it
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    umap_model, hdbscan_model = _reducers(params, len(sentences), use_gpu)
    model = BERTopic(
        umap_model=umap_model,
        hdbscan_model=hdbscan_model,
        vectorizer_model=CountVectorizer(stop_words="english", ngram_range=(1, 2)),
        top_n_words=params.top_n_keywords,
        calculate_probabilities=False,
        verbose=False,
    )
    assignments, _ = model.fit_transform(sentences, embeddings=embeddings)
    assignments = np.asarray(assignments)
    topics = []
    for topic_id in sorted(set(assignments.tolist())):
        words = model.get_topic(topic_id) or []
        keywords = [w for w, _ in words if w][: params.top_n_keywords]
        ids = np.flatnonzero(assignments == topic_id).astype(int).tolist()
        topics.append(Topic(int(topic_id), keywords, ids))
    return topics

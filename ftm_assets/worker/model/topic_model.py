"""Fits BERTopic on one firm's sentence embeddings: by default on stable, deterministic clusters.

The default (``topic_method="ward"``, ``ward.py``) sets the call's procedural sentences (``boilerplate.py``)
aside as outliers, smooths each remaining sentence's embedding with its neighbours in the same component and
cuts the call into topics with Ward's clustering; the topics are then numbered and named as BERTopic names
given labels (``ctfidf.py``: c-TF-IDF keywords, with the call's procedural words, fillers and speaker names
as stop words), without importing BERTopic, umap or hdbscan. It runs on the CPU on GPU machines
too: scipy on a few hundred rows, a fraction of the embedding's cost. Each topic carries a ``stability`` in
[0, 1] from seeded resamples.

``topic_method="umap"`` is the seed's method, kept as the benchmark's baseline and for comparison: one UMAP
+ HDBSCAN fit, cuML's on GPU when importable, else CPU.

On CPU, UMAP's numba kernels are compiled once per machine and cached (``jit_cache``); with a
``random_state`` its layout runs on one core, which is why the processor overlaps it with embedding.
The worker's fit is lean but gives the same topics as plain BERTopic (``lean=False``, the seed's pipeline
and the benchmark's baseline), bit for bit: UMAP gets its exact cosine neighbours from compiled code
(``exact_knn``) instead of ~60,000 Python calls, and BERTopic skips the representative documents it
would pick per topic, which the outputs do not carry. Together ~40% of a firm's fit time on CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
import warnings
from dataclasses import dataclass

import numpy as np

from ftm_assets import constants as C
from ftm_assets.worker.config import TopicParams
from ftm_assets.worker.model import boilerplate, ctfidf
from ftm_assets.worker.model.ward import WardParams, cluster
from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache


@dataclass(frozen=True)
class Topic:
    topic_id: int
    keywords: list[str]
    sentence_ids: list[int]
    stability: float | None = None  # in [0, 1]: how reliably the topic recurs (ward.py); None: not measured

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


@functools.cache
def lean_bertopic_class() -> type:
    """BERTopic without the 3 representative documents per topic, which nothing here reads.

    Built on first use: BERTopic imports umap, which must wait for ``import_umap_with_jit_cache``.
    Overrides a private hook of bertopic 0.17 (pinned); ``test_topic_model`` checks the topics match.
    """
    from bertopic import BERTopic

    class LeanBERTopic(BERTopic):
        def _save_representative_docs(self, documents) -> None:
            self.representative_docs_ = {}

    return LeanBERTopic


def _reducers(params: TopicParams, n_docs: int, use_gpu: bool, embeddings: np.ndarray | None = None):
    """UMAP and HDBSCAN for ``n_docs`` sentences; with ``embeddings``, UMAP's exact neighbours precomputed."""
    n_neighbors = max(2, min(params.umap_n_neighbors, n_docs - 1))
    n_components = max(2, min(params.umap_n_components, n_docs - 2))
    if use_gpu:
        from cuml.cluster import HDBSCAN
        from cuml.manifold import UMAP
    else:
        from hdbscan import HDBSCAN
        from umap import UMAP
    knn: dict = {}
    if embeddings is not None and not use_gpu:
        knn = _exact_neighbours(embeddings, n_neighbors)
    umap_model = UMAP(
        n_neighbors=n_neighbors,
        n_components=n_components,
        min_dist=params.umap_min_dist,
        metric="cosine",
        random_state=params.random_seed,
        **knn,
    )
    hdbscan_model = HDBSCAN(
        min_cluster_size=min_topic_size(params, n_docs),
        min_samples=params.hdbscan_min_samples,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=False,
    )
    return umap_model, hdbscan_model


def _exact_neighbours(embeddings: np.ndarray, n_neighbors: int) -> dict:
    """UMAP keyword arguments that hand it the exact neighbours it would compute itself (small inputs only).

    The approximate path is the one that accepts precomputed neighbours; given exact ones it builds the
    same graph as UMAP's small-data path. Without a search index UMAP cannot transform new points, which
    BERTopic does not ask of it here. Above umap's small-data limit UMAP runs as in plain BERTopic.
    """
    import_umap_with_jit_cache()
    from ftm_assets.worker.model.exact_knn import SMALL_DATA_LIMIT, cosine_knn  # imports umap: after the hook

    if len(embeddings) >= SMALL_DATA_LIMIT:
        return {}
    warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\] \(knn_search_index\)", category=UserWarning)
    indices, distances = cosine_knn(embeddings, n_neighbors)
    return {"precomputed_knn": (indices, distances, None), "force_approximation_algorithm": True}


def min_topic_size(params: TopicParams, n_docs: int) -> int:
    """The configured minimum, growing with very long calls so that they get tens of topics, not hundreds."""
    return max(params.hdbscan_min_cluster_size, n_docs // C.SENTENCES_PER_MIN_TOPIC_SIZE)


def fit_topics(
    sentences: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    *,
    use_gpu: bool,
    lean: bool = True,
    groups: Sequence[Hashable] | None = None,
) -> list[Topic]:
    """Topics of one firm, ordered by topic id (-1, the outliers, first when present).

    ``groups``: each sentence's component (e.g. ``(call_id, component_order)``), in call order; the default
    method smooths embeddings within a component only. None: every sentence on its own (no smoothing).

    With ``topic_method="umap"``, ``lean=False`` runs plain BERTopic as the seed did; same topics, slower.
    """
    if params.topic_method == "ward":
        return _fit_ward(sentences, embeddings, params, groups)
    if params.topic_method != "umap":
        raise ValueError(f"topic_method={params.topic_method!r} is not one of 'ward', 'umap'.")
    import_umap_with_jit_cache()  # a no-op once umap is imported; must precede BERTopic's own import of it
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    umap_model, hdbscan_model = _reducers(params, len(sentences), use_gpu, embeddings if lean else None)
    model = (lean_bertopic_class() if lean else BERTopic)(
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


def ward_params(params: TopicParams, n_docs: int) -> WardParams:
    return WardParams(
        window=params.context_window,
        decay=params.context_decay,
        gate=params.context_gate,
        gate_scale=params.context_gate_scale,
        sentences_per_topic=params.sentences_per_topic,
        max_topics=params.max_topics,
        min_cluster_size=min_topic_size(params, n_docs),
        members=params.stability_members,
        subsample=C.STABILITY_SUBSAMPLE,
        max_points=C.WARD_MAX_SENTENCES,
    )


def ward_labels(
    sentences: list[str], embeddings: np.ndarray, params: TopicParams, groups: Sequence[Hashable] | None
) -> tuple[np.ndarray, dict[int, float]]:
    """Per sentence its Ward topic (-1: procedural or in a group under the minimum), and each topic's stability."""
    n = len(sentences)
    names = boilerplate.call_names(sentences)
    procedural = np.asarray(boilerplate.procedural_mask(sentences, names), dtype=bool)
    content = np.flatnonzero(~procedural)
    labels = np.full(n, -1, dtype=np.int64)
    stability: dict[int, float] = {}
    wparams = ward_params(params, n)
    if len(content) >= max(2 * wparams.min_cluster_size, 4):
        keys = list(range(n)) if groups is None else list(groups)
        found = cluster(embeddings[content], [keys[i] for i in content], wparams, params.random_seed)
        labels[content] = found.labels
        stability = dict(found.stability)
    return labels, stability


def _fit_ward(
    sentences: list[str], embeddings: np.ndarray, params: TopicParams, groups: Sequence[Hashable] | None
) -> list[Topic]:
    """Procedural sentences -> outliers; Ward topics on the rest; numbered and named as BERTopic would (ctfidf)."""
    n = len(sentences)
    labels, stability = ward_labels(sentences, embeddings, params, groups)
    if (labels >= 0).sum() == 0:
        return [Topic(-1, [], list(range(n)), 0.0)]
    assignments = ctfidf.renumber_by_size(labels)
    words = ctfidf.keywords(sentences, assignments, boilerplate.stop_words(sentences), params.top_n_keywords)
    topics = []
    for topic_id in sorted(set(assignments.tolist())):
        ids = np.flatnonzero(assignments == topic_id)
        score = stability.get(int(labels[ids[0]]), 0.0) if topic_id >= 0 else 0.0  # outliers: no topic
        topics.append(Topic(int(topic_id), words[topic_id], ids.astype(int).tolist(), float(score)))
    return topics

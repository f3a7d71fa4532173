"""One firm's topics: BERTopic (Grootendorst 2022) on the sentences of its call, by one of two methods.

Both methods run inside BERTopic (``bertopic_fit.py``): the firm's sentences go in with their precomputed
Sentence-BERT embeddings (all-MiniLM-L6-v2; Reimers & Gurevych 2019), a dimensionality-reduction step and a
clustering step give each sentence a topic (-1: outlier, no topic), and BERTopic numbers the topics by size
(largest first) and names each with its top c-TF-IDF words and bigrams: the topic's sentences are one
document, a term scores its frequency in the topic times ``log(1 + A / f)`` (``A`` the average number of words
per topic, ``f`` the term's frequency over all topics). The counts leave out the one stop list
(``ftm_assets/text/stopwords.py``: English stop words, call procedure, fillers, the form of analysts'
questions) and the call's speaker names. The methods differ in the two steps between embedding and naming:

``ward`` (the default, ``FTM_TOPIC_METHOD=ward``): no reduction (BERTopic's ``BaseDimensionalityReduction``
passes the 384-d embeddings through) and Ward's minimum-variance agglomerative clustering (Ward 1963) as the
cluster model (``bertopic_fit.WardClusters``, ``ward.py``). Sentences that are mostly call procedure
(greetings, operator lines, safe-harbor text, the call's names: ``boilerplate.py``) are outliers. Each other
sentence's embedding is averaged with up to ``context_window`` neighbours either side *within the same
speaker turn* (weight ``context_decay**d`` at distance d) and re-normalised; Ward's linkage (scipy) then cuts
the call into ``round(n / sentences_per_topic)`` clusters (at most ``max_topics``), and clusters under the
minimum topic size become outliers. Nothing is drawn at random, so the topics do not depend on the seed.
Each topic carries a ``stability`` in [0, 1]: over ``stability_members`` seeded resamples of the call, the
mean of its best Jaccard overlap with a resample's cluster (``ward.stability``).

``umap`` (the seed's method, ``FTM_TOPIC_METHOD=umap``): BERTopic's own default pipeline. UMAP (McInnes et
al. 2018; cosine, ``umap_n_neighbors`` neighbours, ``umap_n_components`` dimensions, seeded) reduces the
embeddings, and HDBSCAN (Campello et al. 2013; ``hdbscan_min_cluster_size``, ``hdbscan_min_samples``,
excess-of-mass selection) finds the topics, leaving low-density sentences as outliers. On a GPU with cuML
importable, cuML's UMAP and HDBSCAN; else umap-learn and hdbscan on the CPU. No stability is measured.

References: M. Grootendorst (2022), BERTopic: Neural topic modeling with a class-based TF-IDF procedure,
arXiv:2203.05794. J. H. Ward (1963), Hierarchical grouping to optimize an objective function, JASA 58(301).
N. Reimers, I. Gurevych (2019), Sentence-BERT, EMNLP. L. McInnes, J. Healy, J. Melville (2018), UMAP,
arXiv:1802.03426. R. Campello, D. Moulavi, J. Sander (2013), Density-based clustering based on hierarchical
density estimates, PAKDD.

On CPU, UMAP's numba kernels are compiled once per machine and cached (``jit_cache``). The UMAP fit is lean
but gives the same topics as plain BERTopic (``lean=False``), bit for bit: UMAP gets its exact cosine
neighbours from compiled code (``exact_knn``) instead of ~60,000 Python calls, and BERTopic skips the
representative documents it would pick per topic, which the outputs do not carry.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ftm_assets import constants as C
from ftm_assets.worker_config import TopicParams, check_topic_method
from ftm_assets.worker.model.bertopic_fit import WardClusters, fit_bertopic, pass_through
from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache
from ftm_assets.worker.model.ward import WardParams


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


def _reducers(params: TopicParams, n_docs: int, use_gpu: bool, embeddings: np.ndarray | None = None):
    """UMAP and HDBSCAN for ``n_docs`` sentences; with ``embeddings``, UMAP's exact neighbours precomputed."""
    n_neighbors = max(2, min(params.umap_n_neighbors, n_docs - 1))
    n_components = max(2, min(params.umap_n_components, n_docs - 2))
    import_umap_with_jit_cache()
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


def fit_topics(
    sentences: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    *,
    use_gpu: bool,
    lean: bool = True,
    groups: Sequence[Hashable] | None = None,
    procedural: Sequence[bool] | None = None,
) -> list[Topic]:
    """Topics of one firm, ordered by topic id (-1, the outliers, first when present).

    ``groups``: each sentence's component (e.g. ``(call_id, component_order)``), in call order; the Ward
    method smooths embeddings within a component only. None: every sentence on its own (no smoothing).
    ``procedural``: ``boilerplate.procedural_mask(sentences)`` when the caller has it (None: computed here).
    ``lean=False`` runs plain BERTopic (with the UMAP method, without precomputed neighbours): same topics, slower.
    """
    n = len(sentences)
    if check_topic_method(params.topic_method) == "ward":
        reduction, cluster_model = pass_through(), WardClusters(sentences, groups, ward_params(params, n),
                                                                params.random_seed, procedural)
        if not cluster_model.has_content():
            return [Topic(-1, [], list(range(n)), 0.0)]
    else:
        reduction, cluster_model = _reducers(params, n, use_gpu, embeddings if lean else None)
    assignments, words = fit_bertopic(sentences, embeddings, reduction, cluster_model, params.top_n_keywords,
                                      lean=lean)
    if (assignments >= 0).sum() == 0:
        return [Topic(-1, [], list(range(n)), 0.0 if isinstance(cluster_model, WardClusters) else None)]
    topics = []
    for topic_id in sorted(set(assignments.tolist())):
        ids = np.flatnonzero(assignments == topic_id)
        topics.append(Topic(int(topic_id), words[topic_id], ids.astype(int).tolist(),
                            _stability(cluster_model, int(topic_id), int(ids[0]))))
    return topics


def _stability(cluster_model, topic_id: int, first: int) -> float | None:
    """The Ward topic's stability, found by its first sentence's label before BERTopic renumbered it; 0 for -1."""
    if not isinstance(cluster_model, WardClusters):
        return None
    if topic_id < 0:
        return 0.0
    return float(cluster_model.stability_.get(int(cluster_model.labels_[first]), 0.0))

"""Stable topics of one firm: Ward clustering of context-smoothed sentence embeddings, deterministic by design.

Why not one UMAP + HDBSCAN fit: a reseed moves about a third of a call's sentences to another topic (ARI
~0.55-0.65 on real calls), and consensus over seeds only averages that noise slowly (a hundred k-means
members still leave ARI ~0.7). A single sentence's embedding is a noisy reading of what is being discussed;
its neighbours in the same speaker turn are further readings, when they speak of the same thing. So each
sentence's vector is first averaged with up to ``window`` sentences either side *within its component*
(weights ``decay**d``, gated by similarity: below), then the call is cut into topics by Ward's agglomerative
clustering (scipy), which draws nothing at random: the same sentences give the same topics under any seed
(seed-to-seed ARI 1.0). Smoothing within a component, never across, keeps the topics of the sentences a
call keeps when it loses other components (median ARI ~0.8 with 15% of components dropped on held-out
Earnings-22 calls, against ~0.6 when the same turns hold random sentences: benchmarks/RESULTS.md).

The number of topics follows the call's length (``sentences_per_topic``, capped by ``max_topics``); groups
under the minimum topic size become outliers (-1). Calls above ``max_points`` sentences are clustered on
every k-th sentence (a deterministic stride), the rest joining the nearest topic centroid.

``gate`` (0: off) weighs each neighbour also by how similar it is to the sentence,
``min(1, max(cos, 0) / gate_scale)**gate`` on the raw embeddings: a turn that stays on one subject is
smoothed as before, one that wanders much less, so topics follow what is said more than the shape of the
turns (a turn of unrelated sentences, as in the benchmark's shuffled-sentence null, is smoothed far less).

Each topic's ``stability`` is how reliably it recurs when the call is resampled: Ward on ``members`` random
subsamples (``subsample`` of the sentences each, drawn from ``numpy.random.default_rng(seed)``: the
configured ``FTM_RANDOM_SEED`` drives every random draw there is), and per topic the mean over members of its
best Jaccard overlap with a member's cluster, on the sentences that member drew (calls above 1,000 sentences:
resamples of every k-th sentence). A resample is drawn from the *raw* vectors and smoothed over the sentences
it drew only, as if the call had been shorter: a sentence left out never feeds its neighbours (smoothing
first and resampling after would let it, and would score noise nearly as stable as content).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ftm_assets import constants as C

OUTLIER = -1
STABILITY_MAX_POINTS = 1000  # resamples of longer calls draw from every k-th sentence


@dataclass(frozen=True)
class WardParams:
    window: int  # sentences either side, within the component, averaged into each sentence's vector
    decay: float  # weight of a neighbour d sentences away: decay**d
    sentences_per_topic: int
    max_topics: int
    min_cluster_size: int
    members: int  # resamples behind each topic's stability
    subsample: float
    max_points: int = 4000
    gate: float = C.CONTEXT_GATE  # neighbour weight also times min(1, max(cos, 0) / gate_scale)**gate; 0: off
    gate_scale: float = C.CONTEXT_GATE_SCALE  # the raw cosine at and above which a neighbour counts in full


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # per sentence, -1 for outliers; topics numbered by first appearance
    stability: dict[int, float]  # per topic label (not the outliers), in [0, 1]


def smooth(
    x: np.ndarray, groups: Sequence[Hashable], window: int, decay: float, gate: float = 0.0, gate_scale: float = 1.0
) -> np.ndarray:
    """Each row averaged with up to ``window`` rows either side that share its group, then re-normalised.

    With ``gate`` > 0 a neighbour's weight ``decay**d`` is also multiplied by
    ``min(1, max(cos, 0) / gate_scale)**gate`` (``cos``: the two raw rows' cosine).
    """
    x = _unit(np.asarray(x, dtype=np.float64))
    out = x.copy()
    g = np.asarray([hash_key(k) for k in groups], dtype=np.int64)
    for d in range(1, min(window, len(x) - 1) + 1):
        same = g[d:] == g[:-d]
        w = np.where(same, decay**d, 0.0)
        if gate > 0:
            cos = np.einsum("ij,ij->i", x[d:], x[:-d])
            w = w * np.minimum(np.maximum(cos, 0.0) / gate_scale, 1.0) ** gate
        out[d:] += w[:, None] * x[:-d]
        out[:-d] += w[:, None] * x[d:]
    return _unit(out)


def hash_key(key: Hashable) -> int:
    """A stable integer for a group key (the component): equality is all that matters here."""
    import zlib

    return zlib.crc32(repr(key).encode())


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def n_topics(n: int, params: WardParams) -> int:
    return int(min(params.max_topics, max(2, round(n / params.sentences_per_topic)), max(1, n - 1)))


def ward_labels(x: np.ndarray, k: int) -> np.ndarray:
    """Ward's clusters (1..k) of the rows of ``x``; deterministic."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(x) < 2:
        return np.ones(len(x), dtype=np.int64)
    return fcluster(linkage(x, method="ward"), t=k, criterion="maxclust").astype(np.int64)


def cluster(x: np.ndarray, groups: Sequence[Hashable], params: WardParams, seed: int) -> Clustering:
    """Topics of the rows of ``x`` (sentence embeddings in call order; ``groups`` their components)."""
    from threadpoolctl import threadpool_limits

    xs = smooth(x, groups, params.window, params.decay, params.gate, params.gate_scale)
    # One BLAS thread: small products, where threads cost more than they give, and a fixed summation
    # order keeps the output bit-identical whatever the machine's thread count.
    with threadpool_limits(limits=1, user_api="blas"):
        raw = _labels(xs, n_topics(len(xs), params), params.max_points)
        labels = _renumber(_drop_small(raw, params.min_cluster_size))
        return Clustering(labels, stability(x, groups, labels, params, seed))


def _labels(xs: np.ndarray, k: int, max_points: int) -> np.ndarray:
    """Ward on all rows, or on a deterministic stride of ``max_points`` rows with the rest to the nearest centroid."""
    n = len(xs)
    if n <= max_points:
        return ward_labels(xs, k)
    stride = -(-n // max_points)
    picked = np.arange(0, n, stride)
    sample_labels = ward_labels(xs[picked], k)
    ids = np.unique(sample_labels)
    centroids = _unit(np.stack([xs[picked][sample_labels == c].mean(axis=0) for c in ids]))
    out = ids[np.argmax(xs @ centroids.T, axis=1)]
    out[picked] = sample_labels
    return out


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    sizes = np.bincount(labels)
    return np.where(sizes[labels] >= min_size, labels, OUTLIER)


def _renumber(labels: np.ndarray) -> np.ndarray:
    out = np.full(len(labels), OUTLIER, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, t in enumerate(labels):
        if t >= 0:
            out[i] = seen.setdefault(int(t), len(seen))
    return out


def stability(
    x: np.ndarray, groups: Sequence[Hashable], labels: np.ndarray, params: WardParams, seed: int
) -> dict[int, float]:
    """Per topic: mean over seeded resamples of its best Jaccard overlap with one of the resample's clusters.

    ``x`` are the raw (unsmoothed) vectors: each resample is smoothed over the sentences it drew only.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x)
    keys = list(groups)
    if len(x) > STABILITY_MAX_POINTS:  # a long call: resample a deterministic stride (keeps it ~1 s)
        stride = -(-len(x) // STABILITY_MAX_POINTS)
        x, labels, keys = x[::stride], labels[::stride], keys[::stride]
    n = len(x)
    m = max(2, int(round(params.subsample * n)))
    topics = [int(t) for t in np.unique(labels) if t >= 0]
    scores: dict[int, list[float]] = {t: [] for t in topics}
    if not topics or params.members <= 0 or m >= n:
        return {t: 1.0 for t in topics}
    for _ in range(params.members):
        drawn = np.sort(rng.choice(n, size=m, replace=False))
        xs = smooth(x[drawn], [keys[i] for i in drawn], params.window, params.decay, params.gate, params.gate_scale)
        theirs = _labels(xs, n_topics(m, params), params.max_points)
        mine = labels[drawn]
        for t in topics:
            in_t = mine == t
            if not in_t.any():
                continue
            overlap = np.bincount(theirs[in_t], minlength=theirs.max() + 1)
            union = in_t.sum() + np.bincount(theirs, minlength=theirs.max() + 1) - overlap
            scores[t].append(float((overlap / np.maximum(union, 1)).max()))
    return {t: float(np.mean(v)) if v else 0.0 for t, v in scores.items()}

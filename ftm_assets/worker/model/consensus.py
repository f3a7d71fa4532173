"""Consensus clustering of one firm's sentence embeddings: the structure that recurs across many cheap members.

One UMAP + HDBSCAN fit is a single random draw: a reseed moves about a third of a call's sentences to another
topic (ARI ~0.55-0.65). Here each member clusters a random subsample of the sentences (k-means with a random
k and start, on the embeddings BERTopic would get); the share of members that put two sentences together,
among those that drew both, is their co-association. Average linkage on ``1 - co-association``, cut where
pairs are grouped by fewer than half the members that saw them, gives the topics; sentences without a
decisive home (too small a group, or a low mean co-association with their own topic) are outliers.

Why this is stable: each member is cheap (milliseconds), so a few hundred average away the draw of any one
seed; and because members never see every sentence, structure that hinges on a few sentences (a call that
lost some components) does not survive into the consensus. Every random draw comes from
``numpy.random.default_rng(seed)``: the configured seed (``FTM_RANDOM_SEED``) drives them all.

Each topic's ``stability`` is how reliably it recurs: over members, the best Jaccard overlap between the
topic (restricted to the sentences the member drew) and one of the member's clusters, averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTLIER = -1


@dataclass(frozen=True)
class ConsensusParams:
    n_members: int
    subsample: float  # share of sentences each member draws
    sentences_per_cluster: tuple[int, int]  # members' k drawn from n / hi .. n / lo
    cut: float  # average-linkage cut on 1 - co-association
    min_cluster_size: int
    margin: float  # a sentence whose mean co-association with its topic is below this is an outlier
    max_outlier_share: float
    max_points: int = 3000  # above this many sentences, the consensus runs on k-means micro-clusters


@dataclass(frozen=True)
class Consensus:
    labels: np.ndarray  # per sentence, -1 for outliers, topics 0..k-1 in order of first appearance
    stability: dict[int, float]  # per label (outliers included), in [0, 1]


def members(x: np.ndarray, params: ConsensusParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, drawn)``: each member's cluster per sentence (-1 where not drawn), shape (members, n)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    m = max(2, int(round(params.subsample * n)))
    lo, hi = params.sentences_per_cluster
    k_min, k_max = max(2, n // hi), max(3, n // lo)
    labels = np.full((params.n_members, n), -1, dtype=np.int32)
    for r in range(params.n_members):
        idx = np.sort(rng.choice(n, size=m, replace=False))
        k = int(rng.integers(k_min, k_max + 1))
        labels[r, idx] = _kmeans(x[idx], min(k, m - 1), rng)
    return labels, labels >= 0


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 12) -> np.ndarray:
    """Spherical k-means (cosine) from a k-means++ start: a few numpy Lloyd steps, no per-call overhead."""
    n = len(x)
    centers = np.empty((k, x.shape[1]), dtype=x.dtype)
    centers[0] = x[rng.integers(n)]
    d2 = 1.0 - x @ centers[0]
    for j in range(1, k):
        p = np.clip(d2, 0, None)
        total = p.sum()
        i = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(n))
        centers[j] = x[i]
        d2 = np.minimum(d2, 1.0 - x @ centers[j])
    assign = np.zeros(n, dtype=np.int32)
    for _ in range(iters):
        new = np.argmax(x @ centers.T, axis=1).astype(np.int32)
        if _ > 0 and np.array_equal(new, assign):
            break
        assign = new
        sums = np.zeros_like(centers)
        np.add.at(sums, assign, x)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        keep = norms[:, 0] > 0
        centers[keep] = sums[keep] / norms[keep]
    return assign


def co_association(labels: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Share of members that grouped i and j among those that drew both (0 where none did)."""
    n = labels.shape[1]
    together = np.zeros((n, n), dtype=np.int32)
    for row in labels:
        idx = np.flatnonzero(row >= 0)
        sub = row[idx]
        together[np.ix_(idx, idx)] += sub[:, None] == sub[None, :]
    d = drawn.astype(np.float32)
    both = (d.T @ d).astype(np.int32)  # counts: exact in float32 below 2**24
    return np.divide(together, both, out=np.zeros((n, n)), where=both > 0)


def consensus_labels(co: np.ndarray, params: ConsensusParams) -> np.ndarray:
    """Average linkage on ``1 - co``, cut at ``params.cut``; small groups and undecided sentences -> -1."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = len(co)
    dist = 1.0 - co
    np.fill_diagonal(dist, 0.0)
    groups = fcluster(linkage(squareform(dist, checks=False), method="average"), t=params.cut, criterion="distance")
    labels = np.full(n, OUTLIER, dtype=np.int64)
    sizes = np.bincount(groups)
    next_id = 0
    renumber: dict[int, int] = {}
    for i, g in enumerate(groups):  # first appearance: deterministic ids
        if sizes[g] < params.min_cluster_size:
            continue
        if g not in renumber:
            renumber[g] = next_id
            next_id += 1
        labels[i] = renumber[g]
    return _apply_margin(co, labels, params)


def _apply_margin(co: np.ndarray, labels: np.ndarray, params: ConsensusParams) -> np.ndarray:
    """Sentences least attached to their topic become outliers, within the outlier budget."""
    labels = labels.copy()
    n = len(labels)
    attach = np.ones(n)
    for t in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == t)
        block = co[np.ix_(idx, idx)]
        attach[idx] = (block.sum(axis=1) - 1.0) / max(1, len(idx) - 1)
    budget = int(params.max_outlier_share * n) - int((labels == OUTLIER).sum())
    weak = [i for i in np.argsort(attach, kind="stable") if labels[i] >= 0 and attach[i] < params.margin]
    for i in weak[: max(0, budget)]:
        labels[i] = OUTLIER
    # A topic thinned below the minimum size is dissolved into the outliers too.
    for t in np.unique(labels[labels >= 0]):
        if (labels == t).sum() < params.min_cluster_size:
            labels[labels == t] = OUTLIER
    return _renumber(labels)


def _renumber(labels: np.ndarray) -> np.ndarray:
    out = np.full_like(labels, OUTLIER)
    seen: dict[int, int] = {}
    for i, t in enumerate(labels):
        if t >= 0:
            out[i] = seen.setdefault(int(t), len(seen))
    return out


def topic_stability(labels: np.ndarray, member_labels: np.ndarray, drawn: np.ndarray) -> dict[int, float]:
    """Per topic: mean over members of the best Jaccard between the topic (on the drawn) and a member cluster."""
    out: dict[int, float] = {}
    for t in np.unique(labels):
        in_t = labels == t
        scores = []
        for row, seen in zip(member_labels, drawn):
            mine = in_t & seen
            if not mine.any():
                continue
            best = 0.0
            for c in np.unique(row[mine]):
                theirs = row == c
                best = max(best, (mine & theirs).sum() / (mine | theirs).sum())
            scores.append(best)
        out[int(t)] = float(np.mean(scores)) if scores else 0.0
    return out


def consensus(x: np.ndarray, params: ConsensusParams, seed: int) -> Consensus:
    """Consensus topics of the rows of ``x`` (unit-normalised sentence embeddings)."""
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if len(x) > params.max_points:
        return _on_micro_clusters(x, params, seed)
    member_labels, drawn = members(x, params, seed)
    labels = consensus_labels(co_association(member_labels, drawn), params)
    return Consensus(labels, topic_stability(labels, member_labels, drawn))


def _on_micro_clusters(x: np.ndarray, params: ConsensusParams, seed: int) -> Consensus:
    """A very long call: k-means into ``max_points`` micro-clusters, consensus on their centroids.

    Keeps memory at ``max_points**2`` (the co-association matrix) whatever the call's length; the members'
    k and the minimum topic size scale with the micro-clusters' mean size.
    """
    rng = np.random.default_rng([seed, len(x)])
    micro = _kmeans(x, params.max_points, rng)
    used, micro = np.unique(micro, return_inverse=True)
    sums = np.zeros((len(used), x.shape[1]))
    np.add.at(sums, micro, x)
    centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    per_micro = len(x) / len(used)
    lo, hi = params.sentences_per_cluster
    scaled = ConsensusParams(
        params.n_members, params.subsample, (max(1, round(lo / per_micro)), max(2, round(hi / per_micro))),
        params.cut, max(2, round(params.min_cluster_size / per_micro)), params.margin, params.max_outlier_share,
        params.max_points,
    )  # fmt: skip
    member_labels, drawn = members(centroids, scaled, seed)
    labels = consensus_labels(co_association(member_labels, drawn), scaled)
    return Consensus(labels[micro], topic_stability(labels, member_labels, drawn))

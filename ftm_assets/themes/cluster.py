"""Anchored clustering of a quarter's firm topics into themes (pure numpy/scipy, no Dagster, no I/O).

Why anchored: a quarter clustered from scratch splits and merges its themes differently from the quarter
before even when little changed, and ids matched afterwards inherit that noise. Here the themes already
known (the registry's centroids, fixed at each theme's birth) are seeds:
1. every topic goes to its most similar known theme if the cosine reaches ``assign_similarity``;
2. the topics no known theme takes are clustered (average linkage, cosine, cut at ``linkage_distance``;
   above ``exact_max`` topics k-means micro-clusters first, so no n x n matrix is ever built); a cluster
   spanning ``min_firms`` firms becomes a new theme, its centroid the mean of its members;
3. every topic is then assigned to its most similar theme, old or new (so a topic is judged the same way
   in the quarter a theme is born and in every later one);
4. constraints: no firm holds more than ``max_firm_share`` of a theme's topics (its least similar topics
   leave) and a theme keeps at least ``min_firms`` firms, else its topics stay firm-specific.
Same topics, same known themes and same parameters give the same themes, bit for bit (inputs are sorted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ftm_assets.themes.params import ThemeParams

CHUNK = 8192  # rows of the topic x theme similarity computed at once


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # per topic: index into ``centroids`` or -1 (firm-specific)
    similarity: np.ndarray  # per topic: cosine to its theme's centroid (to its best theme when unassigned)
    centroids: np.ndarray  # known themes first (as given), then the new ones
    n_known: int  # how many of ``centroids`` were given


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def best_match(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``x``: the most similar centroid (cosine) and that similarity, in chunks."""
    if len(centroids) == 0:
        return np.full(len(x), -1, dtype=np.int64), np.full(len(x), -np.inf, dtype=np.float32)
    best = np.empty(len(x), dtype=np.int64)
    sim = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), CHUNK):
        block = x[start : start + CHUNK] @ centroids.T
        best[start : start + CHUNK] = block.argmax(axis=1)
        sim[start : start + CHUNK] = block.max(axis=1)
    return best, sim


def _average_linkage(x: np.ndarray, cut: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(x) == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(x.astype(np.float64), method="average", metric="cosine")
    return fcluster(tree, t=cut, criterion="distance").astype(np.int64) - 1


def spherical_kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 6) -> np.ndarray:
    """Labels of ``k`` cosine micro-clusters: seeded random start, a few Lloyd steps, chunked (no n x n)."""
    rng = np.random.default_rng(seed)
    centres = x[np.sort(rng.choice(len(x), size=k, replace=False))]
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        labels, _ = best_match(x, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, x)
        empty = np.bincount(labels, minlength=k) == 0
        sums[empty] = centres[empty]  # an empty micro-cluster keeps its centre
        centres = normalise(sums)
    return labels


def groups(labels: np.ndarray) -> list[np.ndarray]:
    """Member indices (ascending) of each label >= 0, in label order, in one sort instead of a mask per label."""
    if len(labels) == 0:
        return []
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    out = np.split(order, starts[1:])
    return [g for g, first in zip(out, sorted_labels[starts]) if first >= 0]


def cluster_points(x: np.ndarray, params: ThemeParams) -> np.ndarray:
    """Cluster labels (0..k-1) of unit vectors ``x``: exact average linkage, or micro-clusters first."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(x) <= params.exact_max:
        return _average_linkage(x, params.linkage_distance)
    k = min(params.exact_max, max(2, len(x) // params.micro_cluster_size))
    micro = spherical_kmeans(x, k, params.random_seed)
    used = np.unique(micro)
    sums = np.zeros((k, x.shape[1]), dtype=np.float32)
    np.add.at(sums, micro, x)
    centres = normalise(sums[used])
    coarse = _average_linkage(centres, params.linkage_distance)
    lookup = np.full(k, -1, dtype=np.int64)
    lookup[used] = coarse
    return lookup[micro]


def _split_oversized(x: np.ndarray, members: np.ndarray, sizes: np.ndarray, total: int, cut: float,
                     params: ThemeParams) -> list[np.ndarray]:
    """``members`` as one cluster, or re-cut tighter while it holds over ``max_theme_share`` of ``total``.

    Generic call talk (growth, results, the business) forms one broad cluster that would swallow a fifth of
    a quarter; cutting it again splits it into themes a researcher can tell apart.
    """
    too_big = sizes[members].sum() > params.max_theme_share * total
    tighter = cut - params.split_step
    if not too_big or tighter < params.min_linkage_distance or len(members) < 2 * params.min_firms:
        return [members]
    labels = cluster_points(x[members], replace(params, linkage_distance=tighter))
    parts = groups(labels)
    if len(parts) == 1:
        return _split_oversized(x, members, sizes, total, tighter, params)
    return [m for part in parts for m in _split_oversized(x, members[part], sizes, total, tighter, params)]


def _new_themes(x: np.ndarray, firms: np.ndarray, sizes: np.ndarray, total: int, params: ThemeParams) -> np.ndarray:
    """Centroids of the clusters of ``x`` that span ``min_firms`` firms, largest first (ties: first member)."""
    labels = cluster_points(x, params)
    found = []
    for group in groups(labels):
        for members in _split_oversized(x, group, sizes, total, params.linkage_distance, params):
            if len(np.unique(firms[members])) >= params.min_firms:
                found.append((-int(sizes[members].sum()), int(members.min()), members))
    found.sort(key=lambda item: item[:2])
    if not found:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    return normalise(np.stack([x[m].mean(axis=0) for _, _, m in found]))


def enforce_constraints(labels: np.ndarray, sim: np.ndarray, firms: np.ndarray, params: ThemeParams) -> np.ndarray:
    """Labels after the firm-share cap (least similar topics of a dominant firm leave) and the firm minimum."""
    labels = labels.copy()
    for group in groups(labels):
        members = group[np.lexsort((group, -sim[group]))]  # most similar first, ties by position
        kept: list[int] = []
        per_firm: dict[int, int] = {}
        # Walk members from most to least similar; a firm's topic stays while its share stays within the cap
        # of the theme as it would be with every topic of other firms (computed on the final count below).
        counts = np.bincount(firms[members])
        others = len(members) - counts  # topics of other firms, per firm code
        for m in members:
            f = int(firms[m])
            mine = per_firm.get(f, 0) + 1
            if mine / (mine + others[f]) <= params.max_firm_share + 1e-9:
                per_firm[f] = mine
                kept.append(m)
        dropped = np.setdiff1d(members, kept)
        labels[dropped] = -1
        if len(np.unique(firms[kept])) < params.min_firms:
            labels[kept] = -1
    return labels


def cluster_topics(centroids: np.ndarray, firms: np.ndarray, sizes: np.ndarray, known: np.ndarray,
                   params: ThemeParams) -> Clustering:
    """Themes of one quarter's topics (rows of ``centroids``, unit vectors) given the ``known`` themes' centroids.

    ``firms`` are integer firm codes, ``sizes`` the topics' sentence counts (they order new themes).
    """
    x = normalise(centroids)
    known = normalise(known) if len(known) else np.zeros((0, x.shape[1]), dtype=np.float32)
    _, sim = best_match(x, known)
    leftover = np.flatnonzero(sim < params.assign_similarity)
    new = _new_themes(x[leftover], firms[leftover], sizes[leftover], int(sizes.sum()), params)
    all_centroids = np.concatenate([known, new]) if len(new) else known
    best, sim = best_match(x, all_centroids)
    labels = np.where(sim >= params.assign_similarity, best, -1)
    labels = enforce_constraints(labels, sim, firms, params)
    return Clustering(labels=labels, similarity=sim, centroids=all_centroids, n_known=len(known))

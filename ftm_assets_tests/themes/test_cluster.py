"""Anchored clustering: planted themes recovered, firm constraints held, determinism, the micro-cluster path."""

import numpy as np

from ftm_assets.themes.cluster import cluster_topics, enforce_constraints, normalise
from ftm_assets.themes.params import ThemeParams


def planted(n_themes=8, firms=15, per_firm=4, dim=32, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = normalise(rng.normal(size=(n_themes, dim)))
    rows, firm_codes, truth = [], [], []
    for f in range(firms):
        for k in range(per_firm):
            t = (f + 3 * k) % n_themes
            rows.append(centres[t] + rng.normal(scale=noise / np.sqrt(dim), size=dim))
            firm_codes.append(f)
            truth.append(t)
    return normalise(np.array(rows)), np.array(firm_codes), np.array(truth), centres


def test_planted_themes_are_recovered_one_to_one():
    x, firms, truth, _ = planted()
    result = cluster_topics(x, firms, np.full(len(x), 10), np.zeros((0, x.shape[1])), ThemeParams())
    assert (result.labels >= 0).all()
    pairs = set(zip(truth.tolist(), result.labels.tolist()))
    assert len(pairs) == len(set(truth)) == len(set(result.labels.tolist()))


def test_known_themes_keep_their_index_and_new_ones_come_after():
    x, firms, truth, centres = planted()
    known = centres[:5]  # themes 0-4 known; 5-7 are new this quarter
    result = cluster_topics(x, firms, np.full(len(x), 10), known, ThemeParams())
    assert result.n_known == 5
    for t in range(5):
        assert set(result.labels[truth == t].tolist()) == {t}
    assert all(lab >= 5 for lab in result.labels[truth >= 5])


def test_same_input_gives_identical_labels():
    x, firms, _, _ = planted(seed=3)
    a = cluster_topics(x, firms, np.full(len(x), 10), np.zeros((0, x.shape[1])), ThemeParams())
    b = cluster_topics(x.copy(), firms.copy(), np.full(len(x), 10), np.zeros((0, x.shape[1])), ThemeParams())
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.centroids, b.centroids)


def test_a_theme_held_by_too_few_firms_stays_firm_specific():
    x, firms, truth, _ = planted()
    firms = firms.copy()
    firms[truth == 0] = 99  # every topic of theme 0 now belongs to one firm
    result = cluster_topics(x, firms, np.full(len(x), 10), np.zeros((0, x.shape[1])), ThemeParams())
    assert (result.labels[truth == 0] == -1).all()
    assert (result.labels[truth != 0] >= 0).all()


def test_no_firm_holds_more_than_the_cap():
    labels = np.array([0, 0, 0, 0, 0, 0, 0])
    firms = np.array([1, 1, 1, 1, 2, 3, 4])  # firm 1 holds 4 of 7
    sim = np.array([0.9, 0.8, 0.7, 0.6, 0.9, 0.9, 0.9])
    out = enforce_constraints(labels, sim, firms, ThemeParams(max_firm_share=0.4, min_firms=3))
    kept = firms[out == 0]
    assert (np.bincount(kept) / len(kept)).max() <= 0.4
    assert list(out[:4]) == [0, 0, -1, -1]  # firm 1 keeps its two most similar topics


def test_above_exact_max_micro_clusters_find_the_same_themes():
    x, firms, truth, _ = planted(n_themes=10, firms=300, per_firm=5, noise=0.2)
    params = ThemeParams(exact_max=500, micro_cluster_size=5)
    assert len(x) > params.exact_max
    result = cluster_topics(x, firms, np.full(len(x), 10), np.zeros((0, x.shape[1])), params)
    assert (result.labels >= 0).mean() > 0.99
    majority = {t: np.bincount(result.labels[truth == t][result.labels[truth == t] >= 0]).argmax() for t in range(10)}
    assert len(set(majority.values())) == 10

"""ward.py on noisy, overlapping synthetic "calls": seed-free topics, robust to lost components, leak-free stability."""

import dataclasses

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ftm_assets.worker.model.ward import WardParams, cluster, smooth, stability

# Distance-only smoothing (no similarity gate): these synthetic sentences are far noisier than real ones (two
# of a theme have a cosine near 0.1), so a gate tuned on real embeddings would smooth them hardly at all.
PARAMS = WardParams(window=4, decay=0.8, sentences_per_topic=20, max_topics=40, min_cluster_size=5, members=10,
                    subsample=0.8, gate=0.0)  # fmt: skip


def _call(n_themes=8, n_components=60, dim=48, noise=0.5, seed=3):
    """Components of 3-9 sentences, each on one theme; a sentence's vector is its theme plus heavy noise.

    With ``noise`` 0.5 per dimension the themes overlap: a sentence's nearest theme centre is its own for only about half
    of the sentences, so one sentence alone is a poor reading of its theme (as on real calls).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_themes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x, theme, comp = [], [], []
    for c in range(n_components):
        t = int(rng.integers(n_themes))
        for _ in range(int(rng.integers(3, 10))):
            x.append(centres[t] + noise * rng.normal(size=dim))
            theme.append(t)
            comp.append(c)
    x = np.asarray(x)
    return x, np.asarray(theme), np.asarray(comp), centres


def test_themes_overlap_sentence_by_sentence():
    """The input is hard: each sentence alone is often nearer another theme's centre than its own."""
    x, theme, _, centres = _call()
    nearest = np.argmax(x @ centres.T, axis=1)
    assert 0.3 < (nearest == theme).mean() < 0.8


def test_topics_do_not_depend_on_the_seed_and_stability_does_draw_from_it():
    x, _, comp, _ = _call()
    a = cluster(x, comp.tolist(), PARAMS, seed=42)
    b = cluster(x, comp.tolist(), PARAMS, seed=7)
    assert np.array_equal(a.labels, b.labels)  # nothing random decides the topics
    assert a.stability != b.stability  # the resamples behind the score are the seed's draws
    again = cluster(x, comp.tolist(), PARAMS, seed=42)
    assert again.stability == a.stability
    assert all(0.0 <= s <= 1.0 for s in a.stability.values())
    assert set(a.stability) == set(np.unique(a.labels[a.labels >= 0]).tolist())


def test_context_within_components_recovers_overlapping_themes():
    """Smoothing within components finds the themes far better than clustering sentences alone."""
    x, theme, comp, _ = _call()
    with_context = cluster(x, comp.tolist(), PARAMS, seed=42).labels
    alone = cluster(x, list(range(len(x))), PARAMS, seed=42).labels
    ari_context = adjusted_rand_score(theme, with_context)
    ari_alone = adjusted_rand_score(theme, alone)
    assert ari_context > ari_alone + 0.2, (ari_context, ari_alone)
    assert ari_context >= 0.5


def _drop_agreement(x, comp, groups_of) -> float:
    """Median ARI, over five draws, between the call's topics and those of the call less 15% of components."""
    full = cluster(x, groups_of(comp), PARAMS, seed=42).labels
    scores = []
    for draw in range(5):
        rng = np.random.default_rng(draw)
        gone = rng.choice(comp.max() + 1, size=round(0.15 * (comp.max() + 1)), replace=False)
        keep = ~np.isin(comp, gone)
        part = cluster(x[keep], groups_of(comp[keep]), PARAMS, seed=42).labels
        scores.append(adjusted_rand_score(full[keep], part))
    return float(np.median(scores))


def test_losing_15_percent_of_components_keeps_the_other_sentences_topics():
    """On this hard input (real calls: ~0.85), and far above clustering the sentences alone."""
    x, _, comp, _ = _call()
    with_context = _drop_agreement(x, comp, lambda c: c.tolist())
    alone = _drop_agreement(x, comp, lambda c: list(range(len(c))))
    assert with_context >= 0.65, with_context
    assert with_context > alone + 0.2, (with_context, alone)


def test_a_clear_topic_is_more_stable_than_a_vague_one():
    """One tight group beside diffuse noise: its stability is high, the noise's topics' lower."""
    rng = np.random.default_rng(0)
    dim = 32
    tight = rng.normal(size=dim) + 0.05 * rng.normal(size=(40, dim))
    diffuse = rng.normal(size=(160, dim))
    x = np.vstack([tight, diffuse])
    found = cluster(x, list(range(len(x))), PARAMS, seed=1)
    tight_topic = np.bincount(found.labels[:40][found.labels[:40] >= 0]).argmax()
    others = [s for t, s in found.stability.items() if t != tight_topic]
    assert found.stability[tight_topic] >= 0.9
    assert found.stability[tight_topic] > np.median(others) + 0.2


def test_long_calls_cluster_a_stride_and_assign_the_rest():
    x, theme, comp, _ = _call(n_components=150)
    params = dataclasses.replace(PARAMS, max_points=200, members=2)
    found = cluster(x, comp.tolist(), params, seed=42)
    assert len(found.labels) == len(x)
    assert found.labels.max() + 1 <= params.max_topics
    everything = cluster(x, comp.tolist(), dataclasses.replace(params, max_points=4000), seed=42).labels
    assert adjusted_rand_score(everything, found.labels) >= 0.45  # close to Ward on every sentence
    assert adjusted_rand_score(theme, found.labels) >= 0.9 * adjusted_rand_score(theme, everything)
    assert np.array_equal(found.labels, cluster(x, comp.tolist(), params, seed=9).labels)


def test_smoothing_stays_inside_a_component():
    x = np.eye(4)
    out = smooth(x, ["a", "a", "b", "b"], window=2, decay=0.5)
    assert out[0, 2] == 0 and out[0, 3] == 0 and out[0, 1] > 0
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)


def test_similarity_gate_smooths_with_like_neighbours_only():
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.8, 0.6, 0.0]])
    plain = smooth(x, ["a", "a", "a"], window=1, decay=0.5)
    gated = smooth(x, ["a", "a", "a"], window=1, decay=0.5, gate=2.0)
    assert plain[0, 1] > 0  # distance alone: the orthogonal neighbour leaks in
    assert gated[0, 1] == 0  # cos 0: no weight at all
    assert gated[1, 0] > 0 and gated[1, 0] < plain[1, 0]  # a like neighbour (cos 0.6) counts, less than before
    assert np.array_equal(smooth(x, ["a", "a", "a"], window=1, decay=0.5, gate=0.0), plain)


def test_stability_resamples_before_smoothing_so_a_left_out_sentence_changes_nothing():
    """A sentence a resample did not draw cannot feed its drawn neighbours through the smoothing."""
    x, _, comp, _ = _call()
    params = dataclasses.replace(PARAMS, members=1)
    labels = cluster(x, comp.tolist(), params, seed=5).labels
    n, m = len(x), int(round(params.subsample * len(x)))
    drawn = np.sort(np.random.default_rng(5).choice(n, size=m, replace=False))  # the one resample's draw
    left_out = next(i for i in range(1, n - 1) if i not in set(drawn) and comp[i - 1] == comp[i] == comp[i + 1])
    base = stability(x, comp.tolist(), labels, params, seed=5)
    moved = x.copy()
    moved[left_out] = -10 * x[left_out + 1]  # a wild vector next to a drawn neighbour, in its turn
    assert stability(moved, comp.tolist(), labels, params, seed=5) == base
    moved_drawn = x.copy()
    moved_drawn[drawn] = np.random.default_rng(0).normal(size=(m, x.shape[1]))
    assert stability(moved_drawn, comp.tolist(), labels, params, seed=5) != base


def test_stability_scores_turn_shaped_noise_below_content():
    """Random vectors in the same turns: the old leak (resampling smoothed vectors) scored them nearly as stable."""
    x, _, comp, _ = _call()
    noise = np.random.default_rng(1).normal(size=x.shape)
    real = cluster(x, comp.tolist(), PARAMS, seed=42)
    fake = cluster(noise, comp.tolist(), PARAMS, seed=42)

    def weighted(found):
        sizes = {t: int((found.labels == t).sum()) for t in found.stability}
        return sum(found.stability[t] * s for t, s in sizes.items()) / sum(sizes.values())

    assert weighted(real) > weighted(fake) + 0.1, (weighted(real), weighted(fake))


def test_default_gate_keeps_content_free_turns_from_becoming_topics():
    """Random vectors in real-looking turns: smoothing by distance alone makes the turns the topics; the default
    gate (constants.CONTEXT_GATE) smooths unlike neighbours little, and a call whose turns stay on a subject
    keeps its themes."""
    from sklearn.metrics import adjusted_mutual_info_score

    from ftm_assets import constants as C

    gated = dataclasses.replace(PARAMS, gate=C.CONTEXT_GATE, gate_scale=C.CONTEXT_GATE_SCALE)
    assert WardParams(3, 0.7, 12, 40, 5, 0, 0.8).gate == C.CONTEXT_GATE > 0
    _, _, comp, _ = _call()
    noise = np.random.default_rng(2).normal(size=(len(comp), 48))
    turns_plain = adjusted_mutual_info_score(comp, cluster(noise, comp.tolist(), PARAMS, seed=1).labels)
    turns_gated = adjusted_mutual_info_score(comp, cluster(noise, comp.tolist(), gated, seed=1).labels)
    assert turns_gated < turns_plain - 0.2, (turns_gated, turns_plain)
    x, theme, comp, _ = _call(noise=0.12)  # same-theme sentences at cosine ~0.6, as real neighbours often are
    assert adjusted_rand_score(theme, cluster(x, comp.tolist(), gated, seed=1).labels) >= 0.5

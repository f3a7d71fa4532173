"""topic_eval.py, quality.summarize and topic_sweep.choose: the metric helpers, the gaps and the choosing rule."""

import math

import numpy as np
import pytest

from benchmarks import quality, topic_sweep
from benchmarks.nulls import Prepared
from benchmarks.reference_npmi import ReferenceCorpus
from benchmarks.topic_eval import Candidate, best_jaccard, content_figures, fit, measure_call, spearman


def test_best_jaccard_per_topic():
    mine = np.array([0, 0, 0, 1, 1, -1])
    other = np.array([5, 5, 6, 6, 6, 6])
    got = best_jaccard(mine, other)
    assert got[0] == pytest.approx(2 / 3)  # {0,1,2} vs {0,1}
    assert got[1] == pytest.approx(2 / 4)  # {3,4} vs {2,3,4,5}
    assert -1 not in got


def test_spearman_needs_four_varying_pairs():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2, 3], [1, 2, 3])) and math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]))


def test_summary_gaps_are_real_median_less_null_median():
    rows = [{"seed_ari": 1.0, "fit_s": 0.1, "stability_survival_rho": r, **{k: v for k, v in figs.items()}}
            for r, figs in [(0.5, {"component_ari": 0.9, "shuffled_component_ari": 0.7, "within_turn_ari": 0.7,
                                   "shuffled_within_turn_ari": 0.4, "npmi_ref": -0.1, "shuffled_npmi_ref": -0.3}),
                            (-0.2, {"component_ari": 0.8, "shuffled_component_ari": 0.8, "within_turn_ari": 0.6,
                                    "shuffled_within_turn_ari": 0.5, "npmi_ref": -0.2, "shuffled_npmi_ref": -0.4})]]
    s = quality.summarize(rows)
    assert s["null_gap_component"] == pytest.approx(0.85 - 0.75)
    assert s["null_gap_within_turn"] == pytest.approx(0.65 - 0.45)
    assert s["npmi_ref_gap"] == pytest.approx(0.2) and s["npmi_ref_null"] == pytest.approx(-0.35)
    assert s["stability_survival_rho_positive_share"] == 0.5


def test_choosing_set_is_a_stable_half():
    ids = [f"e22-{i}" for i in range(400)]
    share = np.mean([quality.choosing_set(i) for i in ids])
    assert 0.4 < share < 0.6
    assert [quality.choosing_set(i) for i in ids] == [quality.choosing_set(i) for i in ids]


def _summary(**kw):
    base = dict(within_turn_ari=0.6, null_gap_component=0.05, null_gap_within_turn=0.05, npmi_ref_gap=0.2,
                npmi_ref=-0.2, seed_ari=1.0, topics=20, outlier_share=0.1, fit_s_per_call=0.2)  # fmt: skip
    return {**base, **kw}


def test_choose_prefers_more_targets_met_then_larger_gaps():
    summaries = {topic_sweep.BASELINE.name: _summary(),
                 "wide-gaps-but-slow": _summary(null_gap_component=0.3, null_gap_within_turn=0.3, fit_s_per_call=1.0),
                 "meets-more": _summary(within_turn_ari=0.7, null_gap_component=0.13, null_gap_within_turn=0.2),
                 "meets-as-many-smaller-gaps": _summary(within_turn_ari=0.7, null_gap_component=0.12,
                                                       null_gap_within_turn=0.19)}  # fmt: skip
    assert topic_sweep.choose(summaries) == "meets-more"
    assert sum(topic_sweep.targets_met(summaries["meets-more"], summaries[topic_sweep.BASELINE.name]).values()) == 9


def _themed_call(seed=0, n_comp=30, per=8, dim=24):
    """Components on one of six themes each; words of a theme's sentences shared, so keywords exist."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, dim))
    vocab = [["alpha", "beta", "gamma"], ["delta", "epsilon", "zeta"], ["theta", "iota", "kappa"],
             ["lambda", "omicron", "sigma"], ["omega", "upsilon", "tau"], ["rho", "chi", "psi"]]  # fmt: skip
    texts, keys, vecs = [], [], []
    for c in range(n_comp):
        t = int(rng.integers(6))
        for i in range(per):
            text = " ".join(rng.choice(vocab[t], size=5)) + f" item{c}x{i} remark"
            texts.append(text)
            keys.append((c, text))
            vecs.append(centres[t] + 0.6 * rng.normal(size=dim))
    return Prepared(texts, keys, np.asarray(vecs, dtype=np.float32))


def test_measure_call_puts_every_figure_beside_its_null():
    call = _themed_call()
    shuffled = _themed_call(seed=1)
    reference = ReferenceCorpus([call.texts, shuffled.texts])
    cand = Candidate("ward-test", topic=(("sentences_per_topic", 20), ("stability_members", 3)))
    row = measure_call("firm-x", call, cand, reference, {"shuffled": lambda f, p: shuffled}, draws=2)
    for key in ("component_ari", "within_turn_ari", "npmi_ref", "diversity", "ami_components", "stability"):
        assert key in row and f"shuffled_{key}" in row, key
    assert row["seed_ari"] == 1.0  # Ward draws nothing at random
    assert 0.0 <= row["stability"] <= 1.0 and -1.0 <= row["npmi_ref"] <= 1.0
    main = fit(call, cand, full=True)
    assert set(main.keywords) == set(np.unique(main.labels[main.labels >= 0]).tolist())
    assert content_figures(main, call, reference)["topics"] == row["topics"]


def test_quality_targets_judge_the_default_against_the_previous_default():
    new = _summary(within_turn_ari=0.7, null_gap_component=0.2, null_gap_within_turn=0.2, npmi_ref=-0.39,
                   fit_s_per_call=0.3)  # fmt: skip
    old = _summary(npmi_ref=-0.40, fit_s_per_call=0.25)
    out = {"quality": {"ward": new, quality.BASELINE_NAME: old}, "quality_method": "ward"}
    assert all(quality.quality_targets(out).values())
    out["quality"]["ward"] = {**new, "npmi_ref": -0.42, "fit_s_per_call": 0.4}
    met = quality.quality_targets(out)
    assert not met["npmi_ref_ge_previous_default_minus_0.01"] and not met["fit_le_1.5x_previous_default"]
    assert quality.quality_targets({"quality": {"ward": new}, "quality_method": "ward"})["fit_le_1.5x_previous_default"] is None

"""peer_similarity.py: the exposure transforms a peer search may use, the rule that picks one, the recorded
choice matching the code, and the firm-clustered interval of a paired difference."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks.peer_similarity import CHOSEN, RECORD, WEIGHTINGS, choose, paired_difference, peer_vectors


def _exposure() -> pd.DataFrame:
    return pd.DataFrame({"firm_id": ["a", "a", "b"], "theme_id": ["T1", "T2", "T1"],
                         "share": [0.64, 0.16, 0.25], "intensity": [0.5, 0.1, 0.2]})


def test_sqrt_takes_square_roots_content_drops_generic_and_absent_firms_are_zero():
    firms = ["a", "b", "c"]
    assert np.allclose(peer_vectors(_exposure(), firms, set(), "sqrt"), [[0.8, 0.4], [0.5, 0.0], [0.0, 0.0]])
    assert np.allclose(peer_vectors(_exposure(), firms, {"T1"}, "content"), [[0.16], [0.0], [0.0]])
    assert np.allclose(peer_vectors(_exposure(), firms, set(), "intensity"), [[0.5, 0.1], [0.2, 0.0], [0.0, 0.0]])
    # T1 is held by 2 of 3 firms, T2 by 1: the rarer theme weighs more
    idf = peer_vectors(_exposure(), firms, set(), "idf_binary")
    assert np.allclose(idf[0], [np.log(3 / 2), np.log(3)])


def test_an_unknown_weighting_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="sqrt"):
        peer_vectors(_exposure(), ["a"], set(), "tf")


def test_choose_takes_the_best_mean_rank_and_breaks_ties_by_order():
    rows = {"share": {"demo": 0.33, "real": 0.42}, "sqrt": {"demo": 0.38, "real": 0.425},
            "content": {"demo": 0.31, "real": 0.43}}
    assert choose(rows) == "sqrt"
    rows["share"] = dict(rows["sqrt"])  # a tie: the earlier in WEIGHTINGS
    assert choose(rows) == "share"


def test_the_recorded_choice_is_the_one_the_benchmarks_use():
    record = json.loads(RECORD.read_text())
    assert record["chosen"] == CHOSEN and set(record["rows"]) == set(WEIGHTINGS) | {"tfidf"}
    assert choose({k: v for k, v in record["rows"].items() if k != "tfidf"}) == CHOSEN


def test_paired_difference_is_the_mean_gap_with_an_interval_from_whole_clusters():
    a = np.array([1.0, 1.0, 0.5, 0.5, 0.0, 0.0])
    b = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    mean, lo, hi = paired_difference(a, b, ["x", "x", "y", "y", "z", "z"])
    assert mean == pytest.approx(0.0) and lo < 0 < hi
    # the same gap in every cluster: no uncertainty left
    assert paired_difference(a + 0.25, a, ["x", "x", "y", "y", "z", "z"]) == pytest.approx((0.25, 0.25, 0.25))
    # one firm's many queries count once: 2 firms of 10 queries are less evidence than 20 firms of one
    gap = np.repeat([0.5, -0.5], 10)
    wide = paired_difference(gap, np.zeros(20), ["x"] * 10 + ["y"] * 10)
    narrow = paired_difference(gap, np.zeros(20), [str(i) for i in range(20)])
    assert wide[2] - wide[1] > 1.5 * (narrow[2] - narrow[1])

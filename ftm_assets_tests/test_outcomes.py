"""Measures of firm outcomes that the worker and the quarter summary share: the failure rate and firm stability."""

from ftm_assets.outcomes import failure_rate, firm_stability


def test_failure_rate_is_over_the_attempted_firms():
    assert failure_rate(failed=1, modelled=3) == 0.25  # skipped and not-yet-run firms are in neither argument
    assert failure_rate(failed=0, modelled=0) == 0.0
    assert failure_rate(failed=2, modelled=0) == 1.0


def test_firm_stability_weights_topics_by_sentences_and_leaves_out_outliers():
    rows = [
        {"firm_id": "a", "topic_id": -1, "n_sentences": 50, "stability": 0.0},
        {"firm_id": "a", "topic_id": 0, "n_sentences": 30, "stability": 0.9},
        {"firm_id": "a", "topic_id": 1, "n_sentences": 10, "stability": 0.5},
        {"firm_id": "b", "topic_id": -1, "n_sentences": 20, "stability": 0.0},  # only outliers: no figure
        {"firm_id": "c", "topic_id": 0, "n_sentences": 20, "stability": None},  # written before the column
    ]
    assert firm_stability(rows) == {"a": 0.8}

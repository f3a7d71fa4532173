"""theme_linkage.py's rule: the best demo truth among the cuts that keep the small-corpus bars and whose real-call
retest gap is near the best."""

from benchmarks.theme_linkage import GAP_TOLERANCE, choose


def _row(truth: float, gap: float, bars: bool = True) -> dict:
    return {"truth_corr": truth, "real_gap": gap, "bars_kept": bars}


def test_the_best_truth_wins_among_cuts_close_to_the_best_gap():
    rows = {0.3: _row(0.84, 0.60), 0.4: _row(0.81, 0.60 - GAP_TOLERANCE / 2), 0.65: _row(0.72, 0.48)}
    assert choose(rows) == 0.3


def test_a_cut_far_below_the_best_gap_is_not_eligible_however_true():
    rows = {0.3: _row(0.95, 0.40), 0.5: _row(0.80, 0.55), 0.65: _row(0.70, 0.549)}
    assert choose(rows) == 0.5


def test_ties_in_truth_go_to_the_larger_cut():
    rows = {0.3: _row(0.8, 0.5), 0.6: _row(0.8, 0.5)}
    assert choose(rows) == 0.6


def test_a_cut_that_breaks_the_small_corpus_bars_is_never_chosen():
    rows = {0.3: _row(0.9, 0.7, bars=False), 0.35: _row(0.83, 0.5), 0.5: _row(0.72, 0.505)}
    assert choose(rows) == 0.35

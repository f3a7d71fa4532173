"""The threshold sweep on planted themes: every threshold measured, the pairwise rank correlations, a choice
made on the choosing set, and the shuffled-vector null below the real retest figure."""

from benchmarks.theme_threshold import THRESHOLDS, sweep
from ftm_assets_tests.themes.synthetic import in_memory_quarter, planted_quarter


def test_sweep_reports_each_threshold_and_beats_its_null():
    result = sweep([in_memory_quarter("2023Q1", planted_quarter(n_firms=16)),
                    in_memory_quarter("2023Q2", planted_quarter(n_firms=16, seed=2))])
    assert list(result["by_threshold"]) == list(THRESHOLDS) and result["chosen"] in THRESHOLDS
    assert len(result["spearman_between"]) == 6 and result["choosing"] + result["reporting"] == 16
    for row in result["by_threshold"].values():
        assert row["retest_reporting"] > row["retest_null_reporting"] + 0.3
        assert 0 < row["coverage_median"] <= 1


def _row(retest: float, **validity: float) -> dict:
    return {"retest_choosing": retest, **validity}


def test_validity_decides_among_equally_reliable_thresholds():
    from benchmarks.theme_threshold import RETEST_TOLERANCE, choose_threshold

    near = 0.93 - RETEST_TOLERANCE / 2
    rows = {0.45: _row(near, demo_truth_choosing=0.87, industry_p4_choosing=0.42, covid_summed_choosing=0.69),
            0.5: _row(near, demo_truth_choosing=0.86, industry_p4_choosing=0.38, covid_summed_choosing=0.70),
            0.6: _row(0.93, demo_truth_choosing=0.83, industry_p4_choosing=0.34, covid_summed_choosing=0.61)}
    assert choose_threshold(rows) == 0.45
    rows[0.45]["retest_choosing"] = 0.93 - 2 * RETEST_TOLERANCE  # no longer as reliable: out, however valid
    assert choose_threshold(rows) == 0.5


def test_without_validity_figures_the_best_retest_is_chosen():
    from benchmarks.theme_threshold import choose_threshold

    assert choose_threshold({0.45: _row(0.92), 0.55: _row(0.935), 0.6: _row(0.935)}) == 0.55  # tie: nearer 0.5

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

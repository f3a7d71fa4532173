"""The README's research example on the demo: the planted theme-tone effect on CAR[0,+1] is recovered by the
fixed-effects regression (sign, size, significance) and shows in the tercile sort; the same on a null."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from ftm_assets.export.research_panel import research_panel
from ftm_assets.research.example import firm_quarter_frame, main, regress, report, tercile_sort
from ftm_assets.returns.car import CarSettings, compute_call_returns
from ftm_assets.returns.demo import PLANTED_BETA, demo_returns
from ftm_assets.transcripts import demo as D
from ftm_assets_tests.returns.test_demo import demo_calls

QUARTERS = ["2024Q2", "2024Q3", "2024Q4"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """A research panel from the demo's true theme mix and planted tone (with LM-like measurement noise),
    joined to the CARs that call_returns computes from the demo's synthetic returns."""
    calls = demo_calls(QUARTERS)
    cars = compute_call_returns(calls, demo_returns(calls, dt.date(2023, 3, 1), dt.date(2025, 4, 30)))
    cars.insert(0, "quarter", calls.dropna(subset=["permno"])["quarter"].to_numpy())  # one row per linked call, in order
    rng = np.random.default_rng(0)
    rows = [{"firm_id": f.firm_id, "quarter": q, "theme_id": name, "permno": f.permno, "share": share,
             "tone": float(np.clip(D.theme_tone(f, q, name) + rng.normal(0, 0.3), -1, 1))}
            for q in QUARTERS for f in D.demo_firms(40) for name, share in D.theme_mix(f, q).items()]
    return research_panel(pd.DataFrame(rows), cars)


def test_panel_rows_are_the_exposure_rows_with_a_car(panel):
    assert len(panel) == sum(len(D.theme_mix(f, q)) for q in QUARTERS for f in D.demo_firms(40) if f.permno)


def test_regression_recovers_the_planted_effect(panel):
    est = regress(firm_quarter_frame(panel))
    assert est.effects == "firm FE + quarter FE"
    assert est.t_stat > 3 and abs(est.coefficient - PLANTED_BETA) < 0.5 * PLANTED_BETA
    sort = tercile_sort(firm_quarter_frame(panel))
    assert sort.loc["high - low", "mean"] > 0


def test_null_tone_recovers_nothing(panel):
    shuffled = panel.assign(tone=np.random.default_rng(1).permutation(panel["tone"].to_numpy()))
    assert abs(regress(firm_quarter_frame(shuffled)).t_stat) < 2.5


def test_cli_prints_the_regression_and_the_sort(panel, tmp_path, capsys):
    path = tmp_path / "research_panel.parquet"
    panel.to_parquet(path)
    assert main(["--panel", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tone x exposure" in out and "high - low" in out
    assert "t = " in report(panel[panel["quarter"] == "2024Q4"])  # one quarter: constant instead of FE


def test_export_writes_each_format_and_a_dictionary(panel, tmp_path):
    from ftm_assets.export.panel import write_panel
    from ftm_assets.export.research_panel import write_dictionary

    for suffix in (".parquet", ".csv", ".dta"):
        out = write_panel(panel, tmp_path / f"research_panel{suffix}")
        assert out.stat().st_size > 0
    text = write_dictionary(panel, tmp_path / "research_panel.parquet").read_text()
    assert "| car_0_1 | float64 | Market-adjusted CAR" in text and f"{len(panel):,} rows" in text
    recorded = panel.copy()
    recorded.attrs["car_settings"] = json.loads(CarSettings(min_estimation_obs=150).record("demo-synthetic"))
    text = write_dictionary(recorded, tmp_path / "research_panel.parquet").read_text()
    assert "CARs over [+0,+1], [-1,+1], [+2,+60]; market model estimated over [-250,-11] with at least 150 " \
           "returns; returns source: demo-synthetic." in text


def test_theme_flags_join_and_generic_themes_are_left_out(panel):
    exposure = panel[["firm_id", "quarter", "theme_id", "share", "tone"]]
    cars = panel.drop_duplicates(["firm_id", "quarter"])[["firm_id", "quarter", "call_id", "car_0_1"]]
    cars = cars.assign(earnings_call_date=pd.Timestamp("2024-11-01"))  # one call per firm-quarter here
    themes = exposure[["quarter", "theme_id"]].drop_duplicates().assign(generic=lambda t: t["theme_id"] == "guidance")
    joined = research_panel(exposure, cars, themes)
    assert len(joined) == len(exposure) and joined["generic"].any()
    with_generic = firm_quarter_frame(joined.assign(generic=False))
    without = firm_quarter_frame(joined)
    assert (with_generic["tone_exposure"] != without["tone_exposure"]).any()

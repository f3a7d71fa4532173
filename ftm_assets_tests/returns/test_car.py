"""Event days, CARs and market-model fits of ftm_assets.returns against a hand computation on CRSP-shaped rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ftm_assets.returns.car import CarSettings, compute_call_returns, missing_summary
from ftm_assets.returns.crsp import CrspData, CrspShapeError
from ftm_assets.returns.events import call_day
from ftm_assets_tests.support import crsp as T

CAR_COLUMNS = [f"car_{s}" for s in ("0_1", "m1_1", "2_60")] + [f"car_mm_{s}" for s in ("0_1", "m1_1", "2_60")]


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    data = CrspData.from_frames(T.stock_returns(), T.index_returns(), T.delisting())
    return compute_call_returns(T.calls_frame(), data).set_index("permno")


def test_event_days_follow_the_close_and_the_calendar(result):
    for _, _, _, permno, _, day in T.CALLS:
        assert result.loc[permno, "event_date"] == day
    assert result.loc[10002, "after_close"] and result.loc[10003, "after_close"]
    assert not result.loc[10004, "after_close"]  # 15:30 in New York in November (EST), not 16:30


@pytest.mark.parametrize("permno", [c[3] for c in T.CALLS])
def test_cars_and_market_model_match_the_hand_computation(result, permno):
    day = next(c[5] for c in T.CALLS if c[3] == permno)
    expected = T.hand_cars(permno, day)
    row = result.loc[permno]
    assert row["est_obs"] == expected["est_obs"]
    np.testing.assert_allclose([row["alpha"], row["beta"]], [expected["alpha"], expected["beta"]], rtol=1e-9)
    np.testing.assert_allclose(row[CAR_COLUMNS].astype(float).to_numpy(), [expected[c] for c in CAR_COLUMNS],
                               rtol=1e-9, atol=1e-12)


def test_delisting_return_is_included(result):
    row = result.loc[T.DELISTED_PERMNO]
    assert row["delisting_date"] == T.DELISTING_DATE and row["delisting_return"] == T.DELISTING_RETURN
    assert row["car_0_1"] < -0.2  # the -30% delisting return is day +1's return
    assert row["days_after_delisting"] == 59 and row["n_missing_2_60"] == 0


def test_missing_returns_are_counted_never_filled(result):
    row = result.loc[T.MISSING_PERMNO]
    assert np.isnan(row["car_2_60"]) and row["n_missing_2_60"] == 1
    assert not np.isnan(row["car_0_1"]) and row["n_missing_0_1"] == 0
    summary = missing_summary(result.reset_index())
    assert summary["missing_days_2_60"] == 1 and summary["calls_with_car_2_60"] == len(T.CALLS) - 1


def test_short_estimation_window_leaves_market_model_null():
    data = CrspData.from_frames(T.stock_returns(), T.index_returns(), T.delisting())
    out = compute_call_returns(T.calls_frame(), data, CarSettings(min_estimation_obs=251))
    assert out["beta"].isna().all() and out["car_mm_0_1"].isna().all() and out["car_0_1"].notna().all()


def test_unknown_start_time_uses_the_call_date():
    assert call_day(dt.date(2023, 11, 22), None) == (dt.date(2023, 11, 22), False)
    assert call_day(None, pd.Timestamp("2023-07-03 20:00")) == (dt.date(2023, 7, 3), True)  # 16:00 EDT


def test_a_table_without_its_columns_names_them():
    with pytest.raises(CrspShapeError, match="vwretd"):
        CrspData.from_frames(T.stock_returns(), T.index_returns().rename(columns={"vwretd": "vw"}))

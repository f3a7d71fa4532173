"""The demo's synthetic returns: NYSE calendar, demo permnos only, and the planted tone effect on event day 0."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ftm_assets.returns.calendar import is_trading_day, nyse_holidays
from ftm_assets.returns.demo import PLANTED_BETA, demo_returns
from ftm_assets.transcripts import demo as D


def demo_calls(quarters: list[str], n_firms: int = 40) -> pd.DataFrame:
    """The demo calls as raw_transcripts has them, without generating any text."""
    return pd.DataFrame([{"quarter": q, "firm_id": f.firm_id, "call_id": i, "gvkey": f.gvkey, "permno": f.permno,
                          "earnings_call_date": D.call_date(f, q)}
                         for q in quarters for i, f in enumerate(D.demo_firms(n_firms))])


def test_nyse_holidays_of_2024():
    listed = {dt.date(2024, m, d) for m, d in [(1, 1), (1, 15), (2, 19), (3, 29), (5, 27), (6, 19), (7, 4), (9, 2),
                                               (11, 28), (12, 25)]}
    assert nyse_holidays(2024) == listed
    assert not is_trading_day(dt.date(2022, 12, 26)) and is_trading_day(dt.date(2021, 12, 31))  # observed rules


def test_demo_returns_plant_the_tone_effect():
    calls = demo_calls(["2024Q4"])
    data = demo_returns(calls, dt.date(2023, 9, 1), dt.date(2025, 3, 31))
    assert set(data.stock["permno"]) == set(calls["permno"].dropna().astype(int))
    assert all(is_trading_day(d.date()) for d in data.index["date"])
    # Day-0 return minus beta x index, regressed on the planted regressor, recovers the planted slope.
    linked = calls.dropna(subset=["permno"])
    x, y = [], []
    for call in linked.to_dict("records"):
        firm = D.demo_firms(40)[int(call["permno"]) - 900_000]
        day = data.index["date"][data.index["date"] >= pd.Timestamp(call["earnings_call_date"])].iloc[0]  # holiday: next
        r = data.stock[(data.stock["permno"] == call["permno"]) & (data.stock["date"] == day)]["ret"].item()
        m = data.index[data.index["date"] == day]["vwretd"].item()
        x.append(D.tone_exposure(firm, "2024Q4"))
        y.append(r - m)
    slope = np.polyfit(x, y, 1)[0]
    assert abs(slope - PLANTED_BETA) < 0.5 * PLANTED_BETA

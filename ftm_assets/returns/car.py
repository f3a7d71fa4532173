"""Cumulative abnormal returns (CARs) around each earnings call, market-adjusted and market-model.

For a call with event day 0 (``events``), over the trading days of the index file:

- market-adjusted abnormal return ``AR_t = r_t - vwretd_t``; ``CAR[a,b] = sum of AR_t for t in [a, b]``;
- market model: ``r_t = alpha + beta * vwretd_t + e_t`` fitted by OLS over the estimation window
  ([-250, -11] by default) on the days with a stock return; ``AR_t = r_t - alpha - beta * vwretd_t``. With
  fewer than ``min_estimation_obs`` returns in the window the market-model CARs are null (``est_obs`` says why).

Delisting: CRSP's delisting return (``dlret``) is compounded into the return of its date
(``(1 + ret)(1 + dlret) - 1``, or ``dlret`` alone where that day has no ``ret``). After the delisting date the
proceeds are taken as invested in the index (AR 0), counted in ``days_after_delisting``, never as missing.

Missing returns are never filled: a window with any day lacking a stock or index return (or lying outside the
data) has a null CAR, and its ``n_missing_*`` column counts those days.
"""

from __future__ import annotations

import json

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftm_assets.returns.crsp import CrspData
from ftm_assets.returns.events import call_day, event_position, new_york_start


@dataclass(frozen=True)
class Window:
    """A window of trading days relative to the event day, inclusive, and its column suffix."""

    start: int
    end: int

    @property
    def suffix(self) -> str:
        def part(k: int) -> str:
            return f"m{-k}" if k < 0 else str(k)

        return f"{part(self.start)}_{part(self.end)}"


@dataclass(frozen=True)
class CarSettings:
    """The windows and the market model's estimation window; ``min_estimation_obs`` a setting, not a constant."""

    windows: tuple[Window, ...] = (Window(0, 1), Window(-1, 1), Window(2, 60))
    estimation: Window = Window(-250, -11)
    min_estimation_obs: int = 120

    def record(self, source: str) -> str:
        """What the CARs depend on besides the returns themselves, as written into each quarter's file: the
        windows, the estimation window and its minimum observations, and the returns source's label."""
        return json.dumps({"windows": [[w.start, w.end] for w in self.windows],
                           "estimation": [self.estimation.start, self.estimation.end],
                           "min_estimation_obs": self.min_estimation_obs, "source": source}, sort_keys=True)

    @property
    def span(self) -> tuple[int, int]:
        """The furthest trading days before and after the event day that any window reads."""
        starts = [w.start for w in self.windows] + [self.estimation.start]
        ends = [w.end for w in self.windows] + [self.estimation.end]
        return min(starts), max(ends)


SETTINGS_KEY = b"ftm.car_settings"  # each call_returns file's Parquet metadata: CarSettings.record(source)
RAW_INPUTS_KEY = b"ftm.raw_transcripts"  # and the fingerprint of the raw transcripts its calls were read from

CALL_COLUMNS = ("firm_id", "call_id", "gvkey", "permno", "earnings_call_date")


def result_columns(settings: CarSettings = CarSettings()) -> list[str]:
    """The output's columns, in order (the README's table documents each)."""
    cars = [f"car_{w.suffix}" for w in settings.windows] + [f"car_mm_{w.suffix}" for w in settings.windows]
    missing = [f"n_missing_{w.suffix}" for w in settings.windows]
    return ["firm_id", "call_id", "gvkey", "permno", "earnings_call_date", "call_start_ny", "after_close",
            "event_date", *cars, "est_obs", "alpha", "beta", *missing, "delisting_date", "delisting_return",
            "days_after_delisting"]


@dataclass
class _Series:
    """One permno's returns on the calendar: ``ret`` (NaN = missing) and where it stops being listed."""

    ret: np.ndarray
    delist_pos: int | None
    delist_date: pd.Timestamp | None
    dlret: float


def _stock_series(crsp: CrspData, permno: int, calendar: np.ndarray, stock_by_permno: dict) -> _Series:
    ret = np.full(len(calendar), np.nan)
    rows = stock_by_permno.get(permno)
    if rows is not None:
        pos = np.searchsorted(calendar, rows["date"].to_numpy().astype("datetime64[D]"))
        ok = (pos < len(calendar)) & (calendar[np.minimum(pos, len(calendar) - 1)] == rows["date"].to_numpy().astype("datetime64[D]"))
        ret[pos[ok]] = rows["ret"].to_numpy()[ok]
    delist = crsp.delist[crsp.delist["permno"] == permno]
    if delist.empty:
        return _Series(ret, None, None, np.nan)
    row = delist.sort_values("dlstdt").iloc[-1]
    pos = int(np.searchsorted(calendar, np.datetime64(row["dlstdt"].date(), "D")))  # a non-trading day: the next
    dlret = float(row["dlret"])
    if pos < len(calendar) and np.isfinite(dlret):
        ret[pos] = dlret if np.isnan(ret[pos]) else (1 + ret[pos]) * (1 + dlret) - 1
    ret[pos + 1:] = np.nan  # nothing trades after delisting; those days are handled as index returns
    return _Series(ret, pos, row["dlstdt"], dlret)


def _window(series: _Series, market: np.ndarray, t0: int, w: Window,
            model: tuple[float, float] | None) -> tuple[float, int, int]:
    """(CAR, missing days, days after delisting) of one window; CAR is NaN when any day is missing."""
    n = len(market)
    total, missing, after = 0.0, 0, 0
    for t in range(t0 + w.start, t0 + w.end + 1):
        if t < 0 or t >= n or np.isnan(market[t]):
            missing += 1
            continue
        if series.delist_pos is not None and t > series.delist_pos:
            after += 1  # proceeds in the index: AR 0
            continue
        r = series.ret[t]
        if np.isnan(r):
            missing += 1
            continue
        expected = market[t] if model is None else model[0] + model[1] * market[t]
        total += r - expected
    return (np.nan if missing else total), missing, after


def _market_model(series: _Series, market: np.ndarray, t0: int, est: Window) -> tuple[int, float, float]:
    """(observations, alpha, beta) by OLS over the estimation window's days with both returns."""
    lo, hi = max(0, t0 + est.start), min(len(market), t0 + est.end + 1)
    if hi <= lo:
        return 0, np.nan, np.nan
    y, x = series.ret[lo:hi], market[lo:hi]
    ok = np.isfinite(y) & np.isfinite(x)
    if series.delist_pos is not None:
        ok &= np.arange(lo, hi) <= series.delist_pos
    obs = int(ok.sum())
    if obs < 2 or np.var(x[ok]) == 0:
        return obs, np.nan, np.nan
    beta = float(np.cov(x[ok], y[ok], ddof=0)[0, 1] / np.var(x[ok]))
    return obs, float(y[ok].mean() - beta * x[ok].mean()), beta


def compute_call_returns(calls: pd.DataFrame, crsp: CrspData, settings: CarSettings = CarSettings()) -> pd.DataFrame:
    """One row per call with a permno: event day, CARs, the market model's fit and the missing-day counts.

    ``calls`` has ``CALL_COLUMNS`` and optionally ``call_start_utc`` (a UTC timestamp; null = unknown).
    """
    columns = result_columns(settings)
    calls = calls[calls["permno"].notna()]
    calendar = crsp.calendar
    market = crsp.index["vwretd"].to_numpy()
    stock_by_permno = {int(p): g for p, g in crsp.stock.groupby("permno")}
    series_cache: dict[int, _Series] = {}
    rows = []
    for call in calls.to_dict("records"):
        permno = int(call["permno"])
        start = call.get("call_start_utc")
        day, after_close = call_day(call["earnings_call_date"], start)
        t0 = event_position(calendar, day, after_close)
        series = series_cache.get(permno)
        if series is None:
            series = series_cache[permno] = _stock_series(crsp, permno, calendar, stock_by_permno)
        obs, alpha, beta = _market_model(series, market, t0, settings.estimation)
        model = (alpha, beta) if obs >= settings.min_estimation_obs and np.isfinite(beta) else None
        row = {
            "firm_id": call["firm_id"], "call_id": call.get("call_id"), "gvkey": call.get("gvkey"), "permno": permno,
            "earnings_call_date": call["earnings_call_date"],
            "call_start_ny": None if start is None or pd.isna(start) else new_york_start(start).strftime("%Y-%m-%d %H:%M"),
            "after_close": after_close,
            "event_date": pd.Timestamp(calendar[t0]).date() if t0 < len(calendar) else None,
            "est_obs": obs, "alpha": alpha if model else np.nan, "beta": beta if model else np.nan,
            "delisting_date": series.delist_date.date() if series.delist_date is not None else None,
            "delisting_return": series.dlret,
        }
        after_total = 0
        for w in settings.windows:
            car, missing, after = _window(series, market, t0, w, None)
            row[f"car_{w.suffix}"] = car
            row[f"n_missing_{w.suffix}"] = missing
            row[f"car_mm_{w.suffix}"] = _window(series, market, t0, w, model)[0] if model else np.nan
            after_total = max(after_total, after)
        row["days_after_delisting"] = after_total
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({"permno": "int64", "est_obs": "int64", "after_close": "bool",
                       **{f"n_missing_{w.suffix}": "int64" for w in settings.windows},
                       "days_after_delisting": "int64"})


def missing_summary(frame: pd.DataFrame, settings: CarSettings = CarSettings()) -> dict[str, int]:
    """What the asset reports: calls, calls with each CAR, and missing return-days per window."""
    out = {"calls": len(frame)}
    for w in settings.windows:
        out[f"calls_with_car_{w.suffix}"] = int(frame[f"car_{w.suffix}"].notna().sum())
        out[f"missing_days_{w.suffix}"] = int(frame[f"n_missing_{w.suffix}"].sum())
    out["calls_with_market_model"] = int(frame["beta"].notna().sum())
    out["delisted_calls"] = int(frame["delisting_date"].notna().sum())
    return out

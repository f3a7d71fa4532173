"""The event day of an earnings call: the trading day on which the market can first react to it.

Rule: take the call's start in New York time (the transcript's UTC time converted with ``zoneinfo``'s
``America/New_York``, so daylight saving is right). A call that starts at or after the 16:00 close moves to the
next trading day; any other call's event day is its own date if that is a trading day, else the next trading
day (a weekend or holiday call). When a source gives no start time (the demo, files without one) the call date
is taken as is, i.e. as a call before the close.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
MARKET_CLOSE = dt.time(16, 0)


def new_york_start(start_utc: pd.Timestamp | dt.datetime) -> dt.datetime:
    """A UTC start time (naive read as UTC) in New York time."""
    ts = pd.Timestamp(start_utc)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime().astimezone(NEW_YORK)


def call_day(call_date: dt.date | None, start_utc: pd.Timestamp | dt.datetime | None) -> tuple[dt.date, bool]:
    """The call's New York date and whether it started after the close (False when the time is unknown)."""
    if start_utc is None or pd.isna(start_utc):
        if call_date is None or pd.isna(call_date):
            raise ValueError("A call needs a date or a start time to find its event day.")
        return pd.Timestamp(call_date).date(), False
    local = new_york_start(start_utc)
    return local.date(), local.time() >= MARKET_CLOSE


def event_position(calendar: np.ndarray, day: dt.date, after_close: bool) -> int:
    """The event day's position in ``calendar`` (ascending datetime64[D]); ``len(calendar)`` when the data end
    before it. After the close: the first trading day after ``day``; else the first on or after it."""
    return int(np.searchsorted(calendar, np.datetime64(day, "D"), side="right" if after_close else "left"))

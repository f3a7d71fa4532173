"""Synthetic CRSP-shaped returns for the demo firms, with the planted theme-tone effect (issue 28).

Clearly synthetic, like the demo transcripts: the index is iid normal (mean 4 bp, sd 1% a day), each demo
permno's return is ``beta_i * index + e`` (beta_i in [0.6, 1.4], e sd 1.5%), on NYSE trading days
(``calendar``). On each call's event day the stock gets an extra ``PLANTED_BETA * tone_exposure`` where
``tone_exposure`` is the call's sum over themes of (true share x planted tone) from the transcript generator,
so CAR[0,+1] = PLANTED_BETA * tone_exposure + noise, and the README's regression should find it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd

from ftm_assets.returns.calendar import trading_days
from ftm_assets.returns.crsp import CrspData
from ftm_assets.transcripts import demo as D

PLANTED_BETA = 0.10
INDEX_MEAN, INDEX_SD, IDIO_SD = 0.0004, 0.01, 0.015
DEMO_PERMNO_BASE = 900_000  # demo permnos are 900000 + the firm's position (transcripts.demo)


def _generator(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def demo_returns(calls: pd.DataFrame, start: dt.date, end: dt.date, seed: int = 0) -> CrspData:
    """dsf/dsi-shaped frames for the demo permnos of ``calls`` (with ``permno``, ``quarter``,
    ``earnings_call_date``) from ``start`` to ``end``; deterministic in its inputs."""
    days = trading_days(start, end)
    dates = pd.to_datetime(pd.Series(days))
    market = np.array([_generator("index", seed, d.isoformat()).normal(INDEX_MEAN, INDEX_SD) for d in days])
    linked = calls[calls["permno"].notna()]
    permnos = sorted({int(p) for p in linked["permno"]})
    positions = [p - DEMO_PERMNO_BASE for p in permnos if 0 <= p - DEMO_PERMNO_BASE < D.MAX_FIRMS]
    firms = D.demo_firms(max(positions) + 1) if positions else []  # other permnos: returns, nothing planted
    calendar = np.array(days, dtype="datetime64[D]")
    frames = []
    for permno in permnos:
        firm = firms[permno - DEMO_PERMNO_BASE] if 0 <= permno - DEMO_PERMNO_BASE < len(firms) else None
        rng = _generator("stock", seed, permno, start.isoformat())
        beta = rng.uniform(0.6, 1.4)
        ret = beta * market + rng.normal(0.0, IDIO_SD, len(days))
        for call in linked[linked["permno"] == permno].to_dict("records"):
            t0 = int(np.searchsorted(calendar, np.datetime64(pd.Timestamp(call["earnings_call_date"]).date(), "D")))
            if t0 < len(days) and firm is not None:
                ret[t0] += PLANTED_BETA * D.tone_exposure(firm, call["quarter"], seed)
        frames.append(pd.DataFrame({"permno": permno, "date": dates, "ret": ret}))
    stock = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["permno", "date", "ret"])
    return CrspData.from_frames(stock, pd.DataFrame({"date": dates, "vwretd": market}))

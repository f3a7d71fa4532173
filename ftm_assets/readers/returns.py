"""Read ``call_returns`` as a pandas DataFrame: one row per (firm, call) with a permno, per quarter.

>>> from ftm_assets.readers.returns import read_call_returns
>>> cars = read_call_returns("data", "2024Q4")
"""

from __future__ import annotations

import io
import json
import warnings

import pandas as pd
import pyarrow.parquet as pq

from ftm_assets.quarters import expand_quarters
from ftm_assets.returns.car import RAW_INPUTS_KEY, SETTINGS_KEY
from ftm_assets.storage import Storage, layout, open_storage
from ftm_assets.storage.raw_inputs import raw_transcripts_fingerprint


class MixedReturnSettings(ValueError):
    """The requested quarters' call_returns were computed under different CAR settings or returns sources."""


class StaleCallReturns(ValueError):
    """A quarter's call_returns were computed from raw transcripts that have changed since."""


class ReturnsNotMaterialized(LookupError):
    """A requested quarter has no call_returns (not materialized, or skipped for want of a returns source)."""


def recorded_settings(data: bytes) -> str | None:
    """The CAR settings a call_returns file was computed under (``CarSettings.record``), None if it predates them."""
    return (pq.read_schema(io.BytesIO(data)).metadata or {}).get(SETTINGS_KEY, b"").decode() or None


def recorded_inputs(data: bytes) -> str | None:
    """The raw transcripts' fingerprint a call_returns file was computed from, None if it predates the record."""
    return (pq.read_schema(io.BytesIO(data)).metadata or {}).get(RAW_INPUTS_KEY, b"").decode() or None


def read_call_returns(root: str | Storage, quarters: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """``call_returns`` of ``quarters``; ``strict=False`` skips quarters without it (with a warning).

    Every quarter's file records the settings its CARs were computed under (``CarSettings.record``); quarters
    computed under different ones raise ``MixedReturnSettings`` naming them (strict or not: a mixed panel is
    never what a regression wants). The settings are in ``DataFrame.attrs["car_settings"]``. It also records
    the fingerprint of the raw transcripts its calls came from; a quarter whose raw transcripts were rewritten
    with other content since (re-prefetched) raises ``StaleCallReturns``: its calls may no longer be the
    quarter's."""
    store = open_storage(root)
    keys = {q: layout.call_returns(q) for q in expand_quarters(quarters)}
    missing = [q for q, key in keys.items() if not store.exists(key)]
    if missing:
        message = (f"No call_returns for {', '.join(missing)}: materialize call_returns for them (it needs a "
                   "returns source: demo, WRDS, or FTM_RETURNS_FILE with the files source).")
        if strict:
            raise ReturnsNotMaterialized(message)
        warnings.warn(message, stacklevel=2)
    frames, recorded, stale = [], {}, []
    for quarter, key in keys.items():
        if quarter in missing:
            continue
        data = store.read_bytes(key)
        recorded[quarter] = recorded_settings(data)
        inputs = recorded_inputs(data)
        if inputs is not None and inputs != raw_transcripts_fingerprint(store, quarter):
            stale.append(quarter)
        frames.append(pq.read_table(io.BytesIO(data)).to_pandas())
    if stale:
        raise StaleCallReturns(
            f"call_returns of {', '.join(stale)} were computed from raw transcripts that have changed since "
            "(raw_transcripts re-materialized with other content): re-materialize call_returns for "
            f"{', '.join(stale)}.")
    settings = set(recorded.values())
    if len(settings) > 1:
        groups = {s: [q for q, r in recorded.items() if r == s] for s in settings}
        named = "; ".join(f"{', '.join(qs)}: {s or 'not recorded (written before settings were)'}"
                          for s, qs in sorted(groups.items(), key=lambda item: item[1][0]))
        raise MixedReturnSettings(
            f"call_returns of these quarters were computed under different settings ({named}). One panel "
            "needs one definition of a CAR: re-materialize call_returns for the quarters whose settings are "
            "not the ones you want (FTM_CAR_MIN_ESTIMATION_OBS, the returns source).")
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if settings:
        out.attrs["car_settings"] = json.loads(next(iter(settings)) or "null")
    return out

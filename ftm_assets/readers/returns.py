"""Read ``call_returns`` as a pandas DataFrame: one row per (firm, call) with a permno, per quarter.

>>> from ftm_assets.readers.returns import read_call_returns
>>> cars = read_call_returns("data", "2024Q4")
"""

from __future__ import annotations

import io
import warnings

import pandas as pd

from ftm_assets.quarters import expand_quarters
from ftm_assets.storage import Storage, layout, open_storage


class ReturnsNotMaterialized(LookupError):
    """A requested quarter has no call_returns (not materialized, or skipped for want of a returns source)."""


def read_call_returns(root: str | Storage, quarters: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """``call_returns`` of ``quarters``; ``strict=False`` skips quarters without it (with a warning)."""
    store = open_storage(root)
    keys = {q: layout.call_returns(q) for q in expand_quarters(quarters)}
    missing = [q for q, key in keys.items() if not store.exists(key)]
    if missing:
        message = (f"No call_returns for {', '.join(missing)}: materialize call_returns for them (it needs a "
                   "returns source: demo, WRDS, or FTM_RETURNS_FILE with the files source).")
        if strict:
            raise ReturnsNotMaterialized(message)
        warnings.warn(message, stacklevel=2)
    frames = [pd.read_parquet(io.BytesIO(store.read_bytes(key))) for q, key in keys.items() if q not in missing]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

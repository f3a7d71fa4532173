"""Returns from a user's own files, for the ``files`` transcript source: CSV or Parquet, CRSP's column names.

``FTM_RETURNS_FILE``: ``permno, date, ret`` (daily stock returns, as crsp.dsf); ``FTM_INDEX_RETURNS_FILE``:
``date, vwretd`` (the value-weighted index, as crsp.dsi; its dates are the trading calendar); optional
``FTM_DELISTING_FILE``: ``permno, dlstdt, dlret`` (as crsp.dsedelist). The same rules apply as on WRDS.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ftm_assets.returns.crsp import CrspData


def _read(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Returns file {path} does not exist.")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".gz"):
        return pd.read_csv(path)
    raise ValueError(f"Returns file {path}: use .csv or .parquet.")


def read_returns_files(stock: str | Path, index: str | Path, delisting: str | Path | None = None) -> CrspData:
    """The user's files as ``CrspData``; names which file lacks which column when one does."""
    return CrspData.from_frames(_read(stock), _read(index), _read(delisting) if delisting else None)

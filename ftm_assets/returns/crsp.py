"""The CRSP-shaped tables the returns computation reads, checked once where they enter.

Shapes follow WRDS's CRSP daily files: ``crsp.dsf`` (``permno, date, ret``), ``crsp.dsedelist``
(``permno, dlstdt, dlret``) and ``crsp.dsi`` (``date, vwretd``). CRSP codes a missing return as null (and in
some exports as -66 to -99); any ``ret`` below -1 (a loss of more than everything) is read as missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING_CODE_BELOW = -1.0  # ret < -1 cannot be a return: CRSP's -66..-99 missing-value codes


class CrspShapeError(ValueError):
    """A returns table lacks a column the computation needs; the message names the table and the columns."""


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CrspShapeError(
            f"The {name} table lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns)) or 'none'}."
        )


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


@dataclass(frozen=True)
class CrspData:
    """Daily stock returns, delisting returns and the value-weighted index, normalised.

    ``index``'s dates are the trading calendar: event days and windows count its rows.
    """

    stock: pd.DataFrame  # permno (int64), date (datetime64), ret (float64, NaN = missing)
    index: pd.DataFrame  # date, vwretd
    delist: pd.DataFrame  # permno, dlstdt, dlret (NaN = CRSP has no delisting return)

    @classmethod
    def from_frames(cls, stock: pd.DataFrame, index: pd.DataFrame, delist: pd.DataFrame | None = None) -> "CrspData":
        _require(stock, "daily stock (dsf)", ("permno", "date", "ret"))
        _require(index, "daily index (dsi)", ("date", "vwretd"))
        stock = pd.DataFrame({
            "permno": pd.to_numeric(stock["permno"]).astype("int64"),
            "date": _dates(stock["date"]),
            "ret": pd.to_numeric(stock["ret"], errors="coerce").astype("float64"),
        })
        stock.loc[stock["ret"] < MISSING_CODE_BELOW, "ret"] = np.nan
        index = pd.DataFrame({
            "date": _dates(index["date"]),
            "vwretd": pd.to_numeric(index["vwretd"], errors="coerce").astype("float64"),
        }).drop_duplicates("date").sort_values("date", ignore_index=True)
        if delist is None:
            delist = pd.DataFrame({"permno": pd.Series(dtype="int64"), "dlstdt": pd.Series(dtype="datetime64[ns]"),
                                   "dlret": pd.Series(dtype="float64")})
        else:
            _require(delist, "delisting (dsedelist)", ("permno", "dlstdt", "dlret"))
            delist = pd.DataFrame({
                "permno": pd.to_numeric(delist["permno"]).astype("int64"),
                "dlstdt": _dates(delist["dlstdt"]),
                "dlret": pd.to_numeric(delist["dlret"], errors="coerce").astype("float64"),
            })
            delist.loc[delist["dlret"] < MISSING_CODE_BELOW, "dlret"] = np.nan
        return cls(stock.sort_values(["permno", "date"], ignore_index=True), index, delist)

    @property
    def calendar(self) -> np.ndarray:
        """The trading days (datetime64[D]), ascending: the index file's dates."""
        return self.index["date"].to_numpy().astype("datetime64[D]")

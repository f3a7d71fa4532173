"""The firm x quarter x theme panel as one file: Parquet (pandas, R arrow), CSV, or Stata .dta.

Stata needs names of at most 32 characters, no list columns and no nullable integer types: the .dta
writer renames long columns (unique, reported), writes dates as Stata dates and missing shares as ``.``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ftm_assets.storage import Storage

STATA_NAME_MAX = 32
FORMATS = {".parquet": "parquet", ".csv": "csv", ".dta": "dta"}


def stata_names(columns: list[str]) -> dict[str, str]:
    """Each column's Stata name: letters, digits and _, at most 32 characters, unique."""
    out, used = {}, set()
    for col in columns:
        base = re.sub(r"[^A-Za-z0-9_]", "_", col)
        base = base if re.match(r"[A-Za-z_]", base) else f"_{base}"
        name, i = base[:STATA_NAME_MAX], 1
        while name in used:
            suffix = f"_{i}"
            name, i = base[: STATA_NAME_MAX - len(suffix)] + suffix, i + 1
        used.add(name)
        out[col] = name
    return out


def write_panel(panel: pd.DataFrame, out: Path) -> Path:
    """Write ``panel`` to ``out`` in the format its suffix names; returns ``out``."""
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"Unknown output format {out.suffix!r} for {out}: use one of {', '.join(FORMATS)}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        panel.to_parquet(out, index=False)
    elif kind == "csv":
        panel.to_csv(out, index=False)
    else:
        frame = panel.rename(columns=stata_names(list(panel.columns))).copy()
        for col in frame.columns:
            if str(frame[col].dtype) in ("Int64", "Int32", "int32") or col == "permno":
                frame[col] = frame[col].astype("float64")  # Stata's missing value for null permnos
            elif col == "earnings_call_date":
                frame[col] = pd.to_datetime(frame[col])
            elif frame[col].dtype == object:
                frame[col] = frame[col].fillna("").astype(str)
        frame.to_stata(out, write_index=False, version=118, convert_dates={"earnings_call_date": "td"}
                       if "earnings_call_date" in frame else None)
    return out


def export_panel(root: str | Storage, quarters: str, out: Path, *, strict: bool = True) -> pd.DataFrame:
    """Read the panel of ``quarters`` from ``root`` and write it to ``out``; returns the panel."""
    from ftm_assets.readers import read_theme_exposure

    panel = read_theme_exposure(root, quarters, strict=strict)
    write_panel(panel, out)
    return panel

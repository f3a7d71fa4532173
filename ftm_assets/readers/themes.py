"""Read themes and the firm x quarter x theme panel as pandas DataFrames.

>>> from ftm_assets.readers import read_themes, read_theme_exposure
>>> themes = read_themes("data", "2024Q4")                       # one row per theme of the quarter
>>> panel = read_theme_exposure("data", "2023Q1:2024Q4")         # one row per (firm_id, quarter, theme_id)
"""

from __future__ import annotations

import io
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.quarters import expand_quarters
from ftm_assets.schema import THEME_EXPOSURE_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, layout, open_storage


class ThemesNotMaterialized(LookupError):
    """A requested quarter has no themes: quarter_themes / theme_exposure were not materialized for it."""


def read_table(store: Storage, quarter: str, name: str, schema: pa.Schema) -> pd.DataFrame:
    """One stored table of a quarter's themes (``themes.parquet``, ``members.parquet``, ``exposure.parquet``);
    empty, with ``schema``'s columns, when the quarter has none."""
    key = layout.themes_table(quarter, name)
    if not store.exists(key):
        return schema.empty_table().to_pandas()
    return pq.read_table(io.BytesIO(store.read_bytes(key))).to_pandas()


def _read(store: Storage, quarters: list[str], name: str, schema: pa.Schema, strict: bool) -> pd.DataFrame:
    missing = [q for q in quarters if not store.exists(layout.themes_table(q, "outcome.json"))]
    if missing:
        message = (f"No themes for {', '.join(missing)} under {store.uri(layout.THEMES_PREFIX)}: materialize "
                   "quarter_themes and theme_exposure for them.")
        if strict:
            raise ThemesNotMaterialized(message)
        warnings.warn(message, stacklevel=3)
    frames = [read_table(store, q, name, schema) for q in quarters if q not in missing]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else schema.empty_table().to_pandas()


def read_themes(root: str | Storage, quarter: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """Themes of a quarter (or quarters): id, label, keywords, representative sentences, counts, first quarter."""
    return _read(open_storage(root), expand_quarters(quarter), "themes.parquet", THEMES_SCHEMA, strict)


def read_theme_exposure(root: str | Storage, quarters: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """The panel for ``quarters`` (``"2024Q4"``, ``"2023Q1:2024Q4"`` or a list); ``strict=False`` skips
    quarters without themes (with a warning) instead of raising."""
    return _read(open_storage(root), expand_quarters(quarters), "exposure.parquet", THEME_EXPOSURE_SCHEMA, strict)

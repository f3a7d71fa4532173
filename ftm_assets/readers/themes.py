"""Read themes and the firm x quarter x theme panel as pandas DataFrames.

>>> from ftm_assets.readers import read_themes, read_theme_exposure
>>> themes = read_themes("data", "2024Q4")                       # one row per theme of the quarter
>>> panel = read_theme_exposure("data", "2023Q1:2024Q4")         # one row per (firm_id, quarter, theme_id)
"""

from __future__ import annotations

import warnings

import pandas as pd

from ftm_assets.quarters import Quarter, expand_quarters
from ftm_assets.schema import THEME_EXPOSURE_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, layout, open_storage
from ftm_assets.themes.outcome import chain_status, load_outcome, read_table


class ThemesNotMaterialized(LookupError):
    """A requested quarter has no themes: quarter_themes / theme_exposure were not materialized for it."""


class ThemesStale(ThemesNotMaterialized):
    """A requested quarter's stored themes are not current: its topics or an earlier quarter's changed since."""


def _read(store: Storage, quarters: list[str], name: str, schema, strict: bool) -> pd.DataFrame:
    """The quarters whose themes are stored and current (the chain up to each recomputed from the commits)."""
    outcomes = {q: load_outcome(store, q) for q in quarters}
    missing = [q for q in quarters if outcomes[q] is None]
    status = chain_status(store, max(quarters, key=Quarter.parse)) if len(missing) < len(quarters) else {}
    stale = {q: status.get(q) or "not part of the stored chain" for q in quarters
             if outcomes[q] is not None and status.get(q, "") is not None}
    if missing:
        message = (f"No themes for {', '.join(missing)} under {store.uri(layout.THEMES_PREFIX)}: materialize "
                   "quarter_themes and theme_exposure for them.")
        if strict:
            raise ThemesNotMaterialized(message)
        warnings.warn(message, stacklevel=3)
    if stale:
        message = ("Stale themes, not read: " + "; ".join(f"{q}: {why}" for q, why in stale.items())
                   + ". Materialize quarter_themes for them again.")
        if strict:
            raise ThemesStale(message)
        warnings.warn(message, stacklevel=3)
    frames = [read_table(store, q, name, schema, outcomes[q]) for q in quarters if q not in missing and q not in stale]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else schema.empty_table().to_pandas()


def read_themes(root: str | Storage, quarter: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """Themes of a quarter (or quarters): id, label, keywords, representative sentences, counts, first quarter."""
    return _read(open_storage(root), expand_quarters(quarter), "themes.parquet", THEMES_SCHEMA, strict)


def read_theme_exposure(root: str | Storage, quarters: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """The panel for ``quarters`` (``"2024Q4"``, ``"2023Q1:2024Q4"`` or a list); ``strict=False`` skips
    quarters without themes (with a warning) instead of raising."""
    return _read(open_storage(root), expand_quarters(quarters), "exposure.parquet", THEME_EXPOSURE_SCHEMA, strict)

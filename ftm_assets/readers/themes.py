"""Read themes and the firm x quarter x theme panel as pandas DataFrames.

>>> from ftm_assets.readers import read_themes, read_theme_exposure
>>> themes = read_themes("data", "2024Q4")                       # one row per theme of the quarter
>>> panel = read_theme_exposure("data", "2023Q1:2024Q4")         # one row per (firm_id, quarter, theme_id)
>>> full = read_theme_exposure("data", "2024Q4", dense=True)     # + a zero row for every firm x theme
>>> content = panel[~panel.theme_id.isin(themes.loc[themes.generic, "theme_id"])]  # generic themes dropped
>>> assigned = read_sentence_themes("data", "2024Q4")            # one row per sentence on a theme
"""

from __future__ import annotations

import warnings

import pandas as pd

from ftm_assets.quarters import Quarter, expand_quarters
from ftm_assets.schema import SENTENCE_THEMES_SCHEMA, THEME_EXPOSURE_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, layout, open_storage
from ftm_assets.themes.outcome import chain_status, load_outcome, read_table

IDENTITY = ["firm_name", "gvkey", "permno", "earnings_call_date"]
ZERO = ["n_sentences", "share", "intensity", "share_management", "share_analyst", "share_presentation", "share_qa"]


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


def read_theme_exposure(root: str | Storage, quarters: str | list[str], *, strict: bool = True,
                        dense: bool = False) -> pd.DataFrame:
    """The panel for ``quarters`` (``"2024Q4"``, ``"2023Q1:2024Q4"`` or a list); ``strict=False`` skips
    quarters without themes (with a warning) instead of raising.

    Stored sparse: a (firm, quarter, theme) without a sentence on the theme has no row, and means zero.
    ``dense=True`` adds those rows for every modelled firm of the quarter and every theme of the quarter:
    ``n_sentences``, ``share``, ``intensity`` and the ``share_*`` columns 0 (``share_*`` stay null where the
    firm has no sentence of that kind), ``tone``, ``uncertainty`` and ``tone_model`` null (no sentence to score).
    """
    store = open_storage(root)
    panel = _read(store, expand_quarters(quarters), "exposure.parquet", THEME_EXPOSURE_SCHEMA, strict)
    if not dense or panel.empty:
        return panel
    return _densify(store, panel)


def read_sentence_themes(root: str | Storage, quarters: str | list[str], *, strict: bool = True) -> pd.DataFrame:
    """Which sentence went to which theme: (quarter, firm_id, sentence_id, theme_id, similarity), one row per
    non-procedural sentence whose embedding reached the threshold to its nearest theme anchor."""
    return _read(open_storage(root), expand_quarters(quarters), "sentence_themes.parquet", SENTENCE_THEMES_SCHEMA,
                 strict)


def _densify(store: Storage, panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` plus a zero row per (modelled firm, theme) of each of its quarters that has none."""
    from ftm_assets.readers.topics import read_firm_topics_table

    frames = []
    for quarter, rows in panel.groupby("quarter", sort=False):
        outcome = load_outcome(store, quarter)
        firms = list(outcome.firms) if outcome is not None and outcome.firms else sorted(rows["firm_id"].unique())
        themes = read_table(store, quarter, "themes.parquet", THEMES_SCHEMA, outcome)["theme_id"].tolist()
        grid = pd.MultiIndex.from_product([firms, sorted(themes)], names=["firm_id", "theme_id"]).to_frame(index=False)
        full = grid.merge(rows, on=["firm_id", "theme_id"], how="left")
        full["quarter"] = quarter
        ident = read_firm_topics_table(store, quarter).to_pandas()
        ident = ident.drop_duplicates("firm_id").set_index("firm_id")[IDENTITY]
        for col in IDENTITY:
            full[col] = full[col].where(full[col].notna(), full["firm_id"].map(ident[col]))
        zero = full["share"].isna()
        for col in ZERO:
            full.loc[zero, col] = 0
        # a share within a kind of sentence the firm never spoke stays null, as in its non-zero rows
        for col in ("share_management", "share_analyst", "share_presentation", "share_qa"):
            null_for_firm = rows.groupby("firm_id")[col].apply(lambda v: v.isna().all())
            full.loc[zero & full["firm_id"].map(null_for_firm).fillna(False).astype(bool), col] = float("nan")
        full["n_sentences"] = full["n_sentences"].astype("int32")
        frames.append(full[THEME_EXPOSURE_SCHEMA.names])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["quarter", "firm_id", "theme_id"], kind="stable").reset_index(drop=True)

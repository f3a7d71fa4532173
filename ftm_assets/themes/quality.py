"""Figures that say whether a quarter's themes are usable (issue 15's bar), from themes and the panel alone.

Used by the checks, the benchmark and the tests, so all three judge the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def coverage(exposure: pd.DataFrame, firms: list[str] | None = None) -> pd.Series:
    """Each firm's summed share (0 for a modelled firm with no theme, when ``firms`` lists them)."""
    summed = exposure.groupby("firm_id")["share"].sum()
    return summed.reindex(firms, fill_value=0.0) if firms is not None else summed


def largest_theme_share(themes: pd.DataFrame) -> float:
    """The largest theme's share of the quarter's themed sentences."""
    total = themes["n_sentences"].sum() if len(themes) else 0
    return float(themes["n_sentences"].max() / total) if total else 0.0


def exposure_cosines(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """Per firm in both panels: cosine between its share vectors over theme ids (0 when one side is empty)."""
    firms = sorted(set(a["firm_id"]) & set(b["firm_id"]))
    va = a.pivot_table(index="firm_id", columns="theme_id", values="share", aggfunc="sum", fill_value=0.0)
    vb = b.pivot_table(index="firm_id", columns="theme_id", values="share", aggfunc="sum", fill_value=0.0)
    cols = sorted(set(va.columns) | set(vb.columns))
    va = va.reindex(index=firms, columns=cols, fill_value=0.0).to_numpy()
    vb = vb.reindex(index=firms, columns=cols, fill_value=0.0).to_numpy()
    num = (va * vb).sum(axis=1)
    den = np.linalg.norm(va, axis=1) * np.linalg.norm(vb, axis=1)
    return pd.Series(np.where(den > 0, num / np.where(den > 0, den, 1), 0.0), index=firms)


def summary(themes: pd.DataFrame, exposure: pd.DataFrame, firms: list[str]) -> dict:
    return {
        "themes": int(len(themes)),
        "min_firms_per_theme": int(themes["n_firms"].min()) if len(themes) else 0,
        "largest_theme_share": round(largest_theme_share(themes), 4),
        "coverage_median": round(float(coverage(exposure, firms).median()), 4) if firms else 0.0,
        "firms_with_theme_share": round(float((coverage(exposure, firms) > 0).mean()), 4) if firms else 0.0,
        "max_summed_share": round(float(coverage(exposure).max()), 6) if len(exposure) else 0.0,
    }

"""Firms' peers from the theme panel: which firms of a quarter talk about the same things.

Two firms are compared by the cosine of their square-root theme shares (for shares that sum to one, the
Bhattacharyya coefficient of the two exposure mixtures). Square roots weigh a firm's smaller themes up against
the large ones that every firm shares. Among nine transforms, this one found industry peers best on demo firms
and calls that no reported figure uses (``benchmarks/peer_similarity.py``). The README's validity table
compares it with TF-IDF of the full call.

Peers are searched within a quarter: a firm is compared with the other firms of the same quarter. A firm with
no sentence on any theme has no direction, so it gets no peers and is nobody's peer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def sqrt_shares(share: pd.DataFrame) -> pd.DataFrame:
    """Square roots of a firm x theme grid of ``share`` (0 where the firm has no sentence on the theme)."""
    return np.sqrt(share.clip(lower=0.0))


def peer_vectors(exposure: pd.DataFrame) -> pd.DataFrame:
    """One row per (quarter, firm_id), one column per theme id: square-root shares. ``exposure``: the panel's
    rows (``read_theme_exposure``), sparse or ``dense=True`` alike."""
    missing = {"quarter", "firm_id", "theme_id", "share"} - set(exposure.columns)
    if missing:
        raise ValueError(f"exposure rows need columns {sorted(missing)}; read them with read_theme_exposure")
    grid = exposure.pivot_table(index=["quarter", "firm_id"], columns="theme_id", values="share", aggfunc="sum",
                                fill_value=0.0)
    return sqrt_shares(grid)


def peer_similarity(exposure: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """Firm x firm cosine of square-root shares in ``quarter`` (firms without any theme left out)."""
    vectors = peer_vectors(exposure[exposure["quarter"] == quarter])
    if vectors.empty:
        raise ValueError(f"no exposure rows for {quarter}")
    x = vectors.droplevel("quarter")
    norms = np.linalg.norm(x.to_numpy(), axis=1)
    unit = x[norms > 0].div(norms[norms > 0], axis=0)
    return unit @ unit.T


def nearest_peers(exposure: pd.DataFrame, k: int = 4) -> pd.DataFrame:
    """Each firm's ``k`` most similar firms per quarter (fewer when the quarter has fewer), as rows
    (quarter, firm_id, rank 1..k, peer_firm_id, similarity); ties broken by the peer's id."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    rows = []
    for quarter in sorted(exposure["quarter"].unique()):
        sims = peer_similarity(exposure, quarter)
        long = sims.rename_axis(index="firm_id", columns="peer_firm_id").stack().rename("similarity").reset_index()
        long = long[long["firm_id"] != long["peer_firm_id"]]
        long = long.sort_values(["firm_id", "similarity", "peer_firm_id"], ascending=[True, False, True])
        top = long.groupby("firm_id", sort=False).head(k).copy()
        top["rank"] = top.groupby("firm_id", sort=False).cumcount() + 1
        top["quarter"] = quarter
        rows.append(top)
    columns = ["quarter", "firm_id", "rank", "peer_firm_id", "similarity"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rank" else float if c == "similarity" else object)
                             for c in columns})
    return pd.concat(rows, ignore_index=True)[columns]

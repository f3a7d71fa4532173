"""Each firm's nearest peers per quarter from the theme panel (``ftm_assets.research.peers``), with both firms'
gvkey and permno so the pairs merge onto CRSP and Compustat like Hoberg-Phillips peer files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ftm_assets.export.panel import write_panel
from ftm_assets.storage import Storage

IDENTIFIERS = ["gvkey", "permno"]


def peer_table(exposure: pd.DataFrame, k: int) -> pd.DataFrame:
    """``nearest_peers`` of ``exposure`` with the identifiers of the firm and of its peer (null where unlinked)."""
    from ftm_assets.research.peers import nearest_peers

    peers = nearest_peers(exposure, k=k)
    ids = exposure.drop_duplicates(["quarter", "firm_id"]).set_index(["quarter", "firm_id"])[IDENTIFIERS]
    for who, column in (("", "firm_id"), ("peer_", "peer_firm_id")):
        found = ids.reindex(pd.MultiIndex.from_arrays([peers["quarter"], peers[column]]))
        for name in IDENTIFIERS:
            peers[f"{who}{name}"] = found[name].to_numpy()
    order = ["quarter", "firm_id", "gvkey", "permno", "rank", "peer_firm_id", "peer_gvkey", "peer_permno", "similarity"]
    out = peers[order]
    return out.astype({"permno": "Int64", "peer_permno": "Int64"})


def export_peers(root: str | Storage, quarters: str, out: Path, k: int = 4, *, strict: bool = True) -> pd.DataFrame:
    """Read the panel of ``quarters`` from ``root``, find each firm's ``k`` peers and write them to ``out``."""
    from ftm_assets.readers import read_theme_exposure

    table = peer_table(read_theme_exposure(root, quarters, strict=strict), k)
    write_panel(table, out)
    return table

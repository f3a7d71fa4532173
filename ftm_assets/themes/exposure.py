"""The panel: one row per (firm, quarter, theme), the share of the firm's modelled sentences on the theme.

``share`` = the firm's sentences in topics of the theme / all its modelled sentences, outliers included, so a
firm's shares sum to at most 1 (the rest is firm-specific topics and outliers), as in the firm-level exposure
measures of Hassan et al. (2019) and Sautner et al. (2023). ``share_presentation`` / ``share_qa`` use the same
ratio within the call's presentation or Q&A, where the components' types are known (Capital IQ's
``component_type``); they are null for a firm whose components have no type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EXPOSURE_COLUMNS = ["firm_id", "quarter", "theme_id", "firm_name", "gvkey", "permno", "earnings_call_date",
                    "n_sentences", "share", "share_presentation", "share_qa"]


def section_of(component_type: object) -> str | None:
    """``presentation``, ``qa`` or None (unknown) for a Capital IQ component type."""
    if not isinstance(component_type, str) or not component_type.strip():
        return None
    kind = component_type.lower()
    if "question" in kind or "answer" in kind:
        return "qa"
    if "present" in kind:
        return "presentation"
    return None


def theme_exposure(topics: pd.DataFrame, members: pd.DataFrame, sentences: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """The quarter's panel rows, sorted by (firm_id, theme_id).

    ``topics``: every firm_topics row of the quarter (outliers included); ``members``: (firm_id, topic_id,
    theme_id); ``sentences``: (firm_id, sentence_id, section) with section presentation | qa | None.
    """
    if members.empty:
        return pd.DataFrame(columns=EXPOSURE_COLUMNS)
    firms = topics.groupby("firm_id").agg(total=("n_sentences", "sum"), firm_name=("firm_name", "first"),
                                          gvkey=("gvkey", "first"), permno=("permno", "first"),
                                          earnings_call_date=("earnings_call_date", "first"))
    joined = members.merge(topics[["firm_id", "topic_id", "n_sentences", "sentence_ids"]], on=["firm_id", "topic_id"])
    per = joined.groupby(["firm_id", "theme_id"], sort=True).agg(n_sentences=("n_sentences", "sum")).reset_index()

    section = sentences.set_index(["firm_id", "sentence_id"])["section"]
    totals = sentences.groupby(["firm_id", "section"]).size().unstack(fill_value=0)
    exploded = joined[["firm_id", "theme_id", "sentence_ids"]].explode("sentence_ids").dropna()
    exploded["section"] = section.reindex(
        pd.MultiIndex.from_arrays([exploded["firm_id"], exploded["sentence_ids"].astype(int)])).to_numpy()
    by_section = exploded.groupby(["firm_id", "theme_id", "section"]).size().unstack(fill_value=0)

    out = per.merge(firms, left_on="firm_id", right_index=True)
    out["quarter"] = quarter
    out["share"] = out["n_sentences"] / out["total"]
    for name in ("presentation", "qa"):
        num = by_section[name] if name in by_section else pd.Series(dtype=float)
        den = totals[name] if name in totals else pd.Series(dtype=float)
        n = num.reindex(pd.MultiIndex.from_frame(out[["firm_id", "theme_id"]])).fillna(0).to_numpy()
        d = den.reindex(out["firm_id"]).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"share_{name}"] = np.where(d > 0, n / d, np.nan)
    known = sentences.dropna(subset=["section"]).groupby("firm_id").size()
    unknown_firm = ~out["firm_id"].isin(known.index)
    out.loc[unknown_firm, ["share_presentation", "share_qa"]] = np.nan
    out["n_sentences"] = out["n_sentences"].astype("int32")
    return out[EXPOSURE_COLUMNS].sort_values(["firm_id", "theme_id"]).reset_index(drop=True)

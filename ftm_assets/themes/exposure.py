"""The panel: one row per (firm, quarter, theme) with exposure, measured per sentence, and tone on the theme.

From the sentence assignments (``assign``): ``share`` = the firm's sentences on the theme / all its
non-procedural sentences (so a firm's shares sum to at most 1, the rest being talk no theme takes, as in the
firm-level measures of Hassan et al. 2019 and Sautner et al. 2023); ``intensity`` = the same with each
sentence weighted by its cosine to the anchor. ``share_presentation`` / ``share_qa`` use the ratio within the
call's presentation or Q&A (Capital IQ's ``component_type``), ``share_management`` / ``share_analyst`` within
what executives or analysts said (``speaker_type``); each is null for a firm without any sentence of that kind.
Tone over the firm's sentences on the theme, from the worker's per-sentence Loughran-McDonald counts:
``tone`` = (positive - negative) / (positive + negative), null when neither occurs; ``uncertainty`` =
uncertainty words / words; ``tone_model`` = the mean classifier score; all null where the sentences table
predates these columns. Only (firm, theme) pairs with a sentence on the theme are rows: a missing row is a
zero (``readers.read_theme_exposure(dense=True)`` gives them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftm_assets.themes.assign import non_procedural

EXPOSURE_COLUMNS = ["firm_id", "quarter", "theme_id", "firm_name", "gvkey", "permno", "earnings_call_date",
                    "n_sentences", "share", "intensity", "share_management", "share_analyst", "share_presentation",
                    "share_qa", "tone", "uncertainty", "tone_model"]
TONE_COUNTS = ("lm_positive", "lm_negative", "lm_uncertainty", "n_words")


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


def role_of(speaker_type: object) -> str | None:
    """``management``, ``analyst`` or None (operator, other, unknown) for a Capital IQ speaker type."""
    if not isinstance(speaker_type, str):
        return None
    kind = speaker_type.lower()
    if "analyst" in kind:
        return "analyst"
    if "executive" in kind or "management" in kind or "corporate" in kind:
        return "management"
    return None


def _firm_identity(topics: pd.DataFrame) -> pd.DataFrame:
    return topics.groupby("firm_id").agg(firm_name=("firm_name", "first"), gvkey=("gvkey", "first"),
                                         permno=("permno", "first"),
                                         earnings_call_date=("earnings_call_date", "first"))


def _ratio(num: pd.Series, den: pd.Series) -> np.ndarray:
    n, d = num.to_numpy(dtype=float), den.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, n / d, np.nan)


def theme_exposure(topics: pd.DataFrame, assignments: pd.DataFrame, sentences: pd.DataFrame,
                   quarter: str) -> pd.DataFrame:
    """The quarter's panel rows, sorted by (firm_id, theme_id).

    ``topics``: the quarter's firm_topics (firm identifiers); ``assignments``: (firm_id, sentence_id, theme_id,
    similarity) from ``assign_sentences``; ``sentences``: the sentences table with ``section`` (see
    ``chain.with_sections``), ``speaker_type`` and, where the worker wrote them, ``procedural`` and the tone
    columns.
    """
    if assignments.empty:
        return pd.DataFrame(columns=EXPOSURE_COLUMNS)
    s = sentences[non_procedural(sentences)].copy()
    s["role"] = [role_of(t) for t in s["speaker_type"]] if "speaker_type" in s else None
    for col in (*TONE_COUNTS, "tone_model"):
        if col not in s:
            s[col] = np.nan
    totals = s.groupby("firm_id").agg(total=("sentence_id", "size"))
    kinds = {"presentation": ("section", "presentation"), "qa": ("section", "qa"),
             "management": ("role", "management"), "analyst": ("role", "analyst")}
    for name, (col, value) in kinds.items():
        totals[name] = (s[col] == value).groupby(s["firm_id"]).sum()

    joined = assignments.merge(s.drop(columns=["theme_id", "similarity"], errors="ignore"),
                               on=["firm_id", "sentence_id"], how="inner")
    for name, (col, value) in kinds.items():
        joined[f"is_{name}"] = joined[col] == value
    agg = {"n_sentences": ("sentence_id", "size"), "weight": ("similarity", "sum"),
           **{f"n_{name}": (f"is_{name}", "sum") for name in kinds},
           **{c: (c, lambda v: v.sum(min_count=1)) for c in TONE_COUNTS},
           "tone_model": ("tone_model", "mean")}
    out = joined.groupby(["firm_id", "theme_id"], sort=True).agg(**agg).reset_index()
    den = totals.reindex(out["firm_id"])
    out["share"] = out["n_sentences"] / den["total"].to_numpy()
    out["intensity"] = out["weight"].to_numpy(dtype=float) / den["total"].to_numpy()
    for name in kinds:
        out[f"share_{name}"] = _ratio(out[f"n_{name}"], den[name].reset_index(drop=True))
    pos, neg = out["lm_positive"].astype(float), out["lm_negative"].astype(float)
    out["tone"] = _ratio(pos - neg, pos + neg)  # text.tone.net_tone over the sums, vectorised
    out["uncertainty"] = _ratio(out["lm_uncertainty"].astype(float), out["n_words"].astype(float))
    out["tone_model"] = out["tone_model"].astype(float)
    out = out.merge(_firm_identity(topics), left_on="firm_id", right_index=True, how="left")
    out["quarter"] = quarter
    out["n_sentences"] = out["n_sentences"].astype("int32")
    return out[EXPOSURE_COLUMNS].sort_values(["firm_id", "theme_id"]).reset_index(drop=True)


def theme_profile(assignments: pd.DataFrame, sentences: pd.DataFrame, firms: list[str]) -> pd.DataFrame:
    """Per theme: ``breadth`` (share of the quarter's modelled ``firms`` with a sentence on it) and
    ``analyst_share`` (share of its sentences spoken by analysts; null when no sentence has a speaker type)."""
    if assignments.empty:
        return pd.DataFrame(columns=["theme_id", "breadth", "analyst_share"])
    roles = sentences.set_index(["firm_id", "sentence_id"])["speaker_type"] if "speaker_type" in sentences \
        else pd.Series(dtype=object)
    role = [role_of(t) for t in roles.reindex(pd.MultiIndex.from_frame(assignments[["firm_id", "sentence_id"]]))]
    a = assignments.assign(analyst=[r == "analyst" for r in role], typed=[r is not None for r in role])
    out = a.groupby("theme_id", sort=True).agg(n_firms=("firm_id", "nunique"), analyst=("analyst", "sum"),
                                               typed=("typed", "sum"), n=("sentence_id", "size")).reset_index()
    out["breadth"] = out["n_firms"] / max(len(firms), 1)
    out["analyst_share"] = np.where(out["typed"] > 0, out["analyst"] / out["n"], np.nan)
    return out[["theme_id", "breadth", "analyst_share"]]

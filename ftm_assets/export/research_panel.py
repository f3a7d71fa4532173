"""The research panel: the theme-exposure panel per (firm, quarter, theme) joined to its call's CARs.

Join: on (firm_id, quarter), to the firm's call of that quarter whose date is the panel's
``earnings_call_date`` (the latest call; with two calls that day, the higher call_id). Rows without a
``call_returns`` row (no permno, no returns) are left out, so the row count equals the exposure rows with a
CAR. Every panel column present is passed through, so the export follows the panel's contract as it grows.
A data dictionary (markdown) is written next to the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ftm_assets.export.panel import write_panel
from ftm_assets.storage import Storage

JOIN_KEYS = ["firm_id", "quarter"]
THEME_COLUMNS = ["label", "breadth", "analyst_share", "generic"]  # from the themes table, where it has them
FROM_RETURNS_DROPPED = ["gvkey", "permno", "earnings_call_date", "firm_name"]  # the panel's own are kept

DICTIONARY: dict[str, str] = {
    "firm_id": "Capital IQ company id (text).",
    "quarter": "Calendar quarter of the call, e.g. 2024Q4.",
    "theme_id": "Stable theme id across quarters (themes registry).",
    "firm_name": "Company name as in the transcript source.",
    "gvkey": "Compustat gvkey (zero-padded text) on the call date.",
    "permno": "CRSP permno on the call date (CCM link).",
    "earnings_call_date": "Date of the firm's (latest) call in the quarter, UTC.",
    "n_sentences": "The firm's sentences on the theme.",
    "share": "Exposure: the firm's sentences on the theme / its modelled sentences.",
    "intensity": "Similarity-weighted share.",
    "share_management": "Share among management's sentences.",
    "share_analyst": "Share among analysts' sentences.",
    "share_presentation": "Share in the presentation.",
    "share_qa": "Share in the Q&A.",
    "tone": "Loughran-McDonald net tone (pos - neg) / (pos + neg) of the firm's sentences on the theme.",
    "uncertainty": "Share of LM uncertainty words in those sentences.",
    "tone_model": "What computed tone (LM word lists or a transformer).",
    "label": "The theme's label (its top keywords).",
    "breadth": "Share of the quarter's firms exposed to the theme.",
    "analyst_share": "Share of the theme's sentences spoken by analysts.",
    "generic": "True for a generic or question-form theme (README, Themes): exclude these in research.",
    "call_id": "Capital IQ keydevid of the call whose returns are joined.",
    "call_start_ny": "Call start in New York time, where the source gives it (else null).",
    "after_close": "True when the call started at or after the 16:00 close: event day is the next trading day.",
    "event_date": "Event day 0: the call's trading day, or the next one (after-close, weekend, holiday).",
    "car_0_1": "Market-adjusted CAR over trading days [0,+1]: sum of (ret - vwretd).",
    "car_m1_1": "Market-adjusted CAR over [-1,+1].",
    "car_2_60": "Market-adjusted CAR over [+2,+60] (post-call drift).",
    "car_mm_0_1": "Market-model CAR over [0,+1]: sum of (ret - alpha - beta * vwretd).",
    "car_mm_m1_1": "Market-model CAR over [-1,+1].",
    "car_mm_2_60": "Market-model CAR over [+2,+60].",
    "est_obs": "Days with a return in the estimation window [-250,-11].",
    "alpha": "Market-model intercept (null below the minimum estimation observations).",
    "beta": "Market-model slope on the CRSP value-weighted index.",
    "n_missing_0_1": "Days in [0,+1] without a stock or index return (CAR null when > 0).",
    "n_missing_m1_1": "Days in [-1,+1] without a return.",
    "n_missing_2_60": "Days in [+2,+60] without a return (or beyond the data).",
    "delisting_date": "CRSP delisting date (dlstdt) within the data, if any.",
    "delisting_return": "CRSP delisting return (dlret), compounded into that day's return.",
    "days_after_delisting": "Window days after delisting, taken as invested in the index (AR 0).",
}


def research_panel(exposure: pd.DataFrame, call_returns: pd.DataFrame, themes: pd.DataFrame | None = None) -> pd.DataFrame:
    """``exposure`` rows joined to their call's returns; rows without returns dropped (see the module doc).
    With ``themes``, each row also gets its theme's label and flags (``generic``: exclude these in research)."""
    if themes is not None and not themes.empty:
        kept = [c for c in THEME_COLUMNS if c in themes.columns and c not in exposure.columns]
        exposure = exposure.merge(themes[["quarter", "theme_id", *kept]], on=["quarter", "theme_id"], how="left",
                                  validate="many_to_one")
    if call_returns.empty:
        return exposure.iloc[0:0].copy()
    calls = call_returns.copy()
    calls["earnings_call_date"] = pd.to_datetime(calls["earnings_call_date"])
    calls = calls.sort_values(JOIN_KEYS + ["earnings_call_date", "call_id"]).drop_duplicates(JOIN_KEYS, keep="last")
    calls = calls.drop(columns=[c for c in FROM_RETURNS_DROPPED if c in calls.columns])
    out = exposure.merge(calls, on=JOIN_KEYS, how="inner", validate="many_to_one")
    out.attrs = {k: v for k, v in call_returns.attrs.items() if k == "car_settings"}
    return out


def write_dictionary(panel: pd.DataFrame, out: Path) -> Path:
    """``<out>.dictionary.md`` beside the export: every column, its type and what it means."""
    path = out.with_name(out.stem + ".dictionary.md")
    lines = [f"# Data dictionary: {out.name}", "", f"{len(panel):,} rows; one per (firm_id, quarter, theme_id) "
             "with the call's abnormal returns (README, Returns).", ""]
    if settings := panel.attrs.get("car_settings"):
        windows = ", ".join(f"[{a:+d},{b:+d}]" for a, b in settings["windows"])
        lines += [f"CARs over {windows}; market model estimated over [{settings['estimation'][0]:+d},"
                  f"{settings['estimation'][1]:+d}] with at least {settings['min_estimation_obs']} returns; "
                  f"returns source: {settings['source']}.", ""]
    lines += ["| column | type | meaning |", "|---|---|---|"]
    for col in panel.columns:
        lines.append(f"| {col} | {panel[col].dtype} | {DICTIONARY.get(col, 'Panel column: see the README output contract.')} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_research_panel(root: str | Storage, quarters: str, out: Path, *, strict: bool = True) -> pd.DataFrame:
    """Read the panel and call_returns of ``quarters``, join, write ``out`` and its dictionary."""
    from ftm_assets.readers import read_theme_exposure, read_themes
    from ftm_assets.readers.returns import read_call_returns

    panel = research_panel(read_theme_exposure(root, quarters, strict=strict),
                           read_call_returns(root, quarters, strict=strict), read_themes(root, quarters, strict=strict))
    write_panel(panel, out)
    write_dictionary(panel, out)
    return panel

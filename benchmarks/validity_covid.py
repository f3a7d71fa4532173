"""A known event on real calls: do the themes see covid where the calls talk about it? (issue 25, item 5)

113 of the 125 Earnings-22 calls mention covid, the pandemic or the coronavirus. Per call, the share of its
modelled sentences naming one of those terms; per call and theme, the panel's ``share``. The calls are split
by ``quality.choosing_set`` (parity of the CRC-32 of the call id). Among the themes whose keywords name one
of the terms (the issue's "by keyword" rule), the one whose exposure ranks the choosing half's calls most like
their covid share is chosen (nothing else is tuned); ``covid_spearman`` is Spearman's rho between covid share
and that theme's exposure on the reporting half (None when no theme's keywords name covid). The null,
``covid_spearman_null``: the same choose-then-report procedure with the calls' covid shares shuffled across
calls (mean of the draws), what the selection alone would give. ``covid_spearman_any_theme``: the choice made
among all themes instead, beside its own null (selection over dozens of themes on a few dozen calls).
``covid_spearman_summed``: exposure summed over every theme whose keywords name covid (nothing chosen), on the
reporting half, beside shuffled covid shares. Added when the finer linkage cut (0.35) split the calls' covid
talk over five themes, so that one chosen theme holds only part of it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from benchmarks.quality import choosing_set
from benchmarks.validity_fit import FittedQuarter
from ftm_assets.themes.chain import QuarterOutcome

COVID = re.compile(r"\b(?:covid(?:-19)?|pandemic|coronavirus)\b", re.IGNORECASE)


def covid_share(sentences: pd.DataFrame) -> pd.Series:
    """Per firm: the share of its modelled sentences that name covid, the pandemic or the coronavirus."""
    hits = sentences["text"].str.contains(COVID)
    return hits.groupby(sentences["firm_id"]).mean()


def _rho(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def choose_and_report(covid: pd.Series, exposure: pd.DataFrame, choose: np.ndarray,
                      candidates: list[str] | None = None) -> tuple[str, float, float]:
    """(theme, rho on the choosing half, rho on the reporting half): the theme chosen on ``choose`` rows only,
    among ``candidates`` (default: every theme)."""
    rhos = {t: _rho(covid[choose].to_numpy(), exposure.loc[choose, t].to_numpy()) for t in candidates or exposure.columns}
    best = max(rhos, key=lambda t: -np.inf if np.isnan(rhos[t]) else rhos[t])
    report = ~choose
    return best, rhos[best], _rho(covid[report].to_numpy(), exposure.loc[report, best].to_numpy())


def _grid(outcome: QuarterOutcome, firms: pd.Index) -> pd.DataFrame:
    """The dense firm x theme grid of ``share`` (zeros where a firm said nothing on a theme)."""
    return (outcome.exposure.pivot_table(index="firm_id", columns="theme_id", values="share", fill_value=0.0)
            .reindex(firms, fill_value=0.0))


def _keyword_themes(outcome: QuarterOutcome) -> list[str]:
    """The themes whose keywords name covid, the pandemic or the coronavirus (the issue's "by keyword" rule)."""
    themes = outcome.themes.themes.set_index("theme_id")
    return [t for t, kws in themes["keywords"].items() if any(COVID.search(k) for k in kws)]


def covid_figures(fitted: FittedQuarter, outcome: QuarterOutcome, null_draws: int = 50) -> dict:
    """Every ``covid_*`` figure of the module docstring; ``outcome``: the quarter replayed (``replay_quarter``)."""
    covid = covid_share(fitted.sentences)
    firms = covid.index
    exposure = _grid(outcome, firms)
    choose = np.array([choosing_set(f) for f in firms])
    theme, rho_choose, rho = choose_and_report(covid, exposure, choose)
    rng = np.random.default_rng(0)
    nulls = [choose_and_report(pd.Series(rng.permutation(covid.to_numpy()), index=firms), exposure, choose)[2]
             for _ in range(null_draws)]
    themes = outcome.themes.themes.set_index("theme_id")
    keyword_themes = _keyword_themes(outcome)
    keyword = {}
    if keyword_themes:  # the rule: a theme whose keywords name covid (the best of them on the choosing half)
        k_theme, k_choose, k_rho = choose_and_report(covid, exposure, choose, keyword_themes)
        k_nulls = [choose_and_report(pd.Series(rng.permutation(covid.to_numpy()), index=firms), exposure, choose,
                                     keyword_themes)[2] for _ in range(null_draws)]
        summed = exposure[keyword_themes].sum(axis=1)  # every covid theme at once: no choice, so no selection
        report = ~choose
        s_rho = _rho(covid[report].to_numpy(), summed[report].to_numpy())
        s_nulls = [_rho(rng.permutation(covid[report].to_numpy()), summed[report].to_numpy()) for _ in range(null_draws)]
        keyword = {"covid_spearman_summed": round(s_rho, 4), "covid_spearman_summed_null": round(float(np.nanmean(s_nulls)), 4),
                   "covid_spearman": round(k_rho, 4), "covid_spearman_null": round(float(np.nanmean(k_nulls)), 4),
                   "covid_spearman_null_p95": round(float(np.nanpercentile(k_nulls, 95)), 4),
                   "covid_spearman_choosing_half": round(k_choose, 4),
                   "covid_theme_label": str(themes.loc[k_theme, "label"]),
                   "covid_theme_firms": int(themes.loc[k_theme, "n_firms"])}
    return {
        "covid_spearman": None, "covid_spearman_null": None, **keyword,
        "covid_spearman_any_theme": round(rho, 4),
        "covid_spearman_any_theme_null": round(float(np.nanmean(nulls)), 4),
        "covid_spearman_any_theme_null_p95": round(float(np.nanpercentile(nulls, 95)), 4),
        "covid_any_theme_label": str(themes.loc[theme, "label"]),
        "covid_any_theme_firms": int(themes.loc[theme, "n_firms"]),
        "covid_keyword_themes": len(keyword_themes),
        "covid_calls": int(len(firms)), "covid_calls_mentioning": int((covid > 0).sum()),
        "covid_calls_reporting": int((~choose).sum()), "covid_themes": int(len(themes)),
    }


def covid_summed_rho(fitted: FittedQuarter, outcome: QuarterOutcome, choosing_half: bool = False) -> float:
    """``covid_spearman_summed`` alone, on either half of the calls (the choosing half: what a setting may be
    chosen on); NaN when no theme's keywords name covid."""
    covid = covid_share(fitted.sentences)
    exposure = _grid(outcome, covid.index)
    keyword_themes = _keyword_themes(outcome)
    if not keyword_themes:
        return float("nan")
    rows = np.array([choosing_set(f) == choosing_half for f in covid.index])
    return _rho(covid[rows].to_numpy(), exposure[keyword_themes].sum(axis=1)[rows].to_numpy())

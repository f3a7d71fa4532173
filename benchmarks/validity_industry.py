"""Industry recovery on real calls: does a call's theme exposure find calls of its own sector? (issue 25)

The demo check (``validity_demo.industry_figures``) knows each firm's industry from the generator. The 125
Earnings-22 calls carry no industry, so ``data/earnings22_sectors.csv`` supplies one GICS sector per ticker.
Those labels were HAND-ASSIGNED by the developers from each company's public identity (what the company is
known to do; GICS's eleven sector names, the 2023 structure, so payment processors are Financials); they are
not an official GICS download, and some are judgment calls that could be wrong (holding companies and
conglomerates such as Cresud, BrasilAgro, Transcorp, Sonae; internet firms between Information Technology and
Communication Services such as GMO Internet, TuanChe, Urbanimmersive). ``basis`` says how the company was
identified: ``ticker`` (known from the ticker), or, where the ticker alone was not enough, the company or its
executives as named in the call's opening turns (read only for the name, never for the call's topics). No
transcript text is in the file.

Figures (``e22_industry_*``), each precision@4 of same-sector neighbours (cosine) with the neighbours searched
among all calls and the precision averaged over the REPORTING half (``quality.choosing_set`` false: calls
never used to choose any setting):

- ``p4``: the panel's exposure vectors (``share`` per theme, 0 where absent), themes replayed exactly as
  ``validity_covid.covid_figures`` reads (the one replay of ``validity_fit.replay_quarter``, default ``ThemeParams``);
- ``p4_content``: the same without the themes flagged ``generic`` (the README's research section drops them);
- ``p4_peer``: the exposure vectors under the peer weighting chosen on choosing sets (``peer_similarity``,
  ``e22_industry_peer_weighting`` names it);
- ``p4_tfidf``: TF-IDF (sublinear tf, English stop words) of each call's full text, every turn;
- ``p4_embed``: the call's mean sentence embedding (``FittedQuarter.mean_embedding``);
- ``p4_null``: exposure vectors with the sectors shuffled across COMPANIES (mean of 50 draws; ``p4_null_p95``
  its 95th percentile): the shuffle keeps the calls of one company together, so the null also gets the
  matches a company's other calls give, and only sector structure separates ``p4`` from it;
- ``p4_minus_tfidf``, ``p4_peer_minus_tfidf`` (``_lo``, ``_hi``): exposure's hits minus TF-IDF's per reporting
  query, the 95% interval by resampling companies (``peer_similarity.paired_difference``).

Two variants, fixed before any figure was seen (none is chosen on these calls): ``*_intensity`` uses the
panel's similarity-weighted ``intensity`` instead of ``share``; ``*_other_firms`` leaves a call's own
company's other calls out of its neighbours (six companies have 2-4 calls, and a company's calls find each
other by name and products, which is recognition of the company rather than of its industry).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.quality import choosing_set
from benchmarks.validity_demo import hits_at_k, precision_at_k
from benchmarks.validity_fit import FittedQuarter
from ftm_assets.themes.chain import QuarterOutcome

SECTORS_CSV = Path(__file__).resolve().parent / "data" / "earnings22_sectors.csv"
GICS_SECTORS = ("Energy", "Materials", "Industrials", "Consumer Discretionary", "Consumer Staples", "Health Care",
                "Financials", "Information Technology", "Communication Services", "Utilities", "Real Estate")
K = 4


def read_sectors(path: Path = SECTORS_CSV) -> pd.Series:
    """ticker -> GICS sector, from the hand-assigned file (an unknown sector name is an error, not a label)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = table.loc[~table["gics_sector"].isin(GICS_SECTORS), ["ticker", "gics_sector"]]
    if len(bad):
        raise ValueError(f"{path}: sectors outside GICS's eleven: {bad.to_dict('records')}")
    if table["ticker"].duplicated().any():
        raise ValueError(f"{path}: tickers listed twice: {sorted(table.loc[table['ticker'].duplicated(), 'ticker'])}")
    return table.set_index("ticker")["gics_sector"]


def reporting_precision(vectors: np.ndarray, labels: list[str], reporting: np.ndarray,
                        groups: list[str] | None = None, k: int = K) -> float:
    """precision@k averaged over the ``reporting`` rows, their neighbours searched among all rows."""
    return float(hits_at_k(vectors, labels, k, groups)[reporting].mean())


def company_shuffled_null(vectors: np.ndarray, companies: list[str], sector_of: dict[str, str],
                          reporting: np.ndarray, draws: int = 50, seed: int = 0,
                          groups: list[str] | None = None) -> tuple[float, float]:
    """(mean, 95th percentile) of ``reporting_precision`` with the sectors permuted across companies."""
    names = sorted(set(companies))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        shuffled = dict(zip(names, rng.permutation([sector_of[c] for c in names])))
        out.append(reporting_precision(vectors, [shuffled[c] for c in companies], reporting, groups))
    return float(np.mean(out)), float(np.percentile(out, 95))


def call_table(calls: list[dict]) -> pd.DataFrame:
    """Per call (indexed by the fit's firm id, ``E22-<ticker>-<k>``): its ticker and its full text."""
    from ftm_assets_tests.support.earnings22_calls import firm_ids

    return pd.DataFrame({"ticker": [c["ticker"] for c in calls],
                         "text": [" ".join(t["text"] for t in c["turns"]) for c in calls]},
                        index=pd.Index(firm_ids(calls), name="firm_id"))


def industry_figures(fitted: FittedQuarter, outcome: QuarterOutcome, calls: list[dict] | None = None,
                     sectors: pd.Series | None = None, null_draws: int = 50, choosing_half: bool = False,
                     weighting: str | None = None) -> dict:
    """Every ``e22_industry_*`` figure of the module docstring, from the fitted Earnings-22 quarter and its
    replay (``validity_fit.replay_quarter``); with ``choosing_half`` the queries are the other half of the calls
    (what a setting may be chosen on); ``weighting``: the peer weighting of ``*_peer`` (default
    ``peer_similarity.CHOSEN``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from benchmarks.peer_similarity import CHOSEN, paired_difference, peer_vectors
    from ftm_assets_tests.support.earnings22_calls import read_calls

    table = call_table(calls if calls is not None else read_calls())
    sectors = read_sectors() if sectors is None else sectors
    means = fitted.mean_embedding or {  # a fit from theme_threshold's cache has none: the same mean, taken here
        f: fitted.vectors[i].mean(axis=0) for f, i in fitted.sentences.groupby("firm_id").indices.items()}
    modelled = sorted(set(means) & set(table.index))
    labelled = [f for f in modelled if table.loc[f, "ticker"] in sectors.index]
    companies = table.loc[labelled, "ticker"].tolist()
    labels = [sectors[t] for t in companies]
    reporting = np.array([choosing_set(f) == choosing_half for f in labelled])
    themes = outcome.themes.themes
    generic = set(themes.loc[themes["generic"].astype(bool), "theme_id"])
    weighting = weighting or CHOSEN

    def exposure(how: str) -> np.ndarray:
        return peer_vectors(outcome.exposure, labelled, generic, how)

    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(table.loc[labelled, "text"])
    vectors = {"": exposure("share"), "_content": exposure("content"), "_intensity": exposure("intensity"),
               "_peer": exposure(weighting), "_tfidf": tfidf.toarray(), "_embed": np.stack([means[f] for f in labelled])}
    sector_of = dict(zip(companies, labels))
    out: dict = {"e22_industry_peer_weighting": weighting}
    for suffix, groups in (("", None), ("_other_firms", companies)):
        hits = {name: hits_at_k(x, labels, K, groups)[reporting] for name, x in vectors.items()}  # once each
        for name, h in hits.items():
            out[f"e22_industry_p4{name}{suffix}"] = round(float(h.mean()), 4)
        for name in ("", "_content", "_intensity", "_peer"):
            mean, p95 = company_shuffled_null(vectors[name], companies, sector_of, reporting, null_draws,
                                              groups=groups)
            out[f"e22_industry_p4{name}_null{suffix}"] = round(mean, 4)
            out[f"e22_industry_p4{name}_null_p95{suffix}"] = round(p95, 4)
        for name in ("", "_peer"):
            mean, lo, hi = paired_difference(hits[name], hits["_tfidf"], list(np.asarray(companies)[reporting]))
            key = f"e22_industry_p4{name}_minus_tfidf{suffix}"
            out.update({key: round(mean, 4), f"{key}_lo": round(lo, 4), f"{key}_hi": round(hi, 4)})
    out["e22_industry_p4_all_queries"] = round(precision_at_k(vectors[""], labels, K), 4)  # the demo's definition
    return {**out, "e22_industry_calls": len(modelled), "e22_industry_calls_labelled": len(labelled),
            "e22_industry_companies": len(set(companies)), "e22_industry_sectors": len(set(labels)),
            "e22_industry_calls_reporting": int(reporting.sum()), "e22_industry_themes": len(themes),
            "e22_industry_themes_generic": len(generic)}

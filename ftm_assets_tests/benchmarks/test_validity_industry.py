"""validity_industry.py: the hand-assigned sector file (valid GICS sectors, every Earnings-22 ticker covered) and
the reporting-half precision@k, its company-level null and the own-company exclusion on planted vectors."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.peer_similarity import CHOSEN
from benchmarks.quality import choosing_set
from benchmarks.validity_demo import hits_at_k
from benchmarks.validity_industry import (
    GICS_SECTORS,
    SECTORS_CSV,
    company_shuffled_null,
    read_sectors,
    reporting_precision,
)
from ftm_assets_tests.support.earnings22 import requires_earnings22


def test_sector_file_names_only_gics_sectors_and_says_how_each_company_was_identified():
    table = pd.read_csv(SECTORS_CSV, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["ticker", "company", "gics_sector", "basis"]
    assert set(table["gics_sector"]) <= set(GICS_SECTORS) and table["ticker"].is_unique
    assert (table["company"].str.len() > 0).all()
    assert table["basis"].isin(["ticker", "company named in the call's opening",
                                "executives named in the call's opening"]).all()
    assert read_sectors().to_dict() == dict(zip(table["ticker"], table["gics_sector"]))


def test_a_sector_outside_gics_is_refused(tmp_path):
    path = tmp_path / "sectors.csv"
    path.write_text("ticker,company,gics_sector,basis\nX,Some Co,Technology,ticker\n")
    with pytest.raises(ValueError, match="outside GICS"):
        read_sectors(path)


@requires_earnings22
def test_sector_file_covers_every_ticker_of_the_calls():
    from ftm_assets_tests.support.earnings22_calls import read_calls

    tickers = {call["ticker"] for call in read_calls()}
    assert sorted(tickers - set(read_sectors().index)) == []


def _planted(seed: int = 0):
    """Two sectors of 3 companies x 2 calls each, in separable directions; a company's calls nearly identical."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, 12))
    firms = [(s, c) for s in range(2) for c in range(3)]
    company_offset = {f: 0.3 * rng.normal(size=12) for f in firms}
    x = np.vstack([centres[s] + company_offset[(s, c)] + 0.01 * rng.normal(size=12) for s, c in firms for _ in range(2)])
    companies = [f"S{s}C{c}" for s, c in firms for _ in range(2)]
    labels = [f"sector{s}" for s, _ in firms for _ in range(2)]
    return x, companies, labels


def test_separable_sectors_score_one_on_the_reporting_rows():
    x, companies, labels = _planted()
    reporting = np.arange(len(labels)) % 2 == 1
    assert reporting_precision(x, labels, reporting) == 1.0
    assert reporting_precision(x, labels, reporting, groups=companies) == 1.0


def test_company_shuffled_null_is_lower_and_own_company_calls_are_left_out():
    x, companies, labels = _planted()
    reporting = np.ones(len(labels), dtype=bool)
    sector_of = dict(zip(companies, labels))
    mean, p95 = company_shuffled_null(x, companies, sector_of, reporting, draws=30)
    assert mean < 0.8 and mean <= p95 <= 1.0
    # labels by company instead of sector: only the sibling call matches, and leaving it out leaves nothing
    assert hits_at_k(x, companies, k=1).mean() == 1.0
    assert hits_at_k(x, companies, k=1, groups=companies).mean() == 0.0


def test_industry_figures_recover_planted_sectors_through_the_replayed_panel():
    from benchmarks.validity_fit import FittedQuarter, replay_quarter
    from benchmarks.validity_industry import industry_figures
    from ftm_assets.themes.params import ThemeParams
    from ftm_assets_tests.support.earnings22_calls import firm_ids
    from ftm_assets_tests.themes.synthetic import WORDS, firm_topics, in_memory_quarter, theme_directions

    sectors = pd.Series({f"T{s}{i}": GICS_SECTORS[s] for s in range(3) for i in range(5)})
    calls = [{"ticker": t, "turns": [{"speaker": 1, "text": f"Our {WORDS[2 * s]} and {WORDS[2 * s + 1]} business."}]}
             for t, s in zip(sectors.index, [s for s in range(3) for _ in range(5)])]
    directions = theme_directions(6)
    firms = {fid: firm_topics(n, [2 * (n // 5), 2 * (n // 5) + 1], directions, seed=3)
             for n, fid in enumerate(firm_ids(calls))}
    quarter, topics, sentences, vectors = in_memory_quarter("2021Q1", firms)
    means = {f: vectors[i].mean(axis=0) for f, i in sentences.groupby("firm_id").indices.items()}
    fitted = FittedQuarter(quarter, topics, sentences, vectors, means, 0.0)
    out = industry_figures(fitted, replay_quarter(fitted, ThemeParams()), calls=calls, sectors=sectors, null_draws=20)
    assert out["e22_industry_calls"] == out["e22_industry_calls_labelled"] == 15 and out["e22_industry_sectors"] == 3
    assert out["e22_industry_calls_reporting"] == sum(1 for f in firms if not choosing_set(f))
    for key in ("e22_industry_p4", "e22_industry_p4_content", "e22_industry_p4_tfidf"):
        assert out[key] == 1.0, key
    assert out["e22_industry_p4_null"] < 0.6 and out["e22_industry_p4_null"] <= out["e22_industry_p4_null_p95"]
    assert out["e22_industry_p4_embed"] > out["e22_industry_p4_null_p95"]  # outlier sentences blur the mean
    assert out["e22_industry_p4_peer"] == 1.0 and out["e22_industry_peer_weighting"] == CHOSEN
    for key in ("e22_industry_p4_minus_tfidf", "e22_industry_p4_peer_minus_tfidf"):
        assert out[f"{key}_lo"] <= out[key] == 0.0 <= out[f"{key}_hi"], key  # both find every peer: no gap

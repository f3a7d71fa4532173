"""validity_*.py: precision@k, truth correlation, id purity, covid choose-then-report and chain agreement on small planted inputs."""

import numpy as np
import pandas as pd

from benchmarks.validity_covid import choose_and_report, covid_share
from benchmarks.validity_demo import id_purity, industry_of, pick_firms, precision_at_k, truth_corr, without_name


def test_precision_at_k_finds_planted_groups_and_not_shuffled_ones():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    x = np.vstack([c + 0.05 * rng.normal(size=(5, 16)) for c in centres])
    labels = [g for g in "abc" for _ in range(5)]
    assert precision_at_k(x, labels) == 1.0
    assert precision_at_k(x, list(rng.permutation(labels))) < 0.6


def test_demo_firms_are_picked_per_industry():
    picked = pick_firms(3, 5)
    industries = pd.Series([industry_of(i) for i in picked]).value_counts()
    assert len(industries) == 3 and (industries == 5).all() and industry_of(0) is None


def test_choosing_firms_come_from_other_industries_than_the_reported_ones():
    reported, choosing = pick_firms(3, 5), pick_firms(3, 5, skip=3)
    assert len(choosing) == 15 and not {industry_of(i) for i in reported} & {industry_of(i) for i in choosing}


def test_truth_corr_is_one_on_exact_exposure_and_low_when_firms_are_shuffled():
    rng = np.random.default_rng(1)
    mixes = {"2023Q1": {f"F{i}": dict(zip("xyz", rng.dirichlet([1, 1, 1]))) for i in range(30)}}
    exposure = pd.DataFrame([{"quarter": "2023Q1", "firm_id": f, "theme_id": f"T-{t}", "share": s}
                             for f, mix in mixes["2023Q1"].items() for t, s in mix.items()])
    mapping = {f"T-{t}": t for t in "xyz"}
    assert truth_corr(exposure, mapping, mixes) > 0.999
    assert abs(truth_corr(exposure, mapping, mixes, shuffle_seed=0)) < 0.5


def test_id_purity_of_clean_ids_beats_shuffled_ids():
    members = pd.DataFrame({"quarter": ["q1"] * 6 + ["q2"] * 6, "theme_id": list("AAABBB") * 2,
                            "true_theme": list("xxxyyy") * 2})
    assert id_purity(members) == (1.0, 1.0)
    assert id_purity(members, shuffle_seed=0)[0] < 1.0


def test_covid_theme_is_chosen_on_one_half_and_reported_on_the_other():
    sentences = pd.DataFrame({"firm_id": ["a", "a", "b", "b"], "text": ["The COVID-19 pandemic hit.", "Sales rose.",
                                                                           "Pricing held.", "Margins fell."]})
    assert covid_share(sentences).to_dict() == {"a": 0.5, "b": 0.0}
    rng = np.random.default_rng(2)
    covid = pd.Series(rng.uniform(size=40), index=[f"f{i}" for i in range(40)])
    exposure = pd.DataFrame({"covid": covid + 0.05 * rng.normal(size=40), "other": rng.uniform(size=40)},
                            index=covid.index)
    choose = np.arange(40) % 2 == 0
    theme, _, rho = choose_and_report(covid, exposure, choose)
    assert theme == "covid" and rho > 0.9


def test_chains_that_agree_up_to_renaming_score_one_and_a_shuffled_chain_does_not():
    from types import SimpleNamespace

    from benchmarks.validity_demo import chain_agreement

    sentences = pd.DataFrame({"firm_id": ["a"] * 6 + ["b"] * 6, "sentence_id": list(range(6)) * 2})
    themes = ["T1", "T1", "T2", "T2", None, "T3"] * 2

    def outcome(ids, rename):
        rows = sentences.assign(theme_id=[rename.get(t, t) for t in ids]).dropna(subset=["theme_id"])
        return SimpleNamespace(quarter="q", assignments=rows)

    fitted = {"q": SimpleNamespace(sentences=sentences)}
    same = chain_agreement([outcome(themes, {})], [outcome(themes, {"T1": "X", "T2": "Y", "T3": "Z"})], fitted)
    assert same["chain_agreement_ari"] == 1.0 and same["chain_map_stable"] == 1.0
    other = chain_agreement([outcome(themes, {})], [outcome(themes[3:] + themes[:3], {})], fitted)
    assert other["chain_agreement_ari"] < 0.5


def test_the_firms_own_name_is_taken_out_of_its_call_and_nothing_else():
    text = "Welcome to the Oakhurst Logistics call. Logistics demand rose; oakhurst thanks everyone."
    assert without_name(text, "Oakhurst Logistics Group (synthetic)") == "Welcome to the   call.  demand rose;  thanks everyone."


def test_hits_of_disjoint_firm_sets_pool_into_one_sample_with_its_interval():
    import numpy as np

    from benchmarks.validity_demo import IndustryHits, pooled_hits, summarise_hits

    def hits(firms, exposure, tfidf):
        n = len(firms)
        return IndustryHits({"": np.full(n, exposure), "_peer": np.full(n, exposure), "_tfidf": np.full(n, tfidf)},
                            list(firms), {"": 0.1, "_peer": 0.2}, "sqrt")

    a, b = hits(["a1", "a2"] * 4, 0.5, 0.25), hits(["b1", "b2"] * 4, 0.25, 0.5)
    pooled = pooled_hits([a, b])
    assert len(pooled.queried) == 16 and set(pooled.queried) == {"a1", "a2", "b1", "b2"}
    out = summarise_hits(pooled, prefix="p")
    assert out["p"] == 0.375 and out["p_tfidf"] == 0.375 and out["p_null"] == 0.1
    assert out["p_minus_tfidf"] == 0.0 and out["p_minus_tfidf_lo"] < 0 < out["p_minus_tfidf_hi"]
    assert summarise_hits(a, prefix="p")["p_minus_tfidf"] == 0.25  # one set alone: no doubt left
    assert summarise_hits(a, prefix="p")["p_minus_tfidf_lo"] == 0.25

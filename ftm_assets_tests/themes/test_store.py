"""Themes in the storage root: stable ids, lineage, replays that make ids independent of materialization order."""

import json

import pandas as pd
import pytest

from ftm_assets.readers import (read_firm_topics, read_sentence_themes, read_sentences, read_theme_exposure,
                                read_themes)
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.themes.params import ThemeParams
from ftm_assets.readers import ThemesNotMaterialized
from ftm_assets.themes.assign import MissingSentenceVectors
from ftm_assets.themes.outcome import chain_problem, load_outcome
from ftm_assets.themes.store import IncompleteQuarter, resolve
from ftm_assets_tests.themes.synthetic import commit_quarter, planted_quarter

Q1, Q2, Q3 = "2023Q1", "2023Q2", "2023Q3"
ALL = [Q1, Q2, Q3]


def three_quarters(store, run_id="run"):
    commit_quarter(store, Q1, planted_quarter(), run_id=run_id)
    commit_quarter(store, Q2, planted_quarter(skip_theme=2, extra_theme=6, seed=2), run_id=run_id)
    commit_quarter(store, Q3, planted_quarter(), run_id=run_id)


def materialize(store, quarter):
    earlier = [q for q in ALL if q < quarter]
    later = [q for q in ALL if q > quarter]
    return resolve(store, quarter, earlier, ThemeParams(), later=later)


def test_recurring_themes_keep_ids_and_births_and_deaths_are_recorded(tmp_path):
    store = LocalStorage(tmp_path)
    three_quarters(store)
    outcomes = [materialize(store, q)[0] for q in ALL]
    ids = [set(o.themes.present) for o in outcomes]
    assert len(ids[0]) == 6 and ids[2] == ids[0]  # the copy quarter: every theme, every id
    events = {(e["quarter"], e["event"]) for o in outcomes for e in o.themes.events}
    assert (Q2, "birth") in events and (Q2, "death") in events and (Q3, "revival") in events
    (born,) = [e["theme_id"] for e in outcomes[1].themes.events if e["event"] == "birth"]
    (dead,) = [e["theme_id"] for e in outcomes[1].themes.events if e["event"] == "death"]
    assert born.startswith(f"{Q2}-T") and dead in ids[0] and dead not in ids[1]
    assert (Q3, "death") in events and born not in ids[2]  # the theme born in Q2 ends in Q3
    registry = json.loads(store.read_text(layout.theme_registry()))
    assert registry["quarters"] == ALL and registry["themes"][born]["first_quarter"] == Q2


def test_rematerializing_with_unchanged_inputs_gives_identical_themes(tmp_path):
    store = LocalStorage(tmp_path)
    three_quarters(store)
    for q in ALL:
        materialize(store, q)
    before = {q: store.read_bytes(load_outcome(store, q).table_key(q, "themes.parquet")) for q in ALL}
    materialize(store, Q2)
    key = load_outcome(store, Q2).table_key(Q2, "themes.parquet")
    assert store.read_bytes(key) == before[Q2]
    pd.testing.assert_frame_equal(read_themes(store, Q2), pd.read_parquet(tmp_path / key))


def test_ids_do_not_depend_on_the_order_quarters_are_materialized(tmp_path):
    in_order, reverse = LocalStorage(tmp_path / "a"), LocalStorage(tmp_path / "b")
    three_quarters(in_order)
    three_quarters(reverse)
    for q in ALL:
        materialize(in_order, q)
    for q in reversed(ALL):  # Q3 first: it replays Q1 and Q2 itself
        materialize(reverse, q)
    for q in ALL:
        a, b = read_themes(in_order, q), read_themes(reverse, q)
        assert a[["theme_id", "n_topics", "n_sentences"]].equals(b[["theme_id", "n_topics", "n_sentences"]])
        pd.testing.assert_frame_equal(read_theme_exposure(in_order, q), read_theme_exposure(reverse, q))
    assert in_order.read_text(layout.theme_registry()) == reverse.read_text(layout.theme_registry())


def test_an_incomplete_quarter_fails_naming_its_missing_batches(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter(), commit={"000"})
    with pytest.raises(IncompleteQuarter, match=r"2023Q1 is incomplete: batch\(es\) 001"):
        materialize(store, Q1)
    commit_quarter(store, Q2, planted_quarter())
    with pytest.raises(IncompleteQuarter, match=r"Earlier quarter 2023Q1 .*001"):
        materialize(store, Q2)


def test_panel_reader_reads_ranges_and_names_missing_quarters(tmp_path):
    store = LocalStorage(tmp_path)
    three_quarters(store)
    materialize(store, Q1)
    materialize(store, Q2)
    panel = read_theme_exposure(str(tmp_path), "2023Q1:2023Q2")
    assert sorted(panel["quarter"].unique()) == [Q1, Q2]
    assert panel.groupby(["firm_id", "quarter"])["share"].sum().max() <= 1.0
    assert panel["gvkey"].notna().all() and panel["permno"].notna().all()
    with pytest.raises(ThemesNotMaterialized, match="2023Q3"):
        read_theme_exposure(str(tmp_path), "2023Q1:2023Q3")
    with pytest.warns(UserWarning, match="2023Q3"):
        assert len(read_theme_exposure(str(tmp_path), [Q1, Q3], strict=False)) == len(read_theme_exposure(store, Q1))


def test_a_theme_born_next_to_a_living_one_is_recorded_as_its_split(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    commit_quarter(store, Q2, planted_quarter(extra_theme=6, offshoot_of=0, seed=2))
    first = materialize(store, Q1)[0]
    second = materialize(store, Q2)[0]
    (split,) = [e for e in second.themes.events if e["event"] == "split"]
    parent_row = read_themes(store, Q1).set_index("theme_id")
    assert split["parent"] in first.themes.present and split["theme_id"].startswith(f"{Q2}-T")
    assert read_themes(store, Q2).set_index("theme_id").loc[split["theme_id"], "split_from"] == split["parent"]
    assert parent_row.loc[split["parent"], "n_firms"] >= 3
    members = first.themes.members.set_index(["firm_id", "topic_id"])["theme_id"]
    assert split["parent"] == members[("F-000", 0)]  # F-000's first topic is planted theme 0, the parent


def test_each_sentence_goes_to_its_topics_theme_and_the_panel_counts_them(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    outcome = materialize(store, Q1)[0]
    assigned = read_sentence_themes(store, Q1)
    assert list(assigned.columns) == ["quarter", "firm_id", "sentence_id", "theme_id", "similarity"]
    topics = read_firm_topics(store, Q1).explode("sentence_ids").dropna(subset=["sentence_ids"])
    topics = topics.rename(columns={"sentence_ids": "sentence_id"}).astype({"sentence_id": "int32"})
    members = outcome.themes.members.merge(topics[["firm_id", "topic_id", "sentence_id"]], on=["firm_id", "topic_id"])
    joined = assigned.merge(members, on=["firm_id", "sentence_id"], how="left", suffixes=("", "_topic"))
    assert len(assigned) == len(members)  # every planted sentence is taken, no outlier sentence is
    assert (joined["theme_id"] == joined["theme_id_topic"]).all() and (assigned["similarity"] >= 0.5).all()
    panel = read_theme_exposure(store, Q1)
    counts = assigned.groupby(["firm_id", "theme_id"]).size()
    assert panel.set_index(["firm_id", "theme_id"])["n_sentences"].equals(counts.astype("int32").rename("n_sentences"))
    assert (panel["intensity"] <= panel["share"]).all() and (panel["intensity"] > 0).all()


def test_themes_carry_breadth_analyst_share_generic_and_representatives_near_the_anchor(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    materialize(store, Q1)
    themes, assigned = read_themes(store, Q1), read_sentence_themes(store, Q1)
    sentences = read_sentences(store, Q1)
    assert themes["breadth"].between(0, 1).all() and (themes["analyst_share"] == 0).all()  # executives only
    assert not themes["generic"].any()  # each planted theme reaches 8 of 12 firms: not above 0.8
    texts = assigned.merge(sentences, on=["quarter", "firm_id", "sentence_id"])
    for row in themes.itertuples():
        on_theme = texts[texts["theme_id"] == row.theme_id]
        best = on_theme.sort_values("similarity", ascending=False).drop_duplicates("firm_id")
        assert [r["text"] for r in row.representative_sentences] == best["text"].head(5).tolist()


def test_a_generic_rule_flags_a_theme_every_firm_talks_about(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    resolve(store, Q1, [], ThemeParams(generic_breadth=0.5))
    themes = read_themes(store, Q1)
    assert themes["generic"].tolist() == (themes["breadth"] > 0.5).tolist() and themes["generic"].any()


def test_dense_panel_has_a_zero_row_for_every_firm_and_theme(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    materialize(store, Q1)
    sparse, dense = read_theme_exposure(store, Q1), read_theme_exposure(store, Q1, dense=True)
    assert len(dense) == 12 * len(read_themes(store, Q1)) > len(sparse)
    zero = dense.merge(sparse[["firm_id", "theme_id"]], how="left", indicator=True)["_merge"] == "left_only"
    assert (dense.loc[zero.to_numpy(), ["share", "intensity", "n_sentences"]] == 0).all().all()
    assert dense.loc[zero.to_numpy(), "tone"].isna().all() and dense["gvkey"].notna().all()
    kept = dense.merge(sparse, on=["firm_id", "theme_id"], suffixes=("", "_s"))
    assert (kept["share"] == kept["share_s"]).all()


def test_firms_without_stored_embeddings_fail_naming_their_batches(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter(), embeddings=False)
    with pytest.raises(MissingSentenceVectors, match=r"batch 000: 6 firm\(s\).*batch 001.*FTM_EMBEDDING_STORE=off"):
        materialize(store, Q1)


def test_a_new_sentence_threshold_makes_the_stored_themes_stale(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    materialize(store, Q1)
    assert chain_problem(store, Q1, [], ThemeParams()) is None
    assert "stale" in chain_problem(store, Q1, [], ThemeParams(sentence_similarity=0.6))

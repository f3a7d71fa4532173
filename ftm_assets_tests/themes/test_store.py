"""Themes in the storage root: stable ids, lineage, replays that make ids independent of materialization order."""

import json

import pandas as pd
import pytest

from ftm_assets.readers import read_theme_exposure, read_themes
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.themes.params import ThemeParams
from ftm_assets.readers import ThemesNotMaterialized
from ftm_assets.themes.outcome import load_outcome
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

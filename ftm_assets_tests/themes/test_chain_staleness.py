"""A themes chain that notices every upstream change (issue 26, scenarios 1 and 2): theme_exposure and the readers
recompute the chain from the commit records and refuse a later quarter once an earlier one's batches re-commit;
a batch committing while quarter_themes reads never leaves old themes under a current-looking fingerprint; the
tail replay stops at a quarter with commits but no themes; theme outcomes switch tables in one write."""

import json

import dagster as dg
import pandas as pd
import pytest

import ftm_assets.themes.store as store_module
from ftm_assets.assets.themes import build_quarter_themes, build_theme_exposure
from ftm_assets.partitions import quarter_batch_partitions, quarter_partitions
from ftm_assets.readers import read_theme_exposure, read_themes
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.theme_settings import ThemeSettings
from ftm_assets.schema import THEMES_SCHEMA
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.themes.params import ThemeParams
from ftm_assets.readers.themes import ThemesNotMaterialized
from ftm_assets.themes.registry import Registry
from ftm_assets.themes.outcome import load_outcome, read_table
from ftm_assets.themes.store import compute, resolve
from ftm_assets_tests.themes.synthetic import commit_quarter, planted_quarter

Q1, Q2, Q3 = "2023Q1", "2023Q2", "2023Q3"
ALL = [Q1, Q2, Q3]
QUARTERS = quarter_partitions(Q1, Q3)
BATCHES = quarter_batch_partitions(QUARTERS, 2)


def _resolve(store, quarter):
    return resolve(store, quarter, [q for q in ALL if q < quarter], ThemeParams(),
                   later=[q for q in ALL if q > quarter])


def _materialize(root, quarter, selection):
    assets = [build_quarter_themes(QUARTERS), build_theme_exposure(QUARTERS),
              dg.AssetSpec("firm_topics", partitions_def=BATCHES)]
    return dg.materialize(assets, selection=selection, partition_key=quarter, raise_on_error=False,
                          resources={"storage": StorageRoot(root=str(root)), "theme_settings": ThemeSettings()})


def _two_quarters_then_q1_recommits(store):
    commit_quarter(store, Q1, planted_quarter())
    commit_quarter(store, Q2, planted_quarter(skip_theme=2, extra_theme=6, seed=2))
    _resolve(store, Q1)
    _resolve(store, Q2)
    commit_quarter(store, Q1, planted_quarter(n_firms=10, seed=3), run_id="rerun")  # Q1's batches re-run


def test_theme_exposure_refuses_a_later_quarter_once_an_earlier_one_recommits(tmp_path):
    """Scenario 1, through Dagster: theme_exposure for Q2 fails naming Q1."""
    store = LocalStorage(tmp_path)
    _two_quarters_then_q1_recommits(store)
    result = _materialize(tmp_path, Q2, ["theme_exposure"])
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert Q1 in failure.step_failure_data.error.message and "stale" in failure.step_failure_data.error.message


def test_readers_refuse_themes_of_a_quarter_whose_chain_changed(tmp_path):
    """Scenario 1, the readers: Q2's themes are not served as current; Q1 and Q2 are named."""
    store = LocalStorage(tmp_path)
    _two_quarters_then_q1_recommits(store)
    with pytest.raises(ThemesNotMaterialized, match=f"{Q2}.*{Q1}"):
        read_theme_exposure(store, Q2)
    with pytest.raises(ThemesNotMaterialized, match=Q1):
        read_themes(store, Q1)
    _resolve(store, Q2)  # quarter_themes for Q2 recomputes Q1 first: both current again
    assert len(read_theme_exposure(store, f"{Q1}:{Q2}"))


def test_the_tail_replay_stops_at_a_quarter_with_commits_but_no_themes(tmp_path):
    """Q1 and Q3 have themes, Q2 commits later: registry.json after Q1 must not go past Q2 to Q3."""
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    commit_quarter(store, Q3, planted_quarter(seed=4))
    _resolve(store, Q1)
    _resolve(store, Q3)
    commit_quarter(store, Q2, planted_quarter(skip_theme=2, extra_theme=6, seed=2))
    _resolve(store, Q1)
    registry = json.loads(store.read_text(layout.theme_registry()))
    assert registry["quarters"] == [Q1]


def test_a_batch_committing_during_the_reads_never_stores_old_themes_as_current(tmp_path, monkeypatch):
    """Scenario 2: Q1's batches commit new topics between quarter_themes' read of topics and of sentences."""
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    interfered = {"done": False}

    def commit_in_between(read):
        def wrapped(*args, **kwargs):
            reading_sentences = read is real_read_sentences or (len(args) > 2 and args[2] == "sentences")
            if reading_sentences and not interfered["done"]:
                interfered["done"] = True
                commit_quarter(store, Q1, planted_quarter(n_firms=10, seed=3), run_id="rerun")
            return read(*args, **kwargs)
        return wrapped

    real_read_sentences = getattr(store_module, "read_sentences", None)
    real_read_records = getattr(store_module, "read_records", None)
    if real_read_sentences is not None:  # the reader functions of whichever version is under test
        monkeypatch.setattr(store_module, "read_sentences", commit_in_between(real_read_sentences))
    if real_read_records is not None:
        monkeypatch.setattr(store_module, "read_records", commit_in_between(real_read_records))
    _resolve(store, Q1)
    assert interfered["done"]
    monkeypatch.undo()

    fresh = compute(store, Registry(), Q1, ThemeParams())  # what the current commits give
    stored = load_outcome(store, Q1)
    assert stored.fingerprint == fresh.fingerprint
    assert list(stored.firms) == fresh.firms and stored.sentences_total == fresh.sentences_total


def test_an_interrupted_save_leaves_the_previous_outcome_whole(tmp_path, monkeypatch):
    """save_outcome killed after its first table: readers of the stored outcome see the old tables, not a mix."""
    store = LocalStorage(tmp_path)
    commit_quarter(store, Q1, planted_quarter())
    _resolve(store, Q1)
    before = read_table(store, Q1, "themes.parquet", THEMES_SCHEMA)
    commit_quarter(store, Q1, planted_quarter(n_firms=10, seed=3), run_id="rerun")
    real_write = LocalStorage.write_bytes
    writes = {"n": 0}

    def dies_on_second_table(self, key, data):
        if key.startswith(layout.themes_quarter_prefix(Q1)) and key.endswith(".parquet"):
            writes["n"] += 1
            if writes["n"] == 2:
                raise KeyboardInterrupt("killed")  # the process dies between two tables
        return real_write(self, key, data)

    monkeypatch.setattr(LocalStorage, "write_bytes", dies_on_second_table)
    with pytest.raises(KeyboardInterrupt):
        _resolve(store, Q1)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(read_table(store, Q1, "themes.parquet", THEMES_SCHEMA), before)

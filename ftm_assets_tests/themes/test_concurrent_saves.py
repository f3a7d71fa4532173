"""Two runs saving one quarter's themes at once (a backfill's runs both recomputing a stale earlier quarter, or
runs under two settings): whichever record lands last is whole and readable, on a local root and on S3; the
tables no record names are removed once older than the grace, and a run puts back its own tables if a stalled
run removed them before its switch."""

from __future__ import annotations

import pandas as pd
import pytest

import ftm_assets.themes.store as store_module
from ftm_assets.schema import THEME_EXPOSURE_SCHEMA
from ftm_assets.storage import LocalStorage, layout, open_storage
from ftm_assets.themes.outcome import load_outcome, read_table
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.registry import Registry
from ftm_assets.themes.store import compute, remove_orphans, save_outcome
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.themes.synthetic import commit_quarter, planted_quarter

Q = "2023Q1"
RECORD = layout.themes_table(Q, "outcome.json")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """A quarter of planted firms committed on a local root or on S3 (moto's server)."""
    store = (LocalStorage(tmp_path / "root") if request.param == "local"
             else open_storage(f"s3://{create_bucket(request.getfixturevalue('moto_server'))}/root"))
    commit_quarter(store, Q, planted_quarter())
    return store


def _two_outcomes(store):
    """The quarter's outcome under two thresholds: the same themes, other sentence assignments and exposure."""
    a = compute(store, Registry(), Q, ThemeParams(sentence_similarity=0.45))
    b = compute(store, Registry(), Q, ThemeParams(sentence_similarity=0.9))  # planted sentences sit near 0.9
    assert not a.exposure.equals(b.exposure)
    return a, b


def _tables(store) -> dict[str, str]:
    return load_outcome(store, Q).tables


def _assert_whole(store, expected) -> None:
    """Every table the stored record names is there, and the panel is ``expected``'s."""
    assert all(store.exists(key) for key in _tables(store).values())
    stored = read_table(store, Q, "exposure.parquet", THEME_EXPOSURE_SCHEMA)
    assert load_outcome(store, Q).params == expected.params
    assert len(stored) == len(expected.exposure)


def _hook_switch(monkeypatch, store, before=None, after=None):
    """Run ``before``/``after`` around the FIRST write of the quarter's record (the switch of the run saving)."""
    real = type(store).write_text
    fired = {"n": 0}

    def write_text(self, key, text):
        if key != RECORD or fired["n"]:
            return real(self, key, text)
        fired["n"] += 1
        if before:
            before()
        real(self, key, text)
        if after:
            after()

    monkeypatch.setattr(type(store), "write_text", write_text)
    return fired


def test_a_run_switching_after_ours_keeps_its_tables_through_our_clean_up(store, monkeypatch):
    a, b = _two_outcomes(store)
    fired = _hook_switch(monkeypatch, store, after=lambda: save_outcome(store, b))  # b lands between a's switch and clean-up
    save_outcome(store, a)
    assert fired["n"] == 1
    _assert_whole(store, b)


def test_a_run_switching_before_ours_cannot_remove_our_new_tables(store, monkeypatch):
    a, b = _two_outcomes(store)
    fired = _hook_switch(monkeypatch, store, before=lambda: save_outcome(store, b))  # b saves between a's tables and switch
    save_outcome(store, a)
    assert fired["n"] == 1
    _assert_whole(store, a)


def test_tables_removed_by_a_stalled_run_before_our_switch_are_put_back(store, monkeypatch):
    a, _ = _two_outcomes(store)
    written: dict[str, str] = {}
    real_write = type(store).write_bytes

    def write_bytes(self, key, data):
        if key.endswith(".parquet"):
            written[key.rsplit("/", 1)[-1].split("-")[0]] = key
        return real_write(self, key, data)

    monkeypatch.setattr(type(store), "write_bytes", write_bytes)
    _hook_switch(monkeypatch, store, before=lambda: store.delete(written["exposure"]))
    save_outcome(store, a)
    _assert_whole(store, a)


def test_unnamed_tables_go_once_older_than_the_grace(store, monkeypatch):
    a, b = _two_outcomes(store)
    save_outcome(store, a)
    first = set(_tables(store).values())
    save_outcome(store, b)
    only_a = first - set(_tables(store).values())
    assert only_a and all(store.exists(k) for k in only_a)  # young: maybe a concurrent run's, kept for now
    monkeypatch.setattr(store_module, "ORPHAN_GRACE_S", -1.0)  # every table is now older than the grace
    deleted = remove_orphans(store, Q, keep=set())
    assert set(deleted) == only_a and not any(store.exists(k) for k in only_a)
    _assert_whole(store, b)  # what the stored record names is never removed
    assert store.age(RECORD) >= 0.0

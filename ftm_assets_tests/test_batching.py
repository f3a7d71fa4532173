"""Batch keys and the stable firm -> batch assignment, and the manifest built from it."""

import subprocess
import sys

import pytest

from ftm_assets.batching import batch_keys, batch_of
from ftm_assets.storage.manifest import assign_batches, read_batch, write_manifest
from ftm_assets.storage import LocalStorage, StorageError


def test_batch_keys():
    assert batch_keys(5) == ["000", "001", "002", "003", "004"]
    with pytest.raises(ValueError):
        batch_keys(0)


def test_batch_of_is_stable_across_processes():
    ids = ["24937", "21835", "18749", "firm-x"]
    here = [batch_of(i, 5) for i in ids]
    code = "from ftm_assets.batching import batch_of; print([batch_of(i, 5) for i in %r])" % ids
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=".").stdout.strip()
    assert str(here) == there
    assert all(b in batch_keys(5) for b in here)


def test_batch_of_spreads_firms():
    counts = {}
    for i in range(5000):
        counts[batch_of(str(i), 5)] = counts.get(batch_of(str(i), 5), 0) + 1
    assert len(counts) == 5 and min(counts.values()) > 900


def test_manifest_round_trip(tmp_path):
    store = LocalStorage(tmp_path)
    entries = assign_batches("2023Q1", ["3", "1", "2", "1"], 2)
    assert sorted(f for e in entries for f in e.firm_ids) == ["1", "2", "3"]
    write_manifest(store, "2023Q1", entries)
    for e in entries:
        assert read_batch(store, "2023Q1", e.batch) == e
    with pytest.raises(StorageError, match="batch count"):
        read_batch(store, "2023Q1", "007")
    with pytest.raises(StorageError, match="materialize firm_manifest"):
        read_batch(store, "2023Q2", "000")

"""FTM_BATCH_COUNT 2 -> 3 with only the new batch materialized: firm_manifest names the stale batches,
readers read no firm twice and name the stale batches, strict reads refuse the quarter until it is redone."""

import logging
import warnings

import dagster as dg
import pytest

from ftm_assets.readers import IncompleteOutputError, IncompleteOutputWarning, quarter_commits, read_firm_topics
from ftm_assets.storage import LocalStorage
from ftm_assets.storage.manifest import read_manifest
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.partitions import register_quarters
from ftm_assets_tests.support.pipeline import build_test_definitions
from ftm_assets_tests.support.scripted_processor import scripted
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2024Q2"
FIRMS = [f"firm-{i:02d}" for i in range(12)]
LOG = logging.getLogger("test-batch-count")


def _run(store, batch: str, run_id: str) -> None:
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": batch, "storage_root": store.root, "run_id": run_id})
    outcome = run_batch(cfg, store, LOG, scripted())
    assert outcome.error is None, outcome.error


def _materialize_manifest(root: str, batch_count: int) -> dict:
    env = {"FTM_STORAGE_ROOT": root, "FTM_BATCH_COUNT": str(batch_count), "FTM_LAST_QUARTER": "2024Q4"}
    defs, _ = build_test_definitions(env)
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        register_quarters(instance, [Q])  # quarters are partitions on the instance
        result = job.execute_in_process(instance=instance, partition_key=Q,
                                        asset_selection=[dg.AssetKey("firm_manifest")])
    (materialization,) = result.asset_materializations_for_node("firm_manifest")
    return {k: v.value for k, v in materialization.metadata.items()}


def test_a_new_batch_count_makes_old_commits_stale(tmp_path):
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]),
                  batch_count=2)
    for batch in ("000", "001"):
        _run(store, batch, f"run-{batch}-of-2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(read_firm_topics(store, Q, strict=True).firm_id) == FIRMS

    meta = _materialize_manifest(str(tmp_path), 3)
    assert meta["batches"] == 3
    assert sorted(s["batch"] for s in meta["stale_batches"]) == ["000", "001"]
    assert all("made for 2 batches" in s["reason"] for s in meta["stale_batches"])

    _run(store, "002", "run-002-of-3")
    new_firms = next(e.firm_ids for e in read_manifest(store, Q) if e.batch == "002")
    with pytest.warns(IncompleteOutputWarning, match="stale 2024Q2 batch 000.*stale 2024Q2 batch 001"):
        topics = read_firm_topics(store, Q)
    assert sorted(topics.firm_id) == sorted(new_firms)  # no firm twice: only the current batch is read
    with pytest.raises(IncompleteOutputError, match="batch 000"):
        read_firm_topics(store, Q, strict=True)

    for batch in ("000", "001"):  # redone under the new manifest, the quarter is whole again
        _run(store, batch, f"run-{batch}-of-3")
    assert quarter_commits(store, Q).complete
    assert sorted(read_firm_topics(store, Q, strict=True).firm_id) == FIRMS

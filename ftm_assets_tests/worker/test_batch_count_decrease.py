"""FTM_BATCH_COUNT 4 -> 2 with every new batch re-run (issue 26, scenario 6): the records of batches 002 and 003
are left over, reported as stale but not missing; the quarter is complete, strict readers read every firm once,
and quarter_themes' check of missing batches passes."""

import logging
import warnings

from ftm_assets.readers import quarter_commits, read_firm_topics
from ftm_assets.storage import LocalStorage
from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets.themes.outcome import missing_batches
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets_tests.support.scripted_processor import scripted
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2024Q2"
FIRMS = [f"firm-{i:02d}" for i in range(12)]
LOG = logging.getLogger("test-batch-count-decrease")


def _run(store, batch: str, run_id: str) -> None:
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": batch, "storage_root": store.root, "run_id": run_id})
    outcome = run_batch(cfg, store, LOG, scripted())
    assert outcome.error is None, outcome.error


def test_lowering_the_batch_count_leaves_old_records_stale_not_missing(tmp_path):
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]),
                  batch_count=4)
    for batch in ("000", "001", "002", "003"):
        _run(store, batch, f"run-{batch}-of-4")
    write_manifest(store, Q, assign_batches(Q, FIRMS, 2))  # firm_manifest after FTM_BATCH_COUNT=2
    for batch in ("000", "001"):
        _run(store, batch, f"run-{batch}-of-2")

    state = quarter_commits(store, Q)
    assert state.complete and not state.problems()
    assert sorted(s.record.batch for s in state.stale) == ["002", "003"]  # still reported
    assert sorted(s.record.batch for s in state.outside_manifest) == ["002", "003"]
    assert missing_batches(store, Q) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(read_firm_topics(store, Q, strict=True).firm_id) == FIRMS

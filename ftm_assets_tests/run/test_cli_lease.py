"""`make run` and `make dev` serialise on a partition through its lease (issue 26, scenario 10): a batch whose
partition another run (here one started from the UI) is writing fails at once, the run's output saying so and
naming that run, and nothing of the partition is written."""

from __future__ import annotations

import dagster as dg

from ftm_assets import run as run_cmd
from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.storage import layout, open_storage
from ftm_assets.storage.lease import PartitionLease

QUARTER = "2023Q1"


def test_a_batch_the_ui_is_writing_is_refused_with_a_message_that_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    root = tmp_path / "data"
    env = {"DAGSTER_HOME": str(tmp_path), "FTM_STORAGE_ROOT": str(root), "FTM_DEMO_FIRMS": "2",
           "FTM_BATCH_COUNT": "1", "FTM_LAST_QUARTER": "2023Q4"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FTM_TRANSCRIPT_SOURCE", raising=False)
    store = open_storage(str(root))
    ui_run = PartitionLease(store, QUARTER, "000", "ui-run-1234", token="ui-worker")  # a `make dev` run's worker
    ui_run.acquire()
    try:
        assert run_cmd.main(["--quarters", QUARTER, "--jobs", "1"]) == 1
    finally:
        ui_run.release()
    out = capsys.readouterr().out
    assert "batch 000 FAILED" in out
    assert "is being written by run ui-run-1234" in out and "`make dev`" in out
    assert not store.exists(layout.commit_record(QUARTER, "000"))
    assert not store.list(layout.firm_topics_prefix(QUARTER))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert any(not r.is_success for r in instance.get_runs())

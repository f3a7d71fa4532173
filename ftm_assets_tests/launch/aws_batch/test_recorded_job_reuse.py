"""A recorded Batch job is reused only for the same work (issue 26, scenario 5): re-executing a run lineage after a
settings change, or after its raw transcripts changed, submits a new job instead of reporting the old one's
success; the same settings and inputs still reattach."""

from __future__ import annotations

import uuid

from ftm_assets.storage import open_storage
from ftm_assets_tests.support.scenario_assets import QUARTER, make_client, run_partition
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter


def test_re_execution_with_other_settings_runs_a_new_job(batch_env, make_executor):
    run_id = str(uuid.uuid4())
    executor = make_executor()
    first = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id, sleep_s=0.5)
    assert first.success
    (old_job,) = executor.job_ids()
    # "Re-execute all" of the same run after the settings changed: the recorded job did other work.
    again = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id, sleep_s=0.5,
                          topic_size=9)
    assert again.success
    metadata = again.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["batch_reattached"].value is False
    assert metadata["batch_job_id"].value != old_job
    assert len(executor.job_ids()) == 2  # a worker ran for the new settings


def test_re_execution_with_the_same_settings_still_reports_the_recorded_job(batch_env, make_executor):
    run_id = str(uuid.uuid4())
    executor = make_executor()
    assert run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id, sleep_s=0.5).success
    again = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id, sleep_s=0.5)
    assert again.success
    assert again.get_asset_materialization_events()[0].materialization.metadata["batch_reattached"].value is True
    assert len(executor.job_ids()) == 1


def test_re_execution_after_the_raw_transcripts_changed_runs_a_new_job(tmp_path, batch_env, make_executor):
    """The same settings, other inputs: raw_transcripts was re-materialized with other content since the job ran."""
    root = tmp_path / "root"
    store = open_storage(str(root))
    stage_quarter(store, QUARTER, rows_table(firm_rows(QUARTER, "a", ["First words."])))
    run_id = str(uuid.uuid4())
    executor = make_executor()
    client = make_client(executor, batch_env["bucket"], batch_env)
    assert run_partition(client, run_id=run_id, sleep_s=0.5, storage_root=str(root)).success
    stage_quarter(store, QUARTER, rows_table(firm_rows(QUARTER, "a", ["Other words now."])))
    again = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id, sleep_s=0.5,
                          storage_root=str(root))
    assert again.success
    assert again.get_asset_materialization_events()[0].materialization.metadata["batch_reattached"].value is False
    assert len(executor.job_ids()) == 2

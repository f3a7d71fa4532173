"""Cancellation, restarts and new runs: an orchestrator process cancelled or killed while its Batch job runs,
the step restarted (reattach by the recorded id, by the job's name, through throttling), a new run of the
same partition (reattach or refuse, never a duplicate), and a recorded job that already SUCCEEDED."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3

from ftm_assets_tests.support.scenario_assets import make_client, run_partition, step_error

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def start_orchestrator(tmp_path: Path, batch_env: dict[str, str], scenario: str, run_id: str, **extra) -> subprocess.Popen:
    config = tmp_path / f"orchestrator-{uuid.uuid4().hex[:6]}.json"
    config.write_text(
        json.dumps({"state_dir": str(tmp_path / "batch"), "bucket": batch_env["bucket"], "stack": batch_env,
                    "scenario": scenario, "run_id": run_id, **extra})
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ftm_assets_tests.support.scenario_assets", str(config)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_state(state_dir: Path, predicate, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in state_dir.glob("*/state.json") if state_dir.is_dir() else []:
            state = json.loads(path.read_text())
            if predicate(state):
                return {**state, "job_id": path.parent.name}
        time.sleep(0.1)
    raise AssertionError(f"no job in {state_dir} reached the expected state")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cancelling_the_run_terminates_the_job_and_kills_the_worker(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "hang", run_id)
    try:
        running = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
        orchestrator.send_signal(signal.SIGTERM)  # what Dagster's run termination sends the run worker
        output, _ = orchestrator.communicate(timeout=60)
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    assert "FAILURE" in output
    state = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "FAILED", timeout_s=20)
    assert state["statusReason"] == f"Dagster run {run_id} was cancelled"
    assert state["container"]["exitCode"] == 143
    assert not pid_alive(running["workerPid"])


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_restarted_step_reattaches_to_the_live_job_recorded_for_its_root_run(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "slow", run_id, sleep_s=4.0)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
    finally:
        orchestrator.kill()  # a crash: no cleanup, no terminate
        orchestrator.wait()
    executor = make_executor()
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="slow", run_id=run_id)
    assert result.success
    materializations = result.get_asset_materialization_events()
    assert len(materializations) == 2
    metadata = materializations[0].materialization.metadata
    assert metadata["batch_reattached"].value is True
    assert metadata["batch_job_id"].value == first["job_id"]
    assert [p.name for p in (tmp_path / "batch").iterdir()] == [first["job_id"]]  # nothing resubmitted


def test_restarted_step_finds_its_job_by_name_when_the_id_was_never_recorded(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    # The write that records the job's id hangs; the orchestrator dies there (between SubmitJob and the record).
    orchestrator = start_orchestrator(tmp_path, batch_env, "slow", run_id, sleep_s=4.0, hang_after_submit=True)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
    finally:
        kill(orchestrator)
    key = f"runs/pipes/jobs/{run_id}/firm_partition/000.json"
    record = json.loads(boto3.client("s3").get_object(Bucket=batch_env["bucket"], Key=key)["Body"].read())
    assert record["job_id"] is None and record["job_name"].startswith("ftm-firm_partition-000-")
    executor = make_executor()
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="slow", run_id=run_id)
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["batch_reattached"].value is True and metadata["batch_job_id"].value == first["job_id"]
    assert executor.job_ids() == [first["job_id"]]


def test_job_known_by_name_only_that_succeeded_is_reported_not_run_again(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "success", run_id, hang_after_submit=True)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "SUCCEEDED")
    finally:
        kill(orchestrator)
    executor = make_executor()
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id)
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["batch_job_id"].value == first["job_id"]
    assert executor.job_ids() == [first["job_id"]]


def test_new_run_reattaches_to_a_live_job_of_another_run_with_the_same_settings(tmp_path, batch_env, make_executor):
    other_run = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "slow", other_run, sleep_s=5.0)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
        executor = make_executor()
        result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="slow")
        output, _ = orchestrator.communicate(timeout=60)
    finally:
        kill(orchestrator)
    assert result.success and result.run_id != other_run
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["batch_reattached"].value is True and metadata["batch_job_id"].value == first["job_id"]
    assert executor.job_ids() == [first["job_id"]]  # one job for two runs
    assert "SUCCESS" in output  # the first run saw it through as well


def test_new_run_with_other_settings_refuses_instead_of_submitting_a_duplicate(tmp_path, batch_env, make_executor):
    orchestrator = start_orchestrator(tmp_path, batch_env, "hang", str(uuid.uuid4()))
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
        executor = make_executor()
        result = run_partition(make_client(executor, batch_env["bucket"], batch_env), topic_size=9)
        cls_name, message = step_error(result)
        assert executor.job_ids() == [first["job_id"]]
    finally:
        kill(orchestrator)
        executor.terminate_job(jobId=first["job_id"], reason="test over")
    assert cls_name == "BatchJobConflictError"
    assert first["job_id"] in message and "other settings" in message and "terminate it" in message


def test_recorded_job_that_succeeded_is_reported_not_run_again(batch_env, make_executor):
    run_id = str(uuid.uuid4())
    executor = make_executor()
    first = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id)
    assert first.success
    # The same run lineage again (an orchestrator that died after the job ended, then re-executed).
    again = run_partition(make_client(executor, batch_env["bucket"], batch_env), run_id=run_id)
    assert again.success
    materializations = again.get_asset_materialization_events()
    assert sorted(e.asset_key.to_user_string() for e in materializations) == ["firm_topic_failures", "firm_topics"]
    metadata = materializations[0].materialization.metadata
    assert metadata["batch_reattached"].value is True
    assert executor.job_ids() == [metadata["batch_job_id"].value]  # not resubmitted


def test_throttled_reattach_retries_with_backoff_and_reattaches(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "slow", run_id, sleep_s=5.0)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
    finally:
        kill(orchestrator)
    executor = make_executor(throttle_describe=3)
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="slow", run_id=run_id)
    assert result.success
    assert [c.throttled for c in executor.describe_log[:4]] == [True, True, True, False]
    assert executor.job_ids() == [first["job_id"]]


def test_reattach_that_stays_throttled_fails_loudly_without_a_duplicate(tmp_path, batch_env, make_executor):
    run_id = str(uuid.uuid4())
    orchestrator = start_orchestrator(tmp_path, batch_env, "hang", run_id)
    try:
        first = wait_for_state(tmp_path / "batch", lambda s: s["status"] == "RUNNING")
    finally:
        kill(orchestrator)
    executor = make_executor(throttle_describe=10_000)
    try:
        result = run_partition(
            make_client(executor, batch_env["bucket"], batch_env, reattach_timeout_s=1.0), run_id=run_id
        )
        cls_name, message = step_error(result)
        assert executor.job_ids() == [first["job_id"]]
    finally:
        executor.terminate_job(jobId=first["job_id"], reason="test over")
    assert cls_name == "BatchApiError"
    assert "Not submitting a second job" in message and "TooManyRequests" in message

"""Cancellation and restart: an orchestrator process that is cancelled or killed while its Batch job runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ftm_assets_tests.support.scenario_assets import make_client, run_partition

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


def test_restarted_step_reattaches_to_the_live_job(tmp_path, batch_env, make_executor):
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

"""PipesBatchClient against moto's Batch and S3 with the local executor running a real Pipes worker: every
outcome the client can report (success with its cost, each failure class, each way a report is incomplete)."""

from __future__ import annotations

import json
import random

import boto3
import pytest

from ftm_assets.launch.aws_batch.poller import BatchJobPoller
from ftm_assets.launch.aws_batch.prices import PriceTable
from ftm_assets_tests.support.aws import S3Faults, create_batch_stack
from ftm_assets_tests.support.local_batch_executor import JobFaults
from ftm_assets_tests.support.scenario_assets import QUARTER, make_client, run_partition, step_error


def test_success_reports_materializations_checks_and_job_metadata(batch_env, make_executor):
    executor = make_executor()
    root = f"s3://{batch_env['bucket']}/root"
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), storage_root=root)
    assert result.success
    materializations = result.get_asset_materialization_events()
    assert sorted(e.asset_key.to_user_string() for e in materializations) == ["firm_topic_failures", "firm_topics"]
    metadata = materializations[0].materialization.metadata
    assert metadata["attempt"].value == 1
    assert metadata["batch_attempts"].value == 1
    assert metadata["batch_job_queue"].value == batch_env["job_queue"]
    assert "console.aws.amazon.com/batch" in metadata["batch_console_url"].value
    assert "/aws/batch/job" in metadata["batch_log_stream"].value
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("failure_rate", True)]
    job_id = metadata["batch_job_id"].value
    job = executor.describe_jobs(jobs=[job_id])["jobs"][0]
    running_s = (job["stoppedAt"] - job["startedAt"]) / 1000  # Batch's own clock, in ms
    assert running_s > 0 and metadata["batch_seconds_running"].value == round(running_s, 3)
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(env)
    assert job["tags"]["dagster/partition"] == "000"
    assert job["tags"]["dagster/run-id"] == result.run_id
    assert job["jobName"].startswith("ftm-firm_partition-000-")

    # What it cost: the attempt's host as ECS reports it, Spot from the compute environment, the shipped price.
    record = json.loads(
        boto3.client("s3").get_object(Bucket=batch_env["bucket"], Key=f"root/costs/quarter={QUARTER}/batch_000.json")["Body"].read()
    )
    (attempt,) = record["attempts"]
    spot_price = PriceTable.load().per_hour("g4dn.xlarge", spot=True)
    assert (record["quarter"], record["batch"], record["launcher"]) == (QUARTER, "000", "aws")
    assert (attempt["job_id"], attempt["attempt"]) == (job_id, 1)
    assert (attempt["instance_type"], attempt["spot"], attempt["price_per_hour_usd"]) == ("g4dn.xlarge", True, spot_price)
    assert attempt["running_s"] == pytest.approx(metadata["batch_seconds_running"].value, abs=0.01)
    assert attempt["queued_s"] >= 0.2  # the executor holds every job RUNNABLE for 0.2 s
    assert attempt["cost_usd"] == pytest.approx(spot_price * attempt["running_s"] / 3600, abs=1e-8)
    assert record["cost_usd"] == attempt["cost_usd"]
    assert record["gpu_hours"] == pytest.approx(attempt["running_s"] / 3600, abs=1e-8)  # one GPU requested
    assert record["cpu_seconds"] is None  # Batch does not report it
    assert metadata["cost_usd_estimate"].value == record["cost_usd"]
    assert metadata["cost_instance_type"].value == "g4dn.xlarge" and metadata["cost_spot"].value is True


def test_non_zero_exit_is_an_exit_error_with_code_and_log(batch_env, make_executor):
    result = run_partition(make_client(make_executor(), batch_env["bucket"], batch_env), scenario="exit_nonzero")
    assert not result.success
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobExitError"
    assert "exited with code 3" in message
    assert "simulated worker failure" in message  # the log tail from CloudWatch
    assert "attempt 1: exit code 3" in message


def test_submit_refused_is_a_submit_error_naming_the_queue(batch_env, make_executor):
    env = {**batch_env, "job_queue": "no-such-queue"}
    result = run_partition(make_client(make_executor(), batch_env["bucket"], env))
    cls_name, message = step_error(result)
    assert cls_name == "BatchSubmitError"
    assert "no-such-queue" in message and "ClientException" in message


def test_container_that_never_starts_is_a_start_error_with_its_reason(batch_env, make_executor):
    executor = make_executor(JobFaults(fail_to_start="CannotPullContainerError: pull access denied"))
    cls_name, message = step_error(run_partition(make_client(executor, batch_env["bucket"], batch_env)))
    assert cls_name == "BatchJobStartError"
    assert "CannotPullContainerError: pull access denied" in message


def test_success_without_pipes_messages_is_a_failure(batch_env, make_executor):
    result = run_partition(make_client(make_executor(), batch_env["bucket"], batch_env), scenario="silent")
    assert not result.success
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobReportError"
    assert "never closed the Pipes session" in message
    assert not result.get_asset_materialization_events()


def test_stuck_runnable_job_is_terminated_by_the_watchdog(batch_env, make_executor):
    executor = make_executor(JobFaults(stuck_runnable=True))
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env, runnable_timeout_s=1.0))
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobStuckRunnableError"
    assert "stayed RUNNABLE" in message
    # DescribeComputeEnvironments says the environment is fine: the message names capacity and quotas.
    assert "Compute environments of the queue" in message and "status VALID" in message and "type SPOT" in message
    assert "vCPU quota" in message
    (job_id,) = [p.name for p in executor.state_dir.iterdir()]
    state = executor.state(job_id)
    assert state["status"] == "FAILED"
    assert result.run_id in state["statusReason"]


def test_throttled_describe_jobs_backs_off_measured_from_the_calls(batch_env, make_executor):
    executor = make_executor(throttle_describe=7)
    poller = BatchJobPoller(executor, interval_s=0.1, max_backoff_s=0.8, rng=random.Random(3))
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env, poller=poller))
    assert result.success
    calls = [c.at for c in executor.describe_log]
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:8])]  # after each of the 7 throttled calls
    ceilings = [min(0.8, 0.1 * 2**n) for n in range(7)]  # 0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8
    for gap, ceiling in zip(gaps, ceilings):
        assert ceiling / 2 - 0.01 <= gap <= ceiling + 0.25, (gaps, ceilings)  # jitter in [c/2, c], + call time
    assert gaps[3] > gaps[0] * 2  # they grow ...
    assert max(gaps) <= 0.8 + 0.25  # ... up to the cap
    capped = gaps[3:]
    assert max(capped) - min(capped) > 0.05, capped  # ... and are jittered, not in lockstep


def test_interrupted_first_attempt_is_retried_and_only_the_second_reports(batch_env, make_executor):
    executor = make_executor(JobFaults(interrupt_attempts=[1]))
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="interrupt_first")
    assert result.success
    materializations = result.get_asset_materialization_events()
    assert sorted(e.asset_key.to_user_string() for e in materializations) == ["firm_topic_failures", "firm_topics"]
    for event in materializations:
        metadata = event.materialization.metadata
        assert metadata["attempt"].value == 2  # attempt 1 reported firm_topics before it died: dropped
        assert metadata["batch_attempts"].value == 2


def test_interruption_on_the_last_attempt_is_an_interrupted_error(batch_env, make_executor):
    executor = make_executor(JobFaults(interrupt_attempts=[1, 2]))
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env), scenario="interrupt_always")
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobInterruptedError"
    assert "attempt 1: exit code none, status reason Host EC2" in message
    assert "attempt 2: exit code none, status reason Host EC2" in message
    assert not result.get_asset_materialization_events()


def test_stuck_runnable_names_a_disabled_compute_environment(moto_server, make_executor, batch_env):
    stack = create_batch_stack(moto_server, command=["true"])
    moto_server.client("batch").update_compute_environment(computeEnvironment=stack.compute_environment, state="DISABLED")
    env = {**batch_env, "job_queue": stack.job_queue, "job_definition": stack.job_definition}
    executor = make_executor(JobFaults(stuck_runnable=True))
    cls_name, message = step_error(run_partition(make_client(executor, batch_env["bucket"], env, runnable_timeout_s=0.5)))
    assert cls_name == "BatchJobStuckRunnableError"
    assert "Likely cause: compute environment" in message and "is DISABLED" in message


def test_job_missing_from_describe_jobs_just_after_submit_is_waited_for(batch_env, make_executor):
    executor = make_executor(hide_from_describe_s=1.5)
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env))
    assert result.success
    assert executor.hidden_answers >= 2  # several answers left the job out; none became an error


def test_succeeded_without_an_exit_code_is_not_success(batch_env, make_executor):
    executor = make_executor(JobFaults(omit_exit_code=True))
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env))
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobReportError"
    assert "SUCCEEDED but Batch reports no exit code" in message
    assert not result.get_asset_materialization_events()


def test_pipes_closed_with_an_exception_is_a_report_error(batch_env, make_executor):
    result = run_partition(make_client(make_executor(), batch_env["bucket"], batch_env), scenario="close_with_error")
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobReportError"
    assert "closed Pipes with an error" in message and "model file is corrupt" in message
    assert not result.get_asset_materialization_events()


def test_only_one_of_the_two_assets_reported_is_a_report_error(batch_env, make_executor):
    result = run_partition(make_client(make_executor(), batch_env["bucket"], batch_env), scenario="report_one")
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobReportError"
    assert "did not report firm_topic_failures" in message
    assert not result.get_asset_materialization_events()


def test_job_timeout_terminates_the_job(batch_env, make_executor):
    executor = make_executor()
    client = make_client(executor, batch_env["bucket"], batch_env, job_timeout_s=1.5)
    result = run_partition(client, scenario="slow", sleep_s=20.0)  # would succeed after 20 s
    cls_name, message = step_error(result)
    assert cls_name == "BatchJobTimeoutError"
    assert "did not finish within job_timeout_s=2 s" in message
    (job_id,) = executor.job_ids()
    state = executor.state(job_id)
    assert state["status"] == "FAILED" and result.run_id in state["statusReason"]
    assert state["container"]["exitCode"] == 143  # the worker was stopped, not left running


def test_unreadable_pipes_messages_stop_the_job(batch_env, make_executor):
    executor = make_executor()
    s3 = S3Faults(boto3.client("s3"), deny_list_prefix="runs/pipes/messages/")
    client = make_client(executor, batch_env["bucket"], batch_env, s3_client=s3, message_interval_s=0.1)
    result = run_partition(client, scenario="slow", sleep_s=20.0)
    cls_name, message = step_error(result)
    assert cls_name == "BatchMessageReaderError"
    assert "could not be read" in message and "AccessDenied" in message
    assert s3.denied >= 5  # retried before giving up
    (job_id,) = executor.job_ids()
    assert executor.state(job_id)["status"] == "FAILED"


def test_failed_job_registry_write_after_submit_terminates_the_job(batch_env, make_executor):
    executor = make_executor()
    s3 = S3Faults(boto3.client("s3"), fail_put="/jobs/", after=1)  # the record before SubmitJob goes through
    client = make_client(executor, batch_env["bucket"], batch_env, s3_client=s3)
    result = run_partition(client, scenario="slow", sleep_s=20.0)
    cls_name, message = step_error(result)
    assert cls_name == "BatchSubmitError"
    assert "its id could not be recorded" in message and "InternalError" in message
    (job_id,) = executor.job_ids()
    state = executor.state(job_id)
    assert state["status"] == "FAILED" and "could not be recorded" in state["statusReason"]

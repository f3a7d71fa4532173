"""PipesBatchClient against moto's Batch and S3 with the local executor running a real Pipes worker."""

from __future__ import annotations

from ftm_assets_tests.support.local_batch_executor import JobFaults

from ftm_assets_tests.support.scenario_assets import make_client, run_partition, step_error


def test_success_reports_materializations_checks_and_job_metadata(batch_env, make_executor):
    executor = make_executor()
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env))
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
    (job_id,) = [p.name for p in executor.state_dir.iterdir()]
    state = executor.state(job_id)
    assert state["status"] == "FAILED"
    assert result.run_id in state["statusReason"]


def test_throttled_describe_jobs_backs_off_and_succeeds(batch_env, make_executor):
    executor = make_executor(throttle_describe=3)
    result = run_partition(make_client(executor, batch_env["bucket"], batch_env))
    assert result.success
    assert executor.throttled == 3
    assert len(executor.describe_calls) > 3


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

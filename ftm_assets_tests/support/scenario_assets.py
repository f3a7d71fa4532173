"""The Dagster side of the Batch scenarios: a partitioned multi_asset shaped like firm_topics, run through
``PipesBatchClient``, and the orchestrator entry point the cancellation and restart tests run as a process.
"""


import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import dagster as dg

from ftm_assets.launch.aws_batch import PipesBatchClient
from ftm_assets.worker_config import TopicParams, WorkerConfig
from ftm_assets_tests.support.aws import S3Faults
from ftm_assets_tests.support.local_batch_executor import JobFaults, LocalBatchExecutor

PARTITIONS = dg.StaticPartitionsDefinition(["000", "001"])
JOB_NAME = "batch_partition"


QUARTER = "2024Q4"
# The storage root when a scenario names none: one fixed folder, since the root is part of the settings that
# decide whether a new run may reattach to a live job (a fresh folder per run would make every run "other").
DEFAULT_ROOT = str(Path(tempfile.gettempdir()) / "ftm-batch-scenarios")


class Scenario(dg.Config):
    scenario: str = "success"
    sleep_s: float = 3.0
    storage_root: str = ""  # where the launcher writes the partition's cost record ("": DEFAULT_ROOT)
    topic_size: int = 5  # stands for the worker's settings: another value is another job


@dg.multi_asset(
    specs=[dg.AssetSpec("firm_topics"), dg.AssetSpec("firm_topic_failures")],
    check_specs=[dg.AssetCheckSpec("failure_rate", asset="firm_topic_failures")],
    partitions_def=PARTITIONS,
)
def firm_partition(context: dg.AssetExecutionContext, config: Scenario, batch: dg.ResourceParam[PipesBatchClient]):
    yield from batch.run(
        context=context,
        config=WorkerConfig(
            quarter=QUARTER,
            batch=context.partition_key,
            run_id=context.run_id,
            storage_root=config.storage_root or DEFAULT_ROOT,
            topics=TopicParams(hdbscan_min_cluster_size=config.topic_size),
        ),
        environment={"FAKE_WORKER_SCENARIO": config.scenario, "FAKE_WORKER_SLEEP_S": str(config.sleep_s)},
        gpus=1,
        vcpus=4,
        memory_mib=15000,
    ).get_results()


def run_partition(
    client: PipesBatchClient,
    *,
    scenario: str = "success",
    sleep_s: float = 3.0,
    partition: str = "000",
    run_id: str | None = None,
    storage_root: str = "",
    topic_size: int = 5,
) -> dg.ExecuteInProcessResult:
    job = dg.define_asset_job(JOB_NAME, selection=[firm_partition], partitions_def=PARTITIONS)
    defs = dg.Definitions(assets=[firm_partition], jobs=[job], resources={"batch": client})
    settings = {"scenario": scenario, "sleep_s": sleep_s, "storage_root": storage_root, "topic_size": topic_size}
    config = {"ops": {"firm_partition": {"config": settings}}}
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        run_config=config, partition_key=partition, run_id=run_id, raise_on_error=False
    )


def step_error(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """(class name, message) of the step's failure; the original error, not Dagster's wrapper."""
    failures = result.get_step_failure_events()
    assert failures, "the step did not fail"
    error = failures[0].step_failure_data.error
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.cls_name, error.message


def make_client(
    executor: Any, bucket: str, stack: dict[str, str], *, s3_client: Any = None, **overrides: Any
) -> PipesBatchClient:
    settings: dict[str, Any] = {
        "poll_interval_s": 0.2,
        "message_interval_s": 0.3,
        "runnable_timeout_s": 30.0,
        "terminate_wait_s": 15.0,
        **overrides,
    }
    return PipesBatchClient(
        job_queue=stack["job_queue"],
        job_definition=stack["job_definition"],
        pipes_bucket=bucket,
        pipes_prefix="runs/pipes",
        batch_client=executor,
        s3_client=s3_client or boto3.client("s3"),
        logs_client=boto3.client("logs"),
        ecs_client=boto3.client("ecs"),
        **settings,
    )


def main(config_path: str) -> None:
    """An orchestrator process: what `dagster`'s run worker would be (SIGTERM cancels, as there).

    ``hang_after_submit``: the write that records the submitted job's id hangs, so a test can kill the
    process between SubmitJob and that record (the job is then known by its name only).
    """
    # SIGTERM interrupts as SIGINT does, as in Dagster's run worker (Dagster re-points SIGTERM whenever it
    # replaces the SIGINT handler during a run); the standard library, not Dagster's private helper.
    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
    config = json.loads(Path(config_path).read_text())
    executor = LocalBatchExecutor(boto3.client("batch"), state_dir=Path(config["state_dir"]), faults=JobFaults())
    s3 = S3Faults(boto3.client("s3"), block_put="/jobs/", after=1) if config.get("hang_after_submit") else None
    client = make_client(executor, config["bucket"], config["stack"], s3_client=s3)
    result = run_partition(client, scenario=config["scenario"], sleep_s=config.get("sleep_s", 3.0), run_id=config["run_id"])
    print("SUCCESS" if result.success else "FAILURE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

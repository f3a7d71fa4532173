"""AwsBatchLauncher, the resource asset code sees: launch() runs the partition as a Batch job."""


import dagster as dg

from ftm_assets.launch.launcher import Launcher
from ftm_assets.worker_config import WorkerConfig
from ftm_assets_tests.launch.aws_batch.conftest import batch_env, make_executor  # noqa: F401
from ftm_assets_tests.support.aws import moto_server  # noqa: F401
from ftm_assets_tests.support.local_batch_executor import LocallyExecutedBatchLauncher
from ftm_assets_tests.support.scenario_assets import DEFAULT_ROOT, PARTITIONS


@dg.multi_asset(
    specs=[dg.AssetSpec("firm_topics"), dg.AssetSpec("firm_topic_failures")],
    check_specs=[dg.AssetCheckSpec("failure_rate", asset="firm_topic_failures")],
    partitions_def=PARTITIONS,
)
def firm_topics_via_launcher(context: dg.AssetExecutionContext, launcher: Launcher):
    config = WorkerConfig(quarter="2024Q4", batch=context.partition_key, run_id=context.run_id, storage_root=DEFAULT_ROOT)
    yield from launcher.launch(context, config).get_results()


def test_launch_runs_the_partition_on_batch(tmp_path, batch_env):  # noqa: F811
    launcher = LocallyExecutedBatchLauncher(
        job_queue=batch_env["job_queue"],
        job_definition=batch_env["job_definition"],
        pipes_bucket=batch_env["bucket"],
        pipes_prefix="prefix/pipes",
        poll_interval_s=0.2,
        message_interval_s=0.3,
        gpus=1,
        vcpus=4,
        memory_mib=15000,
        environment={"FAKE_WORKER_SCENARIO": "success"},
        state_dir=str(tmp_path),
    )
    result = dg.materialize([firm_topics_via_launcher], resources={"launcher": launcher}, partition_key="001")
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    job = launcher.make_batch_client().describe_jobs(jobs=[metadata["batch_job_id"].value])["jobs"][0]
    assert job["status"] == "SUCCEEDED"
    assert job["tags"]["dagster/partition"] == "001"

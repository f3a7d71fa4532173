"""Cost records: the shipped price table and its FTM_PRICE_TABLE override, a Batch job's per-attempt costs
(queue waits between attempts, unpriced hosts), and the local launcher's CPU-seconds of a real subprocess."""


import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from ftm_assets.environment import Settings, launcher
from ftm_assets.launch.aws_batch.attempt_costs import batch_cost_record
from ftm_assets.launch.aws_batch.compute import Placement
from ftm_assets.launch.aws_batch.job_state import JobSnapshot
from ftm_assets.launch.aws_batch.prices import PriceTable, PriceTableError
from ftm_assets.launch.cost import AttemptCost, CostRecord
from ftm_assets.launch.local import LocalLauncher
from ftm_assets.storage import layout
from ftm_assets.worker_config import WorkerConfig
from ftm_assets_tests.support.scenario_assets import PARTITIONS

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_shipped_price_table_prices_gpu_instances_spot_below_on_demand():
    table = PriceTable.load()
    for instance_type in ("g4dn.xlarge", "g5.xlarge", "g6.xlarge"):
        on_demand, spot = table.per_hour(instance_type, spot=False), table.per_hour(instance_type, spot=True)
        assert 0 < spot < on_demand
    assert table.per_hour("x9.nonexistent", spot=True) is None
    assert table.per_hour(None, spot=None) is None


def test_price_table_override_is_read_and_bad_tables_name_the_problem(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("# mine\ninstance_type,on_demand_usd_per_hour,spot_usd_per_hour\ng5.xlarge,2.0,0.5\n")
    settings = Settings.from_env({
        "FTM_ENV": "aws", "FTM_STORAGE_ROOT": "s3://b/p", "FTM_BATCH_JOB_QUEUE": "q",
        "FTM_BATCH_JOB_DEFINITION": "d", "FTM_PRICE_TABLE": str(path),
    })
    bound = launcher(settings)
    assert bound.price_table == str(path)
    table = PriceTable.load(bound.price_table)
    assert (table.per_hour("g5.xlarge", spot=False), table.per_hour("g5.xlarge", spot=True)) == (2.0, 0.5)
    assert table.per_hour("g4dn.xlarge", spot=True) is None  # only what the override lists
    path.write_text("instance_type,price\ng5.xlarge,1\n")
    with pytest.raises(PriceTableError, match="lacks the column"):
        PriceTable.load(str(path))
    with pytest.raises(PriceTableError, match="cannot read"):
        PriceTable.load(str(tmp_path / "missing.csv"))


def test_batch_cost_counts_the_wait_between_attempts_and_leaves_unknown_hosts_unpriced():
    arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/abc"
    job = JobSnapshot.from_description({
        "jobId": "job-1", "jobName": "n", "status": "SUCCEEDED", "createdAt": ms(T0),
        "container": {"exitCode": 0, "resourceRequirements": [{"type": "GPU", "value": "2"}]},
        "attempts": [
            {"container": {"containerInstanceArn": arn}, "startedAt": ms(T0 + timedelta(seconds=30)),
             "stoppedAt": ms(T0 + timedelta(seconds=630))},
            {"container": {"containerInstanceArn": "TBD"}, "startedAt": ms(T0 + timedelta(seconds=690)),
             "stoppedAt": ms(T0 + timedelta(seconds=1890))},
        ],
    })
    prices = PriceTable.parse("instance_type,on_demand_usd_per_hour,spot_usd_per_hour\ng5.xlarge,1.0,0.36\n", source="t")
    record = batch_cost_record(
        job, quarter="2024Q4", batch="003", placements={arn: Placement("g5.xlarge", True, "ce")}, prices=prices,
        gpus_requested=1,
    )
    first, second = record.attempts
    assert (first.queued_s, first.running_s, first.cost_usd) == (30.0, 600.0, pytest.approx(0.06))
    assert (second.queued_s, second.running_s) == (60.0, 1200.0)  # queued from the first attempt's stop
    assert (second.instance_type, second.spot, second.cost_usd) == (None, None, None)  # host not reported
    assert record.gpu_hours == pytest.approx(2 * 1800 / 3600)  # the job's 2 GPUs, not the default 1
    assert record.cost_usd == pytest.approx(0.06)  # what could be priced, never a guess for the rest


def test_local_launch_records_the_workers_cpu_seconds(tmp_path):
    @dg.multi_asset(
        specs=[dg.AssetSpec("firm_topics"), dg.AssetSpec("firm_topic_failures")],
        check_specs=[dg.AssetCheckSpec("failure_rate", asset="firm_topic_failures")],
        partitions_def=PARTITIONS,
    )
    def local_partition(context: dg.AssetExecutionContext, launcher: LocalLauncher):
        config = WorkerConfig(
            quarter="2024Q4", batch=context.partition_key, storage_root=str(tmp_path), run_id=context.run_id
        )
        yield from launcher.launch(context, config).get_results()

    worker = LocalLauncher(
        module="ftm_assets_tests.support.fake_worker",
        env={"FAKE_WORKER_SCENARIO": "burn", "FAKE_WORKER_BURN_S": "1.0"},
    )
    result = dg.materialize([local_partition], resources={"launcher": worker}, partition_key="001")
    assert result.success
    record = json.loads((tmp_path / layout.cost_record("2024Q4", "001")).read_text())
    assert (record["quarter"], record["batch"], record["launcher"]) == ("2024Q4", "001", "local")
    assert 1.0 <= record["cpu_seconds"] < 10.0  # the worker's busy second plus its start-up
    assert record["attempts"] == [] and record["gpu_hours"] == 0.0 and record["cost_usd"] is None
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["cost_cpu_seconds"].value == record["cpu_seconds"]
    assert metadata["cost_launcher"].value == "local"


def test_a_cost_record_reads_back_as_written_and_adds_up_per_quarter():
    attempt = AttemptCost("job-1", 1, 12.5, 3600.0, "g5.xlarge", True, 0.5, 0.5)
    aws = CostRecord("2024Q4", "000", "aws", [attempt], gpu_hours=1.0, cpu_seconds=None, cost_usd=0.5)
    local = CostRecord("2024Q4", "001", "local", [], gpu_hours=0.0, cpu_seconds=90.0, cost_usd=None)
    assert CostRecord.from_json(aws.to_json()) == aws and CostRecord.from_json(local.to_json()) == local
    both = CostRecord.combined([aws, local])
    assert (both.gpu_hours, both.cpu_seconds, both.cost_usd) == (1.0, 90.0, 0.5)  # unknown is not zero
    assert both.batch == "000,001" and both.attempts == [attempt]
    unknown = CostRecord.combined([local, CostRecord("2024Q4", "002", "local")])
    assert unknown.cost_usd is None and unknown.cpu_seconds == 90.0


def test_a_record_that_is_not_a_cost_record_says_what_it_should_hold():
    with pytest.raises(ValueError, match="Not a cost record .*quarter, batch, launcher, attempts"):
        CostRecord.from_json('{"quarter": "2024Q4", "batch": "000", "seconds": 1}')

"""A small demo quarter end to end with ``FTM_ENV=aws`` (issue 4): S3 storage and Pipes on a moto server,
each batch partition an AWS Batch job that the local executor runs as the real worker (real model)."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster_pipes import decode_param

from ftm_assets import constants as C
from ftm_assets.batching import batch_keys
from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM
from ftm_assets.readers import commit_records, read_failures, read_firm_topics
from ftm_assets.launch.aws_batch.resource import AwsBatchLauncher
from ftm_assets.storage import S3Storage, open_storage
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401 (session fixture)
from ftm_assets_tests.support.aws_pipeline import (
    aws_settings_env,
    build_aws_test_definitions,
    check_evaluations_by_partition,
    create_worker_stack,
)
from ftm_assets_tests.support.local_batch_executor import LOG_GROUP, LocalBatchExecutor
from ftm_assets_tests.support.pipeline import DemoWithBadFirms, run_quarter

QUARTER = "2024Q4"
BATCHES = batch_keys(2)
GOOD_FIRMS = ["18749", "19691", "21835"]  # the demo's first three real Capital IQ ids
pytestmark = pytest.mark.slow


def partition(batch: str) -> str:
    return str(dg.MultiPartitionKey({QUARTER_DIM: QUARTER, BATCH_DIM: batch}))


@pytest.fixture(scope="module")
def aws_quarter(moto_server, tmp_path_factory):  # noqa: F811
    bucket = create_bucket(moto_server)
    stack = create_worker_stack(moto_server)
    env = aws_settings_env(bucket, stack, batch_count=len(BATCHES), last_quarter=QUARTER)
    state_dir = tmp_path_factory.mktemp("batch-jobs")
    with pytest.MonkeyPatch.context() as mp:
        # The launcher binds queue and job definition as dg.EnvVar: resolved from the process at run time.
        for key, value in env.items():
            mp.setenv(key, value)
        defs, settings, launcher = build_aws_test_definitions(env, DemoWithBadFirms(n_firms=3), state_dir)
        with dg.DagsterInstance.ephemeral() as instance:
            run_quarter(defs, settings, QUARTER, instance)
            yield {
                "server": moto_server, "bucket": bucket, "stack": stack, "settings": settings,
                "launcher": launcher, "instance": instance, "state_dir": state_dir,
            }


def batch_materializations(instance: dg.DagsterInstance, asset: str) -> dict[str, dg.AssetMaterialization]:
    """The latest materialization of ``asset`` per batch partition, from the instance's event log."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100, ascending=True).records
    out = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        out[materialization.partition] = materialization
    return out


def test_settings_bind_s3_and_the_batch_launcher(aws_quarter):
    settings, launcher = aws_quarter["settings"], aws_quarter["launcher"]
    assert settings.env == "aws" and settings.storage_root == f"s3://{aws_quarter['bucket']}/ftm"
    assert isinstance(open_storage(settings.storage_root), S3Storage)
    assert isinstance(launcher, AwsBatchLauncher)
    assert (launcher.pipes_bucket, launcher.pipes_prefix) == (aws_quarter["bucket"], "ftm/pipes")


def test_every_batch_committed_on_s3(aws_quarter):
    root = aws_quarter["settings"].storage_root
    records = commit_records(root, QUARTER)
    assert sorted(r.batch for r in records) == BATCHES
    bucket_keys = {
        o["Key"] for o in aws_quarter["server"].client("s3").list_objects_v2(
            Bucket=aws_quarter["bucket"], Prefix=f"ftm/intermediate/firm-topics/quarter={QUARTER}/"
        ).get("Contents", [])
    }
    named = {f"ftm/{key}" for r in records for key in r.firm_topics_parts}
    assert named and named == bucket_keys  # every committed part is on S3, nothing else is


def test_good_firms_have_topics_bad_firms_have_reasons(aws_quarter):
    root = aws_quarter["settings"].storage_root
    topics = read_firm_topics(root, QUARTER)
    assert sorted(topics.firm_id.unique()) == GOOD_FIRMS
    assert (topics[topics.topic_id >= 0].groupby("firm_id").size() >= 3).all()
    assert (topics.quarter == QUARTER).all()
    failures = read_failures(root, QUARTER)
    assert dict(zip(failures.firm_id, failures.error_class)) == {
        "BAD-EMPTY": "EmptyTranscript", "BAD-SHORT": "InsufficientText",
    }


def test_checks_evaluated_for_both_batch_partitions(aws_quarter):
    evaluations = [
        (key, e) for key, e in check_evaluations_by_partition(aws_quarter["instance"])
        if e.asset_key == dg.AssetKey("firm_topics")  # the quarter summary has checks of its own
    ]
    checks = (C.CHECK_FAILURE_RATE, C.CHECK_ALL_FIRMS, C.CHECK_FIRMS_HAVE_TOPICS)
    assert sorted((e.check_name, key) for key, e in evaluations) == sorted(
        (name, partition(b)) for name in checks for b in BATCHES
    )  # each check once per batch partition
    assert all(e.passed for _, e in evaluations if e.check_name == C.CHECK_ALL_FIRMS)
    rate_checks = {key: e for key, e in evaluations if e.check_name == C.CHECK_FAILURE_RATE}
    failures = read_failures(aws_quarter["settings"].storage_root, QUARTER)
    assert set(failures.outcome) == {"skipped"}  # stub transcripts: too little text, not failures
    assert all(e.passed for e in rate_checks.values())
    assert {k: e.metadata["firms_skipped"].value for k, e in rate_checks.items()} == {
        partition(b): int((failures.batch == b).sum()) for b in BATCHES
    }


def test_materializations_carry_the_batch_job(aws_quarter):
    server, stack = aws_quarter["server"], aws_quarter["stack"]
    executor = LocalBatchExecutor(server.client("batch"), state_dir=aws_quarter["state_dir"])
    logs = server.client("logs")
    topics = batch_materializations(aws_quarter["instance"], "firm_topics")
    failures = batch_materializations(aws_quarter["instance"], "firm_topic_failures")
    assert set(topics) == set(failures) == {partition(b) for b in BATCHES}
    job_ids = set()
    for key, materialization in topics.items():
        meta = {k: v.value for k, v in materialization.metadata.items()}
        job = executor.describe_jobs(jobs=[meta["batch_job_id"]])["jobs"][0]
        assert job["status"] == "SUCCEEDED"
        assert job["tags"]["dagster/partition"] == key.replace("|", "_")  # "|" is not allowed in AWS tags
        assert meta["batch_job_arn"] == job["jobArn"]
        assert meta["batch_job_queue"] == stack.job_queue
        assert meta["batch_attempts"] == 1
        assert meta["batch_console_url"].endswith(f"#jobs/detail/{meta['batch_job_id']}")
        assert meta["batch_log_stream"].startswith(f"{LOG_GROUP}/")
        log_stream = meta["batch_log_stream"][len(LOG_GROUP) + 1 :]
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=log_stream)["events"]
        assert events, f"log stream {meta['batch_log_stream']} is empty"
        assert failures[key].metadata["batch_job_id"].value == meta["batch_job_id"]  # one job, both assets
        job_ids.add(meta["batch_job_id"])
    assert len(job_ids) == len(BATCHES)


def test_pipes_context_and_messages_went_through_s3(aws_quarter):
    bucket, s3 = aws_quarter["bucket"], aws_quarter["server"].client("s3")
    pipes = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ftm/pipes/").get("Contents", [])]
    messages = [k for k in pipes if k.startswith("ftm/pipes/messages/")]
    assert any("/attempt-1/" in k for k in messages), pipes
    assert len([k for k in pipes if k.startswith("ftm/pipes/jobs/")]) == len(BATCHES)  # the job registry
    for spec_path in sorted(aws_quarter["state_dir"].glob("*/spec.json")):
        env = json.loads(spec_path.read_text())["environment"]
        context = decode_param(env["DAGSTER_PIPES_CONTEXT"])
        assert context["bucket"] == bucket and context["key"].startswith("ftm/pipes/context/")
        written = decode_param(env["DAGSTER_PIPES_MESSAGES"])
        assert written["bucket"] == bucket and written["key_prefix"].startswith("ftm/pipes/messages/")
        assert any(k.startswith(f"{written['key_prefix']}/attempt-1/") for k in messages)

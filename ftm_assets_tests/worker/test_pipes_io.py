"""The worker's Pipes channel on S3: each Batch attempt writes under its own attempt-N prefix."""

from __future__ import annotations

from io import StringIO

import pytest

from ftm_assets.worker.pipes_io import (
    PipesS3AttemptMessageWriter,
    attempt_key_prefix,
    batch_attempt,
    parse_attempt_segment,
)
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401


def test_batch_attempt_reads_aws_batch_job_attempt():
    assert batch_attempt({}) == 1
    assert batch_attempt({"AWS_BATCH_JOB_ATTEMPT": "3"}) == 3
    with pytest.raises(ValueError, match="AWS_BATCH_JOB_ATTEMPT"):
        batch_attempt({"AWS_BATCH_JOB_ATTEMPT": "zero"})


def test_attempt_prefix_round_trips():
    assert attempt_key_prefix("pipes/messages/x/", 2) == "pipes/messages/x/attempt-2"
    assert parse_attempt_segment("attempt-12") == 12
    assert parse_attempt_segment("context") is None


def test_writer_puts_chunks_under_the_attempt_prefix(moto_server):  # noqa: F811
    s3 = moto_server.client("s3")
    bucket = create_bucket(moto_server)
    channel = PipesS3AttemptMessageWriter(s3, attempt=2).make_channel({"bucket": bucket, "key_prefix": "p/run"})
    channel.upload_messages_chunk(StringIO('{"method": "log"}'), 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["p/run/attempt-2/1.json"]

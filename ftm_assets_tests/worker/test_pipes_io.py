"""The worker's Pipes channel on S3: each Batch attempt writes under its own attempt-N prefix."""

from __future__ import annotations

from io import StringIO

from ftm_assets.worker.pipes_io import PipesS3AttemptMessageWriter
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401


def test_writer_puts_chunks_under_the_attempt_prefix(moto_server):  # noqa: F811
    s3 = moto_server.client("s3")
    bucket = create_bucket(moto_server)
    channel = PipesS3AttemptMessageWriter(s3, attempt=2).make_channel({"bucket": bucket, "key_prefix": "p/run"})
    channel.upload_messages_chunk(StringIO('{"method": "log"}'), 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["p/run/attempt-2/1.json"]

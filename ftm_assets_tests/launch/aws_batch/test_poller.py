"""The shared DescribeJobs poller: 100 ids per call, backoff on throttling, bounded give-up, unknown jobs
(waited for during a grace period after they are first watched, then an error)."""

from __future__ import annotations

import time

import pytest

from ftm_assets.launch.aws_batch.poller import Backoff, BatchJobPoller
from ftm_assets.launch.aws_batch.errors import BatchApiError
from ftm_assets_tests.support.local_batch_executor import LocalBatchExecutor


class RecordingBatch:
    """Forwards to moto's Batch and remembers how many ids each DescribeJobs carried."""

    def __init__(self, client):
        self.client = client
        self.sizes: list[int] = []

    def describe_jobs(self, *, jobs):
        self.sizes.append(len(jobs))
        return self.client.describe_jobs(jobs=jobs)


def test_one_round_describes_at_most_100_jobs_per_call(moto_server, batch_env):
    batch = moto_server.client("batch")
    ids = [
        batch.submit_job(jobName=f"poll-{i}", jobQueue=batch_env["job_queue"], jobDefinition=batch_env["job_definition"])["jobId"]
        for i in range(130)
    ]
    recording = RecordingBatch(batch)
    poller = BatchJobPoller(recording, interval_s=60)
    with poller._cond:  # register without starting the thread: one synchronous round
        poller._watched.update({job_id: 1 for job_id in ids})
    poller.poll_once()
    assert recording.sizes == [100, 30]
    version, snapshot = poller.wait(ids[-1], timeout_s=0)
    assert version == 1 and snapshot.status == "SUCCEEDED"


def test_throttling_past_the_bounded_slowdown_is_an_api_error(moto_server, tmp_path):
    executor = LocalBatchExecutor(moto_server.client("batch"), state_dir=tmp_path, throttle_describe=10_000)
    poller = BatchJobPoller(executor, interval_s=0.05, max_backoff_s=0.1, give_up_after_s=0.5)
    poller.watch("some-job")
    with pytest.raises(BatchApiError, match="kept failing"):
        for _ in range(50):
            poller.wait("some-job", timeout_s=0.2)
    assert poller.retries >= 3
    poller.unwatch("some-job")


def test_unknown_job_is_waited_for_during_the_grace_then_reported(moto_server):
    poller = BatchJobPoller(moto_server.client("batch"), interval_s=0.05, missing_grace_s=0.6)
    unknown = "00000000-0000-0000-0000-000000000000"
    poller.watch(unknown)
    started = time.monotonic()
    with pytest.raises(BatchApiError, match="has not listed job"):
        for _ in range(50):
            poller.wait(unknown, timeout_s=0.2)
    assert time.monotonic() - started >= 0.6  # not at the first answer that left it out
    poller.unwatch(unknown)


def test_job_left_out_of_early_answers_is_described_once_listed(moto_server, batch_env, tmp_path):
    executor = LocalBatchExecutor(moto_server.client("batch"), state_dir=tmp_path, hide_from_describe_s=0.5)
    job_id = executor.submit_job(jobName="hidden", jobQueue=batch_env["job_queue"], jobDefinition=batch_env["job_definition"])["jobId"]
    poller = BatchJobPoller(executor, interval_s=0.05, missing_grace_s=30)
    poller.watch(job_id)
    try:
        snapshot = None
        for _ in range(100):
            _, snapshot = poller.wait(job_id, timeout_s=0.2)
            if snapshot is not None:
                break
        assert snapshot is not None and snapshot.job_id == job_id
        assert executor.hidden_answers >= 3
    finally:
        poller.unwatch(job_id)
        executor.close()


def test_backoff_grows_is_jittered_and_capped():
    import random

    backoff = Backoff(base_s=1.0, max_s=8.0, rng=random.Random(7))
    delays = [backoff.delay(n) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(4.0 <= d <= 8.0 for d in delays[3:])
    assert len(set(delays)) == len(delays)

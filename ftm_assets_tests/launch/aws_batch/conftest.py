"""Fixtures of the Batch launcher tests: moto server, a bucket and Batch stack, and the local executor."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ftm_assets_tests.support.aws import MotoServer, create_batch_stack, create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.local_batch_executor import JobFaults, LocalBatchExecutor

FAKE_WORKER = "ftm_assets_tests.support.fake_worker"
_stacks: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="session")
def batch_env(moto_server: MotoServer) -> dict[str, str]:  # noqa: F811
    """One bucket and one Batch stack (2 attempts, retrying host terminations) shared by the scenarios."""
    if moto_server.endpoint_url in _stacks:
        return _stacks[moto_server.endpoint_url]
    stack = create_batch_stack(
        moto_server,
        command=[sys.executable, "-m", FAKE_WORKER],
        environment={"PYTHONUNBUFFERED": "1"},
        retry_attempts=2,
    )
    _stacks[moto_server.endpoint_url] = {
        "bucket": create_bucket(moto_server),
        "job_queue": stack.job_queue,
        "job_definition": stack.job_definition,
    }
    return _stacks[moto_server.endpoint_url]


@pytest.fixture
def make_executor(moto_server: MotoServer, tmp_path: Path) -> Iterator[Callable[..., LocalBatchExecutor]]:  # noqa: F811
    made: list[LocalBatchExecutor] = []

    def make(faults: JobFaults | None = None, **api_faults) -> LocalBatchExecutor:
        executor = LocalBatchExecutor(moto_server.client("batch"), state_dir=tmp_path / "batch", faults=faults, **api_faults)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close()

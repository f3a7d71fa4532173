"""``AwsBatchLauncher``: the launcher resource that runs each (quarter, batch) partition as an AWS Batch job.

Bound instead of ``LocalLauncher`` when ``FTM_ENV=aws``; asset code does not change. The boto3 clients are
made once per process (per region and endpoint), so every partition a process runs shares one
DescribeJobs poller.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from pydantic import Field

from ftm_assets.launch.aws_batch.client import PipesBatchClient
from ftm_assets.launch.aws_batch.poller import BatchJobPoller
from ftm_assets.launch.aws_batch.prices import PriceTable
from ftm_assets.launch.launcher import Launcher
from ftm_assets.worker_config import WorkerConfig

_CLIENTS: dict[tuple[str, str | None, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()
# botocore retries a failed call a few times itself; the poller's own backoff covers longer throttling.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


def shared_client(service: str, region_name: str | None, endpoint_url: str | None):
    """One boto3 client per (service, region, endpoint) and process (boto3 clients are thread-safe).

    The key includes AWS_ENDPOINT_URL as it is now: a client made for one endpoint is never handed out
    after the environment moved to another (a test's second moto server, say).
    """
    key = (service, region_name, endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = boto3.client(
                service, region_name=region_name, endpoint_url=endpoint_url, config=_BOTO_CONFIG
            )
        return _CLIENTS[key]


class AwsBatchLauncher(Launcher):
    """The worker as an AWS Batch (GPU) job; Pipes context, messages and the job registry on S3."""

    job_queue: str = Field(description="Batch job queue name or ARN (FTM_BATCH_JOB_QUEUE).")
    job_definition: str = Field(description="Batch job definition name, name:revision or ARN (FTM_BATCH_JOB_DEFINITION).")
    pipes_bucket: str = Field(description="S3 bucket for Pipes context, messages and the job registry.")
    pipes_prefix: str = Field(default="pipes", description="Key prefix under pipes_bucket.")
    region_name: str | None = Field(default=None, description="AWS region (default: the environment's).")
    endpoint_url: str | None = Field(
        default=None, description="Endpoint for Batch, S3 and Logs (default: AWS_ENDPOINT_URL or AWS)."
    )
    gpus: int = Field(default=1, description="GPUs per job (resourceRequirements override; 0: no override).")
    vcpus: int | None = Field(default=None, description="vCPUs per job (default: the job definition's).")
    memory_mib: int | None = Field(default=None, description="Memory per job in MiB (default: the job definition's).")
    runnable_timeout_s: int = Field(default=1800, description="Terminate a job RUNNABLE longer than this.")
    poll_interval_s: float = Field(default=10.0, description="Seconds between DescribeJobs rounds.")
    job_timeout_s: int | None = Field(default=None, description="Terminate a job running longer than this in total.")
    terminate_wait_s: float = Field(default=60.0, description="How long to wait for a terminated job to stop.")
    message_interval_s: float = Field(default=5.0, description="Seconds between reads of Pipes messages on S3.")
    reattach_timeout_s: float = Field(
        default=300.0, description="How long a restarted step retries DescribeJobs for its recorded job before failing."
    )
    environment: dict[str, str] = Field(default={}, description="Extra environment for the job's container.")
    price_table: str | None = Field(
        default=None, description="CSV of hourly instance prices for cost estimates (FTM_PRICE_TABLE; default: shipped)."
    )

    def make_batch_client(self):
        return shared_client("batch", self.region_name, self.endpoint_url)

    def make_client(self) -> PipesBatchClient:
        batch = self.make_batch_client()
        return PipesBatchClient(
            job_queue=self.job_queue,
            job_definition=self.job_definition,
            pipes_bucket=self.pipes_bucket,
            pipes_prefix=self.pipes_prefix,
            batch_client=batch,
            s3_client=shared_client("s3", self.region_name, self.endpoint_url),
            logs_client=shared_client("logs", self.region_name, self.endpoint_url),
            ecs_client=shared_client("ecs", self.region_name, self.endpoint_url),
            poller=BatchJobPoller.shared(batch, interval_s=self.poll_interval_s),
            runnable_timeout_s=self.runnable_timeout_s,
            job_timeout_s=self.job_timeout_s,
            terminate_wait_s=self.terminate_wait_s,
            message_interval_s=self.message_interval_s,
            reattach_timeout_s=self.reattach_timeout_s,
            price_table=PriceTable.load(self.price_table),
        )

    def launch(self, context: dg.AssetExecutionContext, config: WorkerConfig) -> dg.PipesClientCompletedInvocation:
        return self.make_client().run(
            context=context,
            config=config,
            gpus=self.gpus,
            vcpus=self.vcpus,
            memory_mib=self.memory_mib,
            environment=self.environment,
        )

"""Opens the worker's Pipes session with the channel the launcher chose: files locally, S3 on Batch.

The launcher's bootstrap parameters say which: a context or messages location with a ``bucket`` is S3.
On S3 each Batch attempt writes under its own ``attempt-N/`` prefix (``pipes_keys``; the attempt number is
``AWS_BATCH_JOB_ATTEMPT``, set by Batch and read by ``worker.env``), so the launcher can drop what an
interrupted attempt reported before it died.
Only ``dagster_pipes`` and boto3 here: the worker never imports ``dagster``.
"""

from __future__ import annotations

from typing import Any

from dagster_pipes import (
    PipesContext,
    PipesEnvVarParamsLoader,
    PipesParams,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    PipesS3MessageWriterChannel,
    open_dagster_pipes,
)

from ftm_assets.pipes_keys import attempt_key_prefix

# Seconds between message uploads: logs reach Dagster this late at most; the last chunk goes on close.
S3_MESSAGE_INTERVAL_S = 5.0


class NotLaunchedByDagsterError(RuntimeError):
    """The worker was started by hand: it needs the Pipes bootstrap a launcher sets."""


class PipesS3AttemptMessageWriter(PipesS3MessageWriter):
    """S3 message writer that keys chunks by Batch attempt: ``<key_prefix>/attempt-N/<index>.json``."""

    def __init__(self, client: Any, *, attempt: int, interval: float = S3_MESSAGE_INTERVAL_S):
        super().__init__(client, interval=interval)
        self.attempt = attempt

    def make_channel(self, params: PipesParams) -> PipesS3MessageWriterChannel:
        bucket = params.get("bucket")
        key_prefix = params.get("key_prefix")
        if not isinstance(bucket, str) or not isinstance(key_prefix, str):
            raise ValueError(
                f"The Pipes messages parameters {dict(params)!r} need a 'bucket' and a 'key_prefix': "
                "the launcher and the worker image are out of step."
            )
        return PipesS3MessageWriterChannel(
            client=self._client,
            bucket=bucket,
            key_prefix=attempt_key_prefix(key_prefix, self.attempt),
            interval=self.interval,
        )


def open_pipes(*, attempt: int, message_interval_s: float = S3_MESSAGE_INTERVAL_S) -> PipesContext:
    """The worker's Pipes session; ``attempt`` (``WorkerEnv.batch_attempt``) names its S3 message prefix."""
    params_loader = PipesEnvVarParamsLoader()
    if not params_loader.is_dagster_pipes_process():
        raise NotLaunchedByDagsterError(
            "The worker runs under Dagster Pipes: materialize firm_topics from Dagster (make demo, make dev), "
            "which sets DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES."
        )
    context_params = params_loader.load_context_params()
    messages_params = params_loader.load_messages_params()
    context_loader = message_writer = None
    if "bucket" in context_params or "bucket" in messages_params:
        import boto3  # only on S3: the local worker does not need AWS libraries configured

        s3 = boto3.client("s3")
        if "bucket" in context_params:
            context_loader = PipesS3ContextLoader(s3)
        if "bucket" in messages_params:
            message_writer = PipesS3AttemptMessageWriter(s3, attempt=attempt, interval=message_interval_s)
    return open_dagster_pipes(
        params_loader=params_loader, context_loader=context_loader, message_writer=message_writer
    )

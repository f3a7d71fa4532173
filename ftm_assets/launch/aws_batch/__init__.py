"""The AWS Batch side of the launchers: our own Dagster Pipes client for Batch jobs and its parts.

``PipesBatchClient`` runs one Pipes session as one Batch job; ``ftm_assets.launch.aws_batch.resource``
binds it as the ``launcher`` resource when ``FTM_ENV=aws``.
"""

from ftm_assets.launch.aws_batch.client import PipesBatchClient
from ftm_assets.launch.aws_batch.poller import BatchJobPoller
from ftm_assets.launch.aws_batch.errors import (
    BatchApiError,
    BatchJobConflictError,
    BatchJobExitError,
    BatchJobInterruptedError,
    BatchJobReportError,
    BatchJobStartError,
    BatchJobStuckRunnableError,
    BatchJobTimeoutError,
    BatchLaunchError,
    BatchMessageReaderError,
    BatchSubmitError,
)

__all__ = [
    "BatchApiError",
    "BatchJobConflictError",
    "BatchJobExitError",
    "BatchJobInterruptedError",
    "BatchJobPoller",
    "BatchJobReportError",
    "BatchJobStartError",
    "BatchJobStuckRunnableError",
    "BatchJobTimeoutError",
    "BatchLaunchError",
    "BatchMessageReaderError",
    "BatchSubmitError",
    "PipesBatchClient",
]

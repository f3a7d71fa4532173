"""The AWS Batch side of the launchers: our own Dagster Pipes client for Batch jobs and its parts.

``PipesBatchClient`` runs one Pipes session as one Batch job; ``ftm_assets.resources.batch_launcher``
binds it as the ``launcher`` resource when ``FTM_ENV=aws``.
"""

from ftm_assets.launchers.batch_client import PipesBatchClient
from ftm_assets.launchers.batch_poller import BatchJobPoller
from ftm_assets.launchers.errors import (
    BatchApiError,
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

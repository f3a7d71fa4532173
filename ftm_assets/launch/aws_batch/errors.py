"""One error class per way a Batch partition can fail, so a user (and a retry policy) can tell them apart.

Every error names the job and carries Batch's ``statusReason``, the container reason and the exit code of
every attempt, plus the tail of the job's CloudWatch log when it could be read.
"""

from __future__ import annotations

from ftm_assets.launch.aws_batch.job_state import JobSnapshot


class BatchLaunchError(RuntimeError):
    """Base class: a (quarter, batch) partition did not complete on AWS Batch."""

    def __init__(
        self,
        summary: str,
        *,
        job: JobSnapshot | None = None,
        job_id: str | None = None,
        hint: str | None = None,
        log_tail: str | None = None,
    ):
        self.summary = summary
        self.job = job
        self.job_id = job.job_id if job else job_id
        self.status_reason = job.status_reason if job else None
        self.attempts = job.attempts if job else ()
        self.exit_codes = tuple(a.exit_code for a in self.attempts)
        self.hint = hint
        self.log_tail = log_tail
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [self.summary]
        if self.job is not None:
            job = self.job
            lines.append(
                f"Job {job.job_name or '?'} ({job.job_id}) on queue {job.job_queue or '?'}, status {job.status}, "
                f"status reason: {job.status_reason or '-'}; container reason: {job.container_reason or '-'}; "
                f"exit code: {job.exit_code if job.exit_code is not None else 'none'}."
            )
            lines.append(f"Attempts: {job.describe_attempts()}.")
        elif self.job_id:
            lines.append(f"Job id: {self.job_id}.")
        if self.hint:
            lines.append(self.hint)
        if self.log_tail:
            lines.append(f"Last lines of the job's log:\n{self.log_tail}")
        return "\n".join(lines)


class BatchSubmitError(BatchLaunchError):
    """SubmitJob was refused (unknown queue or job definition, bad overrides, missing permission)."""


class BatchJobStartError(BatchLaunchError):
    """The job was accepted but its container never ran (image pull, resource initialisation, secrets)."""


class BatchJobExitError(BatchLaunchError):
    """The worker's container exited with a non-zero code."""


class BatchJobInterruptedError(BatchLaunchError):
    """The host went away (Spot reclaim, instance failure) on the last attempt the retry strategy allowed."""


class BatchJobTimeoutError(BatchLaunchError):
    """The job ran past its time limit (Batch's attempt timeout or the launcher's ``job_timeout_s``)."""


class BatchJobStuckRunnableError(BatchLaunchError):
    """The job sat in RUNNABLE past the watchdog limit: no compute environment could place it."""


class BatchJobReportError(BatchLaunchError):
    """The job ended "successfully" but the worker's Pipes report is incomplete: no success without one."""


class BatchApiError(BatchLaunchError):
    """The Batch API kept failing (throttling or 5xx past the bounded slowdown, or a non-retryable error)."""


class BatchJobConflictError(BatchLaunchError):
    """Another run's job for the same partition is still live and cannot be reattached: never a duplicate."""


class BatchMessageReaderError(BatchLaunchError):
    """Pipes messages could not be read from S3; the job was stopped rather than left unobserved."""

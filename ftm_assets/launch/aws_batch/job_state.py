"""What DescribeJobs says about one AWS Batch job, as a typed snapshot the client and its errors share.

Batch reports a job's outcome in several places (job ``statusReason``, per-attempt ``statusReason``,
container ``reason`` and ``exitCode``); reading them in one place keeps the success rule and the error
messages consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED"})
LIVE_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})
DEFAULT_LOG_GROUP = "/aws/batch/job"
# Batch's own wording for a Spot reclaim or a host that went away ("Host EC2 (instance i-...) terminated.").
HOST_INTERRUPTION_PREFIX = "Host EC2"
ATTEMPT_TIMEOUT_REASON = "Job attempt duration exceeded timeout"


def _instance_arn(value: Any) -> str | None:
    """An ECS container instance ARN, or None (moto without Docker says "TBD")."""
    return value if isinstance(value, str) and value.startswith("arn:") else None


def _time(millis: Any) -> datetime | None:
    if millis in (None, 0):
        return None
    if isinstance(millis, datetime):
        return millis
    return datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)


@dataclass(frozen=True)
class AttemptSummary:
    """One attempt of a job: how it ended, in Batch's own words."""

    number: int
    exit_code: int | None
    container_reason: str | None
    status_reason: str | None
    log_stream: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    container_instance_arn: str | None = None  # the ECS container instance (EC2 host) it ran on

    @property
    def running_s(self) -> float | None:
        if self.started_at and self.stopped_at:
            return max((self.stopped_at - self.started_at).total_seconds(), 0.0)
        return None

    @property
    def was_interrupted(self) -> bool:
        return bool(self.status_reason and self.status_reason.startswith(HOST_INTERRUPTION_PREFIX))

    def describe(self) -> str:
        return (
            f"attempt {self.number}: exit code {self.exit_code if self.exit_code is not None else 'none'}, "
            f"status reason {self.status_reason or '-'!s}, container reason {self.container_reason or '-'!s}, "
            f"log stream {self.log_stream or '-'}"
        )


@dataclass(frozen=True)
class JobSnapshot:
    """A job as one DescribeJobs call saw it."""

    job_id: str
    job_arn: str | None
    job_name: str | None
    status: str
    status_reason: str | None
    job_queue: str | None
    job_definition: str | None
    created_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    exit_code: int | None
    container_reason: str | None
    log_stream: str | None
    log_group: str
    attempts: tuple[AttemptSummary, ...]
    tags: dict[str, str]  # who submitted it: dagster/partition, dagster/step, dagster/root-run-id
    gpus: int | None = None  # resourceRequirements as Batch applied them (job definition + overrides)
    vcpus: float | None = None

    @classmethod
    def from_description(cls, job: dict[str, Any]) -> JobSnapshot:
        container = job.get("container") or {}
        log_options = (container.get("logConfiguration") or {}).get("options") or {}
        requirements = {r.get("type"): r.get("value") for r in container.get("resourceRequirements") or []}
        attempts = tuple(
            AttemptSummary(
                number=i + 1,
                exit_code=(a.get("container") or {}).get("exitCode"),
                container_reason=(a.get("container") or {}).get("reason"),
                status_reason=a.get("statusReason"),
                log_stream=(a.get("container") or {}).get("logStreamName"),
                started_at=_time(a.get("startedAt")),
                stopped_at=_time(a.get("stoppedAt")),
                container_instance_arn=_instance_arn((a.get("container") or {}).get("containerInstanceArn")),
            )
            for i, a in enumerate(job.get("attempts") or [])
        )
        return cls(
            job_id=job["jobId"],
            job_arn=job.get("jobArn"),
            job_name=job.get("jobName"),
            status=job["status"],
            status_reason=job.get("statusReason"),
            job_queue=job.get("jobQueue"),
            job_definition=job.get("jobDefinition"),
            created_at=_time(job.get("createdAt")),
            started_at=_time(job.get("startedAt")),
            stopped_at=_time(job.get("stoppedAt")),
            exit_code=container.get("exitCode"),
            container_reason=container.get("reason"),
            log_stream=container.get("logStreamName"),
            log_group=log_options.get("awslogs-group", DEFAULT_LOG_GROUP),
            attempts=attempts,
            tags=dict(job.get("tags") or {}),
            gpus=int(requirements["GPU"]) if "GPU" in requirements else None,
            vcpus=float(requirements["VCPU"]) if "VCPU" in requirements else container.get("vcpus"),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def final_exit_code(self) -> int | None:
        """The exit code Batch reports for the job, else for its last attempt (None: Batch reported none)."""
        if self.exit_code is not None:
            return self.exit_code
        return self.attempts[-1].exit_code if self.attempts else None

    @property
    def final_attempt(self) -> int:
        """The attempt whose Pipes messages count: the last one Batch started (1 when none is listed)."""
        return max(len(self.attempts), 1)

    @property
    def seconds_queued(self) -> float | None:
        if self.created_at and self.started_at:
            return max((self.started_at - self.created_at).total_seconds(), 0.0)
        return None

    @property
    def seconds_running(self) -> float | None:
        if self.started_at and self.stopped_at:
            return max((self.stopped_at - self.started_at).total_seconds(), 0.0)
        return None

    def describe_attempts(self) -> str:
        if not self.attempts:
            return "no attempt started"
        return "; ".join(a.describe() for a in self.attempts)

"""Where a launched job is recorded, so a restarted step reattaches to it instead of submitting a duplicate.

The record is an S3 object keyed by (Dagster root run id, step, partition), next to the Pipes traffic:
- S3 is strongly consistent: a record written before the crash is read back after it. ListJobs is not
  (a just-submitted job can be missing from it), pages through the whole queue, and cannot filter by tag.
- The record also holds the job's Pipes message prefix, which a reattaching step must read from; Batch
  tags could not carry that without a DescribeJobs per candidate.
- The record is written twice: before SubmitJob (the job name it will have) and right after (its id).
  A crash between the two leaves a name without an id; the job is then found by ListJobs on that name.

The root run id, not the run id: a re-execution of a crashed run (a new run id, same root) also reattaches.
A new run of the partition (another root) finds a live job by its name prefix instead (``job_name_prefix``
and the job's ``dagster/*`` tags), and reads that run's record for the message prefix.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from botocore.exceptions import ClientError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str, max_len: int = 64) -> str:
    """``text`` with anything but letters, digits, ``_`` and ``-`` replaced: safe in S3 keys and job names."""
    return _UNSAFE.sub("-", text).strip("-")[:max_len] or "none"


@dataclass(frozen=True)
class JobIdentity:
    """What makes two launches "the same": one step of one run lineage, for one partition."""

    root_run_id: str
    run_id: str
    step: str
    partition: str

    def key(self) -> str:
        return f"{self.root_run_id}/{slug(self.step)}/{slug(self.partition)}"

    def job_name_prefix(self) -> str:
        """What every job of this step and partition is named with, whichever run submitted it."""
        return f"ftm-{slug(self.step, 40)}-{slug(self.partition, 40)}-"

    def job_name(self) -> str:
        """Deterministic and readable in the Batch console (<=128 characters of [A-Za-z0-9_-])."""
        return f"{self.job_name_prefix()}{self.root_run_id[:8]}"[:128]

    def of_root_run(self, root_run_id: str) -> JobIdentity:
        """The same step and partition as launched by another run lineage."""
        return JobIdentity(root_run_id=root_run_id, run_id=root_run_id, step=self.step, partition=self.partition)


@dataclass(frozen=True)
class JobRecord:
    job_name: str
    message_prefix: str
    run_id: str
    job_queue: str
    settings: str = ""  # fingerprint of what the worker was told (extras without the run id)
    job_id: str | None = None
    job_arn: str | None = None
    recorded_at: str = ""

    def with_job(self, job_id: str, job_arn: str | None) -> JobRecord:
        return JobRecord(**{**asdict(self), "job_id": job_id, "job_arn": job_arn, "recorded_at": _now()})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class S3JobRegistry:
    def __init__(self, *, client, bucket: str, prefix: str):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, identity: JobIdentity) -> str:
        return f"{self.prefix}/jobs/{identity.key()}.json"

    def lookup(self, identity: JobIdentity) -> JobRecord | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(identity))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        data = json.loads(body)
        return JobRecord(**{k: data.get(k) for k in JobRecord.__dataclass_fields__ if k in data})

    def record(self, identity: JobIdentity, record: JobRecord) -> None:
        record = record if record.recorded_at else JobRecord(**{**asdict(record), "recorded_at": _now()})
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(identity),
            Body=json.dumps(asdict(record), indent=1).encode("utf-8"),
            ContentType="application/json",
        )

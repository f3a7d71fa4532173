"""Before submitting a partition's job: is there one to follow instead? Never a silent duplicate.

1. This run lineage's recorded job (``job_registry``), when it was given this launch's settings (what the worker
   is told and the versions of the inputs it reads, ``settings_fingerprint``): reattach while
   it is live; report it when it already SUCCEEDED and its messages are there (its output is committed:
   running it again would retract it). A recorded job given other settings (a re-execution after a settings
   change) is never reported as this launch's work: a live one is refused (BatchJobConflictError), an ended
   one is left for a new job.
2. Otherwise a live job of another run for the same step and partition (ListJobs on the queue by the name
   prefix, confirmed by the job's ``dagster/*`` tags): reattach when it was given the same settings, refuse
   (``BatchJobConflictError``) when not, or when its Pipes record is gone.

A recorded job's state is asked directly, with backoff on throttling, and an unknown state fails loudly:
guessing "gone" is what submits duplicates.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ftm_assets.launch.aws_batch.errors import BatchApiError, BatchJobConflictError, BatchSubmitError
from ftm_assets.launch.aws_batch.job_registry import JobIdentity, JobRecord, S3JobRegistry
from ftm_assets.launch.aws_batch.job_state import LIVE_STATUSES, JobSnapshot
from ftm_assets.launch.aws_batch.links import console_url
from ftm_assets.launch.aws_batch.poller import BatchJobPoller, is_retryable
from ftm_assets.pipes_keys import attempt_key_prefix
from ftm_assets.storage import StorageError, layout, open_storage
from ftm_assets.storage.raw_inputs import raw_transcripts_versions

_TAG_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")


def aws_tag(value: str) -> str:
    """``value`` with characters AWS tags refuse replaced (``|`` in partition keys, say), at most 256 long."""
    return _TAG_UNSAFE.sub("_", value)[:256]


def settings_fingerprint(extras: Mapping[str, Any]) -> str:
    """What the worker is told, minus the run id, and the versions of the inputs it will read (the quarter's
    manifest and raw transcripts): two launches with the same fingerprint do the same work."""
    told = {k: v for k, v in extras.items() if k != "run_id"}
    text = json.dumps({**told, "inputs": inputs_identity(extras)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def inputs_identity(extras: Mapping[str, Any]) -> dict[str, str] | None:
    """Storage versions (content hashes or ETags) of the quarter's manifest and raw transcripts, so a job that
    read other inputs (``raw_transcripts`` re-materialized since) is not taken for this launch's work."""
    root, quarter = extras.get("storage_root"), extras.get("quarter")
    if not root or not quarter:
        return None
    try:
        store = open_storage(str(root))
        return {**store.versions(layout.manifest(str(quarter))), **raw_transcripts_versions(store, str(quarter))}
    except StorageError as exc:  # the worker reports an unreadable root with what to do; here it only differs
        return {"unreadable": str(exc)}


def _age_s(iso_time: str) -> float:
    """Seconds since an ISO timestamp (a record without one counts as old)."""
    try:
        then = datetime.fromisoformat(iso_time)
    except (TypeError, ValueError):
        return float("inf")
    return (datetime.now(timezone.utc) - then).total_seconds()


class ExistingJobFinder:
    """Finds the job a launch should follow; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        batch,
        s3,
        registry: S3JobRegistry,
        poller: BatchJobPoller,
        job_queue: str,
        pipes_bucket: str,
        region: str,
        reattach_timeout_s: float,
    ):
        self.batch = batch
        self.s3 = s3
        self.registry = registry
        self.poller = poller
        self.job_queue = job_queue
        self.pipes_bucket = pipes_bucket
        self.region = region
        self.reattach_timeout_s = reattach_timeout_s

    def find(self, context: AnyContext, identity: JobIdentity, settings: str) -> JobRecord | None:
        """The job this launch should follow instead of submitting one (with its id), or None to submit.

        1. This run lineage's recorded job: reattach while it is live; report it when it already SUCCEEDED
           and its messages are there (its output is committed: running it again would retract it).
        2. Otherwise a live job of another run for the same step and partition (ListJobs by name prefix,
           confirmed by its tags): reattach when it does the same work, else refuse (BatchJobConflictError).
        """
        record = self.registry.lookup(identity)
        if record is not None and record.settings != settings:
            return self._recorded_with_other_settings(context, identity, record, settings)
        if record is not None:
            job_id = record.job_id or self._find_by_name(record)
            snapshot = self.describe_now(job_id, recorded_at=record.recorded_at) if job_id else None
            if snapshot is not None and job_id:
                if snapshot.is_live:
                    context.log.info(f"[batch] reattaching to live job {record.job_name} ({job_id}) of this run")
                    return record.with_job(job_id, snapshot.job_arn)
                if snapshot.status == "SUCCEEDED" and self._has_messages(record.message_prefix, snapshot.final_attempt):
                    context.log.info(
                        f"[batch] job {record.job_name} ({job_id}) of this run already SUCCEEDED: reporting its "
                        "result instead of running the partition again"
                    )
                    return record.with_job(job_id, snapshot.job_arn)
            context.log.info(
                f"[batch] job {job_id or record.job_name} recorded for this step is not one to follow "
                f"({snapshot.status if snapshot else 'unknown to Batch'})"
            )
        return self._find_live_job_of_another_run(context, identity, settings)

    def _recorded_with_other_settings(self, context: AnyContext, identity: JobIdentity, record: JobRecord,
                                      settings: str) -> JobRecord | None:
        """This lineage's recorded job did other work: refuse while it runs, else submit a new job."""
        job_id = record.job_id or self._find_by_name(record)
        snapshot = self.describe_now(job_id, recorded_at=record.recorded_at) if job_id else None
        if snapshot is not None and snapshot.is_live:
            where = console_url(self.region, job_id)
            raise BatchJobConflictError(
                f"Job {record.job_name} ({job_id}) recorded for this step is still {snapshot.status} for partition "
                f"{identity.partition} with other settings than this launch's (settings {record.settings or '?'} "
                f"vs {settings}); a second job would race it for the same output.",
                job=snapshot,
                hint=f"Wait for it to end, or terminate it ({where}), then materialize again.",
            )
        context.log.info(
            f"[batch] job {job_id or record.job_name} recorded for this step was given other settings "
            f"({record.settings or 'unrecorded'} vs {settings}): submitting a new job instead of reporting it"
        )
        return self._find_live_job_of_another_run(context, identity, settings)

    def _find_live_job_of_another_run(
        self, context: AnyContext, identity: JobIdentity, settings: str
    ) -> JobRecord | None:
        try:
            named = self._list_jobs_named(identity.job_name_prefix() + "*")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise BatchSubmitError(
                f"AWS Batch refused to list the jobs of queue {self.job_queue} (to find a live job of this "
                f"partition before submitting one): {error.get('Code', 'error')}: {error.get('Message', exc)}",
                hint="Check FTM_BATCH_JOB_QUEUE, the region, and batch:ListJobs permission of the Dagster role.",
            ) from exc
        live = [job for job in named if job.get("status") in LIVE_STATUSES]
        if not live:
            return None
        described = self.batch.describe_jobs(jobs=[j["jobId"] for j in live[:100]]).get("jobs", [])
        for job in (JobSnapshot.from_description(d) for d in described):
            if not job.is_live or job.tags.get("dagster/partition") != aws_tag(identity.partition) or job.tags.get(
                "dagster/step"
            ) != aws_tag(identity.step):
                continue
            root = job.tags.get("dagster/root-run-id", "")
            other = self.registry.lookup(identity.of_root_run(root)) if root else None
            where = console_url(self.region, job.job_id)
            if other is None or not other.message_prefix:
                raise BatchJobConflictError(
                    f"Job {job.job_name} ({job.job_id}) of run {root or '?'} is still {job.status} for partition "
                    f"{identity.partition}, and its Pipes record is gone, so it cannot be reattached.",
                    job=job,
                    hint=f"Wait for it to end, or terminate it ({where}), then materialize again.",
                )
            if other.settings != settings:
                raise BatchJobConflictError(
                    f"Job {job.job_name} ({job.job_id}) of run {root} is still {job.status} for partition "
                    f"{identity.partition} with other settings than this run's; a second job would race it "
                    "for the same output.",
                    job=job,
                    hint=f"Wait for it to end, or terminate it ({where}), then materialize again.",
                )
            context.log.info(
                f"[batch] reattaching to live job {job.job_name} ({job.job_id}) of run {root}: same partition "
                "and settings, so it does this run's work"
            )
            reattached = other.with_job(job.job_id, job.job_arn)
            self.registry.record(identity, reattached)  # a re-execution of this run finds it directly
            return reattached
        return None

    def _list_jobs_named(self, name: str) -> list[dict[str, Any]]:
        """ListJobs on the queue with a JOB_NAME filter (a trailing ``*`` matches a prefix), every page."""
        jobs: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"jobQueue": self.job_queue, "filters": [{"name": "JOB_NAME", "values": [name]}]}
        while True:
            response = self.batch.list_jobs(**kwargs)
            jobs.extend(response.get("jobSummaryList", []))
            if not response.get("nextToken"):
                return jobs
            kwargs["nextToken"] = response["nextToken"]

    def _find_by_name(self, record: JobRecord) -> str | None:
        """The job submitted by a step that crashed before recording its id (ListJobs, newest first)."""
        jobs = sorted(self._list_jobs_named(record.job_name), key=lambda j: j.get("createdAt", 0), reverse=True)
        return jobs[0]["jobId"] if jobs else None

    def _has_messages(self, message_prefix: str, attempt: int) -> bool:
        prefix = f"{attempt_key_prefix(message_prefix, attempt)}/"
        return bool(self.s3.list_objects_v2(Bucket=self.pipes_bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0))

    def describe_now(self, job_id: str, *, recorded_at: str) -> JobSnapshot | None:
        """The recorded job's state, asked directly; None only when Batch does not know the job.

        Throttling and 5xx are retried with the poller's jittered backoff for ``reattach_timeout_s``, then
        raised: guessing "gone" would submit a duplicate. A job missing from the answer is waited for while
        its record is younger than the poller's ``missing_grace_s`` (Batch omits just-submitted jobs).
        """
        started = time.monotonic()
        grace_left = self.poller.missing_grace_s - _age_s(recorded_at)
        failures, last_error = 0, None
        while True:
            try:
                jobs = self.batch.describe_jobs(jobs=[job_id]).get("jobs", [])
                if jobs:
                    return JobSnapshot.from_description(jobs[0])
                if time.monotonic() - started >= grace_left:
                    return None
            except Exception as exc:
                if not is_retryable(exc):
                    raise BatchApiError(
                        f"DescribeJobs refused to describe job {job_id}, recorded for this partition: {exc}. "
                        "Not submitting another job while its state is unknown.",
                        job_id=job_id,
                        hint="Check the credentials, region and batch:DescribeJobs permission of the Dagster role.",
                    ) from exc
                last_error = exc
            failures += 1
            waited = time.monotonic() - started
            if last_error is not None and waited >= self.reattach_timeout_s:
                raise BatchApiError(
                    f"Could not learn whether job {job_id}, recorded for this partition, is still running: "
                    f"DescribeJobs kept failing for {waited:.0f} s ({failures} tries), last with: {last_error}. "
                    "Not submitting a second job for the same partition.",
                    job_id=job_id,
                    hint="Batch is throttling this account: retry the run later, or raise reattach_timeout_s.",
                ) from last_error
            time.sleep(self.poller.backoff.delay(failures))

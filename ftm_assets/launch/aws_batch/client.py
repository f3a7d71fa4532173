"""``PipesBatchClient``: runs one Dagster Pipes session as one AWS Batch job and reports it back honestly.

dagster-aws has Pipes clients for ECS, EMR, Glue and Lambda, none for Batch. This one follows their shape
(injectable boto3 clients, context injector and reader; keyword-only ``run``) and handles what users of
Batch launchers complain about:

- context and messages go through S3 (CloudWatch's API is rate-limited account-wide); the log stream is
  linked, and its tail is quoted in failures;
- one shared DescribeJobs poller per process, with jittered backoff on throttling and 5xx;
- success means SUCCEEDED, exit code 0, the worker closed Pipes and every selected asset reported;
- each failure mode has its own error class, carrying what Batch said about every attempt;
- the job is terminated (with a reason naming the Dagster run) whenever Dagster stops watching it;
- the job id is recorded right after submission (inside the terminate guard); a restarted step reattaches
  instead of resubmitting, a new run of the partition finds a live job by its name prefix and reattaches or
  refuses, and a recorded job that already SUCCEEDED is reported, not run again;
- messages are keyed by attempt, so an interrupted attempt's partial report is dropped;
- what the job cost (per attempt: queued and running seconds, instance type, Spot, estimated price) goes to
  the metadata and to ``costs/quarter=<q>/batch_<b>.json`` in the storage root.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.pipes import PipesS3ContextInjector

from ftm_assets.launch.aws_batch.attempt_costs import batch_cost_record
from ftm_assets.launch.aws_batch.compute import attempt_placements, runnable_diagnosis
from ftm_assets.launch.aws_batch.existing_job import ExistingJobFinder, aws_tag, settings_fingerprint
from ftm_assets.launch.aws_batch.links import console_url, log_stream_url
from ftm_assets.launch.aws_batch.poller import BatchJobPoller
from ftm_assets.launch.aws_batch.prices import PriceTable
from ftm_assets.launch.cost import write_cost_record
from ftm_assets.launch.launcher import AnyContext
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.launch.aws_batch.errors import (
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
from ftm_assets.launch.aws_batch.job_registry import JobIdentity, JobRecord, S3JobRegistry
from ftm_assets.launch.aws_batch.job_state import (
    ATTEMPT_TIMEOUT_REASON,
    HOST_INTERRUPTION_PREFIX,
    JobSnapshot,
)
from ftm_assets.launch.aws_batch.message_reader import PipesS3AttemptMessageReader

TERMINATE_REASON_MAX = 250


class PipesBatchClient(dg.PipesClient):
    """A Dagster Pipes client that runs the external process as an AWS Batch job.

    Args:
        job_queue, job_definition: where and what to run (name or ARN).
        pipes_bucket, pipes_prefix: S3 location for Pipes context, messages and the job registry.
        batch_client, s3_client, logs_client: boto3 clients (default: from the environment, which
            honours ``AWS_ENDPOINT_URL``).
        poll_interval_s: seconds between DescribeJobs rounds of the shared poller.
        runnable_timeout_s: watchdog: a job RUNNABLE this long is terminated (no capacity placed it).
        job_timeout_s: terminate the job after this many seconds in total (None: Batch's own timeout only).
        terminate_wait_s: how long to wait for a terminated job to reach a terminal state.
        message_interval_s: seconds between reads of the S3 message location while the job runs.
        forward_termination: terminate the job when the Dagster run is cancelled (default True).
        reattach_timeout_s: how long to retry DescribeJobs (with backoff) for a recorded job before failing
            loudly rather than guessing it is gone and submitting a duplicate.
        ecs_client: boto3 ECS client, for the instance type an attempt ran on (cost records).
        price_table: hourly prices for the cost estimate (default: the shipped table).
    """

    def __init__(
        self,
        *,
        job_queue: str,
        job_definition: str,
        pipes_bucket: str,
        pipes_prefix: str = "pipes",
        batch_client=None,
        s3_client=None,
        logs_client=None,
        ecs_client=None,
        poller: BatchJobPoller | None = None,
        poll_interval_s: float = 10.0,
        runnable_timeout_s: float = 1800.0,
        job_timeout_s: float | None = None,
        terminate_wait_s: float = 60.0,
        message_interval_s: float = 5.0,
        forward_termination: bool = True,
        reattach_timeout_s: float = 300.0,
        price_table: PriceTable | None = None,
    ):
        self.job_queue = job_queue
        self.job_definition = job_definition
        self.pipes_bucket = pipes_bucket
        self.pipes_prefix = pipes_prefix.strip("/")
        self.batch = batch_client or boto3.client("batch")
        self.s3 = s3_client or boto3.client("s3")
        self.logs = logs_client or boto3.client("logs")
        self.ecs = ecs_client or boto3.client("ecs")
        self.poller = poller or BatchJobPoller.shared(self.batch, interval_s=poll_interval_s)
        self.runnable_timeout_s = runnable_timeout_s
        self.job_timeout_s = job_timeout_s
        self.terminate_wait_s = terminate_wait_s
        self.message_interval_s = message_interval_s
        self.forward_termination = forward_termination
        self.reattach_timeout_s = reattach_timeout_s
        self.price_table = price_table or PriceTable.load()
        self.registry = S3JobRegistry(client=self.s3, bucket=pipes_bucket, prefix=self.pipes_prefix)
        self.finder = ExistingJobFinder(
            batch=self.batch, s3=self.s3, registry=self.registry, poller=self.poller, job_queue=job_queue,
            pipes_bucket=pipes_bucket, region=self.region, reattach_timeout_s=reattach_timeout_s,
        )

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    @property
    def region(self) -> str:
        return self.batch.meta.region_name or "us-east-1"

    def run(  # type: ignore[override]
        self,
        *,
        context: AnyContext,
        config: WorkerConfig,
        gpus: int = 1,
        vcpus: int | None = None,
        memory_mib: int | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        """Submit (or reattach to) the partition's job, wait for it, and return its checked Pipes report."""
        extras = config.to_extras()
        identity = self._identity(context)
        settings = settings_fingerprint(extras)
        existing = self.finder.find(context, identity, settings)
        message_prefix = (
            existing.message_prefix
            if existing
            else f"{self.pipes_prefix}/messages/{identity.key()}/{uuid.uuid4().hex[:12]}"
        )
        reader = PipesS3AttemptMessageReader(
            bucket=self.pipes_bucket, key_prefix=message_prefix, client=self.s3, interval_s=self.message_interval_s
        )
        injector = PipesS3ContextInjector(
            bucket=self.pipes_bucket, client=self.s3, key_prefix=f"{self.pipes_prefix}/context/{identity.key()}/"
        )
        with dg.open_pipes_session(
            context=context, message_reader=reader, context_injector=injector, extras=extras
        ) as session:
            if existing is not None and existing.job_id:
                job_id = existing.job_id
                submitted = None
            else:
                submitted = self._submit(
                    context, session, identity, message_prefix, settings,
                    gpus=gpus, vcpus=vcpus, memory_mib=memory_mib, environment=environment, tags=tags,
                )
                job_id = submitted.job_id or ""
            self.poller.watch(job_id)
            try:
                with self._terminate_on_error(context, identity, job_id):
                    if submitted is not None:
                        # Inside the guard: a job whose id could not be recorded is stopped, not orphaned.
                        self._record_submitted(identity, submitted)
                    snapshot = self._wait(context, job_id, reader)
                reader.finish(snapshot.final_attempt)
                metadata = {
                    **self._metadata(snapshot, reattached=existing is not None),
                    **self._cost(context, snapshot, config, gpus),
                }
                if snapshot.status != "SUCCEEDED":
                    raise self._failure(snapshot)
                self._check_report(context, session, reader, snapshot)
            finally:
                self.poller.unwatch(job_id)
        context.log.info(f"[batch] job {job_id} succeeded: {console_url(self.region, job_id)}")
        return dg.PipesClientCompletedInvocation(session, metadata=metadata)

    # -- identity and reattach -------------------------------------------------------------------

    @staticmethod
    def _identity(context: AnyContext) -> JobIdentity:
        run = context.run
        partition = context.partition_key if context.has_partition_key else "unpartitioned"
        return JobIdentity(
            root_run_id=run.root_run_id or run.run_id,
            run_id=run.run_id,
            step=context.op_def.name,
            partition=partition,
        )

    def _record_submitted(self, identity: JobIdentity, record: JobRecord) -> None:
        try:
            self.registry.record(identity, record)
        except Exception as exc:
            raise BatchSubmitError(
                f"Job {record.job_name} ({record.job_id}) was submitted, but its id could not be recorded in "
                f"s3://{self.pipes_bucket}/{self.pipes_prefix}/jobs/ ({exc}); it is terminated rather than left "
                "running where a restarted step could not find it.",
                job_id=record.job_id,
                hint="Check s3:PutObject on the Pipes prefix for the Dagster role.",
            ) from exc

    # -- launch ----------------------------------------------------------------------------------

    def _submit(
        self,
        context: AnyContext,
        session: dg.PipesSession,
        identity: JobIdentity,
        message_prefix: str,
        settings: str,
        *,
        gpus: int,
        vcpus: int | None,
        memory_mib: int | None,
        environment: Mapping[str, str] | None,
        tags: Mapping[str, str] | None,
    ) -> JobRecord:
        """SubmitJob; returns the record with the job's id, for the caller to write inside its terminate guard."""
        job_name = identity.job_name()
        record = JobRecord(
            job_name=job_name,
            message_prefix=message_prefix,
            run_id=identity.run_id,
            job_queue=self.job_queue,
            settings=settings,
        )
        # Recorded before SubmitJob too: a crash between the two still lets a restart find the job by name.
        self.registry.record(identity, record)
        env = {**(environment or {}), **session.get_bootstrap_env_vars()}
        requirements = [
            {"type": kind, "value": str(value)}
            for kind, value in (("GPU", gpus or None), ("VCPU", vcpus), ("MEMORY", memory_mib))
            if value
        ]
        overrides: dict[str, Any] = {"environment": [{"name": k, "value": v} for k, v in env.items()]}
        if requirements:
            overrides["resourceRequirements"] = requirements
        job_tags = {
            **{k: aws_tag(v) for k, v in session.default_remote_invocation_info.items()},
            "dagster/run-id": identity.run_id,
            "dagster/root-run-id": identity.root_run_id,
            "dagster/step": aws_tag(identity.step),
            "dagster/partition": aws_tag(identity.partition),
            "dagster/assets": aws_tag(",".join(k.to_user_string() for k in self._expected_assets(context))),
            **{k: aws_tag(v) for k, v in (tags or {}).items()},
        }
        try:
            response = self.batch.submit_job(
                jobName=job_name,
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                containerOverrides=overrides,
                tags=job_tags,
                propagateTags=True,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise BatchSubmitError(
                f"AWS Batch refused to submit {job_name} to queue {self.job_queue} with job definition "
                f"{self.job_definition}: {error.get('Code', 'error')}: {error.get('Message', exc)}",
                hint="Check FTM_BATCH_JOB_QUEUE / FTM_BATCH_JOB_DEFINITION, the region, and batch:SubmitJob "
                "and batch:TagResource permissions of the Dagster role.",
            ) from exc
        job_id = response["jobId"]
        context.log.info(
            f"[batch] submitted {job_name} ({job_id}) to {self.job_queue}: {console_url(self.region, job_id)}"
        )
        return record.with_job(job_id, response.get("jobArn"))

    # -- wait ------------------------------------------------------------------------------------

    @contextmanager
    def _terminate_on_error(self, context: AnyContext, identity: JobIdentity, job_id: str) -> Iterator[None]:
        """Whenever Dagster stops following the job early (cancel, error, crash of this code), terminate it."""
        try:
            yield
        except dg.DagsterExecutionInterruptedError:
            if self.forward_termination:
                context.log.warning(f"[batch] Dagster run interrupted: terminating job {job_id}")
                self._terminate(context, job_id, f"Dagster run {identity.run_id} was cancelled")
            raise
        except BatchLaunchError as exc:
            self._terminate(context, job_id, f"Dagster run {identity.run_id}: {exc.summary}")
            raise
        except BaseException as exc:
            self._terminate(context, job_id, f"Dagster run {identity.run_id} stopped waiting: {type(exc).__name__}")
            raise

    def _wait(self, context: AnyContext, job_id: str, reader: PipesS3AttemptMessageReader) -> JobSnapshot:
        version, last_status, runnable_since, logged_stream = 0, None, None, None
        started = time.monotonic()
        while True:
            if reader.error is not None:
                raise BatchMessageReaderError(
                    f"Pipes messages of job {job_id} could not be read from "
                    f"s3://{reader.bucket}/{reader.key_prefix}/: {reader.error}",
                    job_id=job_id,
                    hint="Check s3:ListBucket and s3:GetObject on the Pipes bucket for the Dagster role.",
                ) from reader.error
            version, snapshot = self.poller.wait(job_id, after_version=version, timeout_s=1.0)
            now = time.monotonic()
            if snapshot is None:
                continue
            if snapshot.status != last_status:
                reason = f" ({snapshot.status_reason})" if snapshot.status_reason else ""
                context.log.info(f"[batch] job {job_id} is {snapshot.status}{reason}")
                last_status = snapshot.status
            if snapshot.log_stream and snapshot.log_stream != logged_stream:
                logged_stream = snapshot.log_stream
                context.log.info(
                    f"[batch] log stream: {log_stream_url(self.region, snapshot.log_group, snapshot.log_stream)}"
                )
            if snapshot.is_terminal:
                return snapshot
            if snapshot.status == "RUNNABLE":
                runnable_since = runnable_since or now
                if now - runnable_since > self.runnable_timeout_s:
                    raise BatchJobStuckRunnableError(
                        f"Job {job_id} stayed RUNNABLE for more than {self.runnable_timeout_s:.0f} s.",
                        job=snapshot,
                        hint=runnable_diagnosis(self.batch, snapshot.job_queue or self.job_queue, snapshot)
                        + " Raise runnable_timeout_s if waiting for capacity is expected.",
                    )
            else:
                runnable_since = None
            if self.job_timeout_s is not None and now - started > self.job_timeout_s:
                raise BatchJobTimeoutError(
                    f"Job {job_id} did not finish within job_timeout_s={self.job_timeout_s:.0f} s.", job=snapshot
                )

    def _terminate(self, context: AnyContext, job_id: str, reason: str) -> None:
        """TerminateJob, then wait briefly for a terminal state; never raises (the original error matters)."""
        try:
            self.batch.terminate_job(jobId=job_id, reason=reason[:TERMINATE_REASON_MAX])
        except Exception as exc:  # report, and let the caller's error propagate
            context.log.error(
                f"[batch] could not terminate job {job_id} ({exc}); stop it by hand: {console_url(self.region, job_id)}"
            )
            return
        self.poller.refresh()
        deadline = time.monotonic() + self.terminate_wait_s
        version = 0
        while time.monotonic() < deadline:
            try:
                version, snapshot = self.poller.wait(job_id, after_version=version, timeout_s=1.0)
            except BatchApiError:
                break
            if snapshot is not None and snapshot.is_terminal:
                context.log.info(f"[batch] job {job_id} terminated ({snapshot.status_reason})")
                return
        context.log.warning(
            f"[batch] job {job_id} was asked to terminate but is not terminal after {self.terminate_wait_s:.0f} s: "
            f"{console_url(self.region, job_id)}"
        )

    # -- outcome ---------------------------------------------------------------------------------

    def _failure(self, snapshot: JobSnapshot) -> BatchLaunchError:
        reason = snapshot.status_reason or ""
        last = snapshot.attempts[-1] if snapshot.attempts else None
        exit_code = snapshot.final_exit_code
        tail = self._log_tail(snapshot)
        if (last is not None and last.was_interrupted) or reason.startswith(HOST_INTERRUPTION_PREFIX):
            return BatchJobInterruptedError(
                f"Job {snapshot.job_id} lost its host on attempt {snapshot.final_attempt} (Spot reclaim or "
                "instance failure) and has no retries left.",
                job=snapshot,
                hint="The job definition's retryStrategy decides how many host terminations are retried "
                "(see infra/); the worker resumes from its checkpoint.",
                log_tail=tail,
            )
        if ATTEMPT_TIMEOUT_REASON.lower() in reason.lower():
            return BatchJobTimeoutError(
                f"Job {snapshot.job_id} ran past the job definition's attempt timeout.", job=snapshot, log_tail=tail
            )
        if exit_code not in (None, 0):
            return BatchJobExitError(
                f"The worker of job {snapshot.job_id} exited with code {exit_code}.", job=snapshot, log_tail=tail
            )
        return BatchJobStartError(
            f"Job {snapshot.job_id} failed without running the worker to completion.",
            job=snapshot,
            hint="A container that never started usually means the image could not be pulled, the "
            "execution role lacks a permission, or a secret could not be read.",
            log_tail=tail,
        )

    def _check_report(
        self,
        context: AnyContext,
        session: dg.PipesSession,
        reader: PipesS3AttemptMessageReader,
        snapshot: JobSnapshot,
    ) -> None:
        """No false success: exit code 0, the final attempt closed Pipes cleanly, every selected asset reported."""
        exit_code = snapshot.final_exit_code
        if exit_code is None:
            raise BatchJobReportError(
                f"Job {snapshot.job_id} SUCCEEDED but Batch reports no exit code for it or its last attempt: "
                "not taken as success.",
                job=snapshot,
                hint="Batch reports the container's exit code for every job that ran; a missing one means the "
                "job did not run as a single container (check the job definition's type).",
            )
        if exit_code != 0:
            raise self._failure(snapshot)
        where = f"s3://{reader.bucket}/{reader.key_prefix}/attempt-{snapshot.final_attempt}/"
        if not session.message_handler.received_closed_message:
            raise BatchJobReportError(
                f"Job {snapshot.job_id} SUCCEEDED but its worker never closed the Pipes session "
                f"(nothing complete under {where}).",
                job=snapshot,
                hint="The container command must run the worker (python -m ftm_assets.worker), which opens "
                "Pipes with ftm_assets.worker.pipes_io.open_pipes().",
                log_tail=self._log_tail(snapshot),
            )
        if reader.closed_exception is not None:
            raise BatchJobReportError(
                f"Job {snapshot.job_id} SUCCEEDED but its worker closed Pipes with an error: "
                f"{reader.closed_exception.get('message', reader.closed_exception)}",
                job=snapshot,
            )
        reported = {r.asset_key for r in session.get_reported_results() if isinstance(r, dg.MaterializeResult)}
        missing = [k.to_user_string() for k in self._expected_assets(context) if k not in reported]
        if missing:
            raise BatchJobReportError(
                f"Job {snapshot.job_id} SUCCEEDED but did not report {', '.join(sorted(missing))}.",
                job=snapshot,
            )

    @staticmethod
    def _expected_assets(context: AnyContext) -> list[dg.AssetKey]:
        if isinstance(context, dg.AssetExecutionContext) or context.has_assets_def:
            return sorted(context.selected_asset_keys)
        return []

    def _log_tail(self, snapshot: JobSnapshot, lines: int = 20) -> str | None:
        if not snapshot.log_stream:
            return None
        try:
            events = self.logs.get_log_events(
                logGroupName=snapshot.log_group,
                logStreamName=snapshot.log_stream,
                limit=lines,
                startFromHead=False,
            )["events"]
        except Exception as exc:  # the log is a courtesy; the job's own error is what matters
            return f"(log stream {snapshot.log_group}/{snapshot.log_stream} not readable: {exc})"
        return "\n".join(e["message"] for e in events) or None

    def _cost(self, context: AnyContext, snapshot: JobSnapshot, config: WorkerConfig, gpus: int) -> dict[str, Any]:
        """The job's cost record: written to the partition's storage root, returned as metadata.

        Best effort: an error here is logged, never raised (the job's outcome is what matters).
        """
        try:
            placements = attempt_placements(self.batch, self.ecs, snapshot.job_queue or self.job_queue, snapshot)
        except Exception as exc:
            context.log.warning(f"[batch] instance types of job {snapshot.job_id} unknown ({exc}): cost not estimated")
            placements = {}
        record = batch_cost_record(
            snapshot, quarter=config.quarter, batch=config.batch, placements=placements, prices=self.price_table,
            gpus_requested=gpus,
        )
        try:
            where = write_cost_record(config.storage_root, record)
            context.log.info(f"[batch] cost record: {where} (estimate: {record.cost_usd} USD)")
        except Exception as exc:
            context.log.warning(f"[batch] could not write the cost record of job {snapshot.job_id}: {exc}")
        return record.metadata()

    def _metadata(self, snapshot: JobSnapshot, *, reattached: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "batch_job_id": snapshot.job_id,
            "batch_job_arn": snapshot.job_arn or "",
            "batch_job_name": snapshot.job_name or "",
            "batch_job_queue": snapshot.job_queue or self.job_queue,
            "batch_job_definition": snapshot.job_definition or self.job_definition,
            "batch_attempts": len(snapshot.attempts),
            "batch_console_url": dg.MetadataValue.url(console_url(self.region, snapshot.job_id)),
            "batch_reattached": reattached,
        }
        if snapshot.log_stream:
            metadata["batch_log_stream"] = f"{snapshot.log_group}/{snapshot.log_stream}"
            metadata["batch_log_url"] = dg.MetadataValue.url(
                log_stream_url(self.region, snapshot.log_group, snapshot.log_stream)
            )
        if snapshot.seconds_queued is not None:
            metadata["batch_seconds_queued"] = round(snapshot.seconds_queued, 3)
        if snapshot.seconds_running is not None:
            metadata["batch_seconds_running"] = round(snapshot.seconds_running, 3)
        return metadata

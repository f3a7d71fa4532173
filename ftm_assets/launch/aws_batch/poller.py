"""One DescribeJobs poller per process and Batch client, shared by every job that process waits on.

DescribeJobs is rate-limited per account; a waiter per job multiplies the calls by the number of
partitions. Here one thread asks about all watched jobs at once (100 ids per call, the API's limit),
backs off with jitter on throttling and 5xx, and gives up only after a bounded time of failures.

DescribeJobs can leave out a job submitted a moment ago (Batch is eventually consistent): a job missing
from an answer is waited for during ``missing_grace_s`` after it was first watched, and only then
reported as unknown.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ftm_assets.launch.aws_batch.errors import BatchApiError
from ftm_assets.launch.aws_batch.job_state import JobSnapshot

DESCRIBE_JOBS_MAX_IDS = 100
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown"}
)


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection trouble are worth retrying; a refused request is not."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in THROTTLING_CODES or status == 429 or status >= 500
    return isinstance(exc, BotoCoreError)


@dataclass
class Backoff:
    """Jittered exponential backoff with a ceiling (the "bounded slowdown")."""

    base_s: float
    max_s: float
    rng: random.Random

    def delay(self, failures: int) -> float:
        ceiling = min(self.max_s, self.base_s * (2 ** max(failures - 1, 0)))
        # Half fixed, half random: never zero (which would hammer the API), never in lockstep.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class BatchJobPoller:
    """Polls DescribeJobs for every watched job; waiters block on a condition, never on the API."""

    _shared: dict[int, BatchJobPoller] = {}
    _shared_lock = threading.Lock()

    def __init__(
        self,
        client,
        *,
        interval_s: float = 10.0,
        max_backoff_s: float = 120.0,
        give_up_after_s: float = 900.0,
        missing_grace_s: float = 120.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.client = client
        self.interval_s = interval_s
        self.give_up_after_s = give_up_after_s
        self.missing_grace_s = missing_grace_s
        self.backoff = Backoff(base_s=max(min(interval_s, 5.0), 0.05), max_s=max_backoff_s, rng=rng or random.Random())
        self._sleep = sleep
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._watched: dict[str, int] = {}  # job id -> number of waiters
        self._last_seen: dict[str, float] = {}  # job id -> when an answer last listed it (or watch began)
        self._snapshots: dict[str, tuple[int, JobSnapshot]] = {}  # job id -> (version, snapshot)
        self._error: BatchApiError | None = None  # the API as a whole failed
        self._job_errors: dict[str, BatchApiError] = {}  # one job cannot be described
        self._failures = 0
        self._failing_since: float | None = None
        self._thread: threading.Thread | None = None
        self.retries = 0

    @classmethod
    def shared(cls, client, **kwargs) -> BatchJobPoller:
        """The process's poller for ``client`` (created on first use)."""
        with cls._shared_lock:
            poller = cls._shared.get(id(client))
            if poller is None or poller.client is not client:
                poller = cls._shared[id(client)] = cls(client, **kwargs)
            return poller

    def watch(self, job_id: str) -> None:
        self._wake.set()  # before a new thread starts: its first round must not end its first sleep early
        with self._cond:
            self._watched[job_id] = self._watched.get(job_id, 0) + 1
            self._last_seen.setdefault(job_id, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="batch-job-poller", daemon=True)
                self._thread.start()

    def unwatch(self, job_id: str) -> None:
        with self._cond:
            left = self._watched.get(job_id, 0) - 1
            if left <= 0:
                self._watched.pop(job_id, None)
                self._last_seen.pop(job_id, None)
                self._snapshots.pop(job_id, None)
                self._job_errors.pop(job_id, None)
            else:
                self._watched[job_id] = left

    def refresh(self) -> None:
        """Ask for a poll now (after a terminate, say) instead of at the next interval."""
        self._wake.set()

    def wait(self, job_id: str, *, after_version: int = 0, timeout_s: float = 1.0) -> tuple[int, JobSnapshot | None]:
        """The job's snapshot once it is newer than ``after_version``, or the latest one after ``timeout_s``.

        Raises BatchApiError when the API has failed for longer than the bounded slowdown allows, or
        refused the request outright.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                if job_id in self._job_errors:
                    raise self._job_errors[job_id]
                version, snapshot = self._snapshots.get(job_id, (0, None))
                if version > after_version:
                    return version, snapshot
                left = deadline - time.monotonic()
                if left <= 0:
                    return version, snapshot
                # Short slices keep the waiting thread responsive to Dagster's interrupt signal.
                self._cond.wait(min(left, 0.5))

    def poll_once(self) -> None:
        """One round of DescribeJobs over every watched job, in calls of at most 100 ids."""
        with self._cond:
            ids = sorted(self._watched)
        for start in range(0, len(ids), DESCRIBE_JOBS_MAX_IDS):
            chunk = ids[start : start + DESCRIBE_JOBS_MAX_IDS]
            response = self.client.describe_jobs(jobs=chunk)
            now = time.monotonic()
            seen = set()
            with self._cond:
                self._error = None
                for job in response.get("jobs", []):
                    seen.add(job["jobId"])
                    if job["jobId"] in self._watched:
                        version = self._snapshots.get(job["jobId"], (0, None))[0] + 1
                        self._snapshots[job["jobId"]] = (version, JobSnapshot.from_description(job))
                        self._job_errors.pop(job["jobId"], None)
                        self._last_seen[job["jobId"]] = now
                for missing in (j for j in chunk if j not in seen):
                    unseen_for = now - self._last_seen.get(missing, now)
                    if unseen_for < self.missing_grace_s:
                        continue  # just submitted and not listed yet: transient, keep asking
                    self._job_errors[missing] = BatchApiError(
                        f"DescribeJobs has not listed job {missing} for {unseen_for:.0f} s: it was "
                        "never submitted to this account and region, or it finished more than 7 days ago.",
                        job_id=missing,
                    )
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._watched:
                    self._thread = None
                    return
            try:
                self.poll_once()
                self._failures, self._failing_since = 0, None
                delay = self.interval_s
            except Exception as exc:  # every error is either retried or handed to the waiters
                delay = self._on_error(exc)
            self._wake.clear()
            if self._sleep is not None:
                self._sleep(delay)
            else:
                self._wake.wait(delay)

    def _on_error(self, exc: Exception) -> float:
        now = time.monotonic()
        self._failures += 1
        self._failing_since = self._failing_since or now
        retryable = is_retryable(exc)
        if retryable and now - self._failing_since < self.give_up_after_s:
            self.retries += 1
            return self.backoff.delay(self._failures)
        with self._cond:
            if retryable:
                summary = (
                    f"DescribeJobs kept failing for {now - self._failing_since:.0f} s ({self._failures} tries), "
                    f"last with: {exc}"
                )
                hint = "Batch is throttling this account: fewer concurrent partitions or a longer poll_interval_s help."
            else:
                summary = f"DescribeJobs was refused: {exc}"
                hint = "Check the credentials, region and the batch:DescribeJobs permission of the Dagster role."
            self._error = BatchApiError(summary, hint=hint)
            self._cond.notify_all()
        return self.interval_s

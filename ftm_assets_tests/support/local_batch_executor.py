"""A local compute environment for moto's Batch: runs each submitted job's container command as a subprocess.

moto's Batch without Docker marks a job SUCCEEDED at once and runs nothing. ``LocalBatchExecutor`` wraps
the boto3 Batch client the launcher uses: every call goes to moto's server over HTTP, and for the jobs it
submitted, what DescribeJobs and ListJobs say about status, status reason, attempts and exit codes is
overlaid with what the local run did. Each job is run by a supervisor process
(``ftm_assets_tests.support.batch_supervisor``) that writes the job's state to a file, so a job outlives
the orchestrator that submitted it, as on AWS, and any executor pointed at the same state folder sees it
(this is what the reattach tests need).

Fault injection on the API side: throttled DescribeJobs (every call is logged with its time, so a test
can measure the backoff), and a just-submitted job left out of DescribeJobs answers for a while, as Batch
does. On the compute side (``JobFaults``): a job stuck RUNNABLE, a container that fails to start, a Spot
interruption of chosen attempts, a job that ends without an exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ftm_assets.launch.aws_batch.resource import AwsBatchLauncher
from ftm_assets_tests.support.batch_supervisor import (  # noqa: F401 (LOG_GROUP, JobFaults: for the tests)
    LOG_GROUP,
    WORKDIR,
    JobFaults,
    now_ms,
    write_json,
)

SUPERVISOR_MODULE = "ftm_assets_tests.support.batch_supervisor"


@dataclass(frozen=True)
class DescribeCall:
    at: float  # time.monotonic() when the call arrived
    jobs: tuple[str, ...]
    throttled: bool


class LocalBatchExecutor:
    """A boto3 Batch client look-alike: moto for the API, local subprocesses for the compute."""

    def __init__(
        self,
        batch_client,
        *,
        state_dir: Path,
        faults: JobFaults | None = None,
        throttle_describe: int = 0,
        hide_from_describe_s: float = 0.0,
    ):
        self._batch = batch_client
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = faults or JobFaults()
        self._throttle_left = throttle_describe
        self.hide_from_describe_s = hide_from_describe_s
        self._lock = threading.Lock()
        self.describe_log: list[DescribeCall] = []
        self.hidden_answers = 0  # DescribeJobs answers that left a just-submitted job out
        self.supervisors: list[subprocess.Popen] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def throttle(self, calls: int) -> None:
        """Throttle the next ``calls`` DescribeJobs calls."""
        with self._lock:
            self._throttle_left = calls

    @property
    def throttled(self) -> int:
        return sum(c.throttled for c in self.describe_log)

    # -- the calls the launcher makes ---------------------------------------------------------

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        response = self._batch.submit_job(**kwargs)
        job_id = response["jobId"]
        definition = self._batch.describe_jobs(jobs=[job_id])["jobs"][0]
        job_def = self._batch.describe_job_definitions(jobDefinitions=[definition["jobDefinition"]])[
            "jobDefinitions"
        ][0]
        container = job_def["containerProperties"]
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        env.update({e["name"]: e["value"] for e in kwargs.get("containerOverrides", {}).get("environment", [])})
        job_dir = self.state_dir / job_id
        job_dir.mkdir()
        spec = {
            "job_id": job_id,
            "command": container["command"],
            "environment": env,
            "max_attempts": (job_def.get("retryStrategy") or {}).get("attempts", 1),
            "log_stream_prefix": f"{job_def['jobDefinitionName']}/default",
            "faults": asdict(self.faults),
            "placement": self._placement(kwargs["jobQueue"]),
        }
        write_json(job_dir / "spec.json", spec)
        write_json(job_dir / "state.json", {"status": "SUBMITTED", "attempts": [], "createdAt": now_ms()})
        with open(job_dir / "supervisor.log", "wb") as log:
            self.supervisors.append(
                subprocess.Popen(
                    [sys.executable, "-m", SUPERVISOR_MODULE, str(job_dir)],
                    cwd=WORKDIR,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # outlives the orchestrator, like a job on AWS
                )
            )
        return response

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        with self._lock:
            throttled = self._throttle_left > 0
            self.describe_log.append(DescribeCall(time.monotonic(), tuple(jobs), throttled))
            if throttled:
                self._throttle_left -= 1
                raise ClientError(
                    {
                        "Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                        "ResponseMetadata": {"HTTPStatusCode": 429},
                    },
                    "DescribeJobs",
                )
        response = self._batch.describe_jobs(jobs=jobs)
        kept = []
        for job in response["jobs"]:
            state = self.state(job["jobId"])
            if state is not None and now_ms() - state["createdAt"] < self.hide_from_describe_s * 1000:
                self.hidden_answers += 1
                continue
            self._overlay(job, state)
            kept.append(job)
        response["jobs"] = kept
        return response

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        response = self._batch.list_jobs(**kwargs)
        for job in response.get("jobSummaryList", []):
            state = self.state(job["jobId"])
            if state is not None:
                job["status"] = state["status"]
        return response

    def terminate_job(self, *, jobId: str, reason: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        response = self._batch.terminate_job(jobId=jobId, reason=reason)
        job_dir = self.state_dir / jobId
        if job_dir.is_dir():
            write_json(job_dir / "terminate.json", {"reason": reason})
        return response

    # -- for tests ------------------------------------------------------------------------------

    def state(self, job_id: str) -> dict[str, Any] | None:
        path = self.state_dir / job_id / "state.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def job_ids(self) -> list[str]:
        """Every job submitted through an executor on this state folder."""
        return sorted(p.parent.name for p in self.state_dir.glob("*/spec.json"))

    def close(self) -> None:
        """Stop every supervisor still running (and its worker): no test leaves processes behind."""
        for proc in self.supervisors:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def _placement(self, job_queue: str) -> dict[str, str] | None:
        """Where attempts of a job on ``job_queue`` run: the first compute environment's cluster and type."""
        queues = self._batch.describe_job_queues(jobQueues=[job_queue]).get("jobQueues", [])
        if not queues:
            return None
        order = sorted(queues[0]["computeEnvironmentOrder"], key=lambda o: o["order"])
        envs = self._batch.describe_compute_environments(computeEnvironments=[order[0]["computeEnvironment"]])
        env = envs["computeEnvironments"][0]
        types = [t for t in (env.get("computeResources") or {}).get("instanceTypes", []) if "." in t]
        if not types or not env.get("ecsClusterArn"):
            return None
        return {"cluster": env["ecsClusterArn"], "instance_type": types[0]}

    @staticmethod
    def _overlay(job: dict[str, Any], state: dict[str, Any] | None) -> None:
        if state is None:
            return
        job["status"] = state["status"]
        job["attempts"] = state["attempts"]
        container = job.setdefault("container", {})
        for key in ("statusReason", "startedAt", "stoppedAt"):
            job.pop(key, None)
            if state.get(key) is not None:
                job[key] = state[key]
        for key in ("exitCode", "reason", "logStreamName"):
            container.pop(key, None)
            if state.get("container", {}).get(key) is not None:
                container[key] = state["container"][key]


class LocallyExecutedBatchLauncher(AwsBatchLauncher):
    """The real resource, with moto's Batch wrapped by the local executor."""

    state_dir: str

    def make_batch_client(self):
        return LocalBatchExecutor(super().make_batch_client(), state_dir=Path(self.state_dir))

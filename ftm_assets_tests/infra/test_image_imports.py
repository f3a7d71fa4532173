"""Both images install what their code imports: the Dagster image (and the `dagster` extra) every third-party
import the Dagster side reaches, the worker image every one the worker reaches, walked transitively with ast."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ftm_assets_tests.infra.imports import (
    PROJECT_ROOT,
    ThirdPartyImport,
    distributions_of,
    installed_closure,
    pinned_versions,
    read_requirements,
    walk,
)
from ftm_assets_tests.support.pins import pins

# What the Dagster process loads: the code location (definitions) and what its assets and the run/export
# commands import. Packages are walked whole, so a module moved inside one stays covered.
DAGSTER_ROOTS = [
    "ftm_assets.definitions",
    "ftm_assets.assets",
    "ftm_assets.themes",
    "ftm_assets.summary",
    "ftm_assets.run",
    "ftm_assets.readers",
    "ftm_assets.launch",
    "ftm_assets.transcripts",
    "ftm_assets.export",
]
WORKER_ROOTS = ["ftm_assets.worker"]

DAGSTER_REQUIREMENTS = [PROJECT_ROOT / "docker" / "dagster" / "requirements.txt"]
WORKER_REQUIREMENTS = sorted((PROJECT_ROOT / "docker" / "worker" / "requirements").glob("[0-9]*.txt"))

# Distributions an image installs that this venv does not (so packages_distributions() cannot name them).
NOT_INSTALLED_HERE = {"cuml": "cuml-cu11"}  # the GPU image's RAPIDS, from NVIDIA's index

# Imports an image may lack, each with the reason it never runs there. Keyed by (import name, the prefix of
# the modules allowed to import it), so the same name imported anywhere else still fails.
DAGSTER_ALLOWED: dict[tuple[str, str], str] = {
    # Empty: the Dagster side imports nothing of worker/ (test_import_graph.py), so none of the embedder's
    # packages is reached from it. Add (import name, module prefix): reason for an image that lacks one.
}
WORKER_ALLOWED = {
    # The image runs on CUDA, where the embedder is torch fp16 (worker/model/embed.py, choose_backend); ONNX
    # Runtime is the CPU embedder and the Dockerfile leaves it out on purpose.
    ("onnx", "ftm_assets.worker.model."): "CPU embedder only",
    ("onnxruntime", "ftm_assets.worker.model."): "CPU embedder only",
}


def uncovered(imports: list[ThirdPartyImport], closure: set[str], allowed: dict[tuple[str, str], str]) -> list[str]:
    """Each import no distribution of ``closure`` provides and no allow-list entry excuses, with its place."""
    missing = []
    for imp in imports:
        dists = distributions_of(imp.name) or {canonicalize_name(NOT_INSTALLED_HERE.get(imp.name, imp.name))}
        if dists & closure:
            continue
        if any(imp.name == name and imp.module.startswith(prefix) for name, prefix in allowed):
            continue
        missing.append(f"{imp.name} ({'/'.join(sorted(dists))}) imported by {imp.module}:{imp.line}")
    return sorted(set(missing))


def test_the_walk_follows_late_imports_and_finds_what_themes_need():
    """The walk itself: a function-level import counts, and the themes' scipy/sklearn are found."""
    found = walk(["ftm_assets.themes"])
    assert {"scipy", "sklearn", "numpy", "pyarrow"} <= found.names()
    late = walk(["ftm_assets.markdown"])  # imports pandas inside a function only
    assert "pandas" in late.names()


def test_the_dagster_image_installs_every_import_of_the_dagster_side():
    found = walk(DAGSTER_ROOTS)
    assert "ftm_assets.themes.keywords" in found.modules and "ftm_assets.definitions" in found.modules
    closure, _ = installed_closure(read_requirements(*DAGSTER_REQUIREMENTS))
    missing = uncovered(found.imports, closure, DAGSTER_ALLOWED)
    assert not missing, "docker/dagster/requirements.txt lacks (the app is installed --no-deps):\n" + "\n".join(
        missing
    )


def test_the_dagster_extra_installs_every_import_of_the_dagster_side():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    own = canonicalize_name(project["name"])
    reqs = [
        r
        for r in map(Requirement, project["dependencies"] + project["optional-dependencies"]["dagster"])
        if canonicalize_name(r.name) != own
    ]
    closure, _ = installed_closure(reqs)
    missing = uncovered(walk(DAGSTER_ROOTS).imports, closure, DAGSTER_ALLOWED)
    assert not missing, "pyproject.toml's core + `dagster` extra lack:\n" + "\n".join(missing)


def test_the_dagster_image_pins_the_versions_of_the_lock():
    lock = pins(PROJECT_ROOT / "constraints.txt")
    image = pinned_versions(read_requirements(*DAGSTER_REQUIREMENTS))
    # dagster-postgres is the image's alone (the local instance is SQLite), so the lock does not hold it.
    differ = {name: (v, lock[name]) for name, v in image.items() if name in lock and lock[name] != v}
    assert "scipy" in image and "scikit-learn" in image
    assert not differ, f"docker/dagster/requirements.txt vs constraints.txt: {differ}"


def test_the_worker_image_installs_every_import_of_the_worker():
    found = walk(WORKER_ROOTS)
    assert "ftm_assets.worker.model.embed" in found.modules
    closure, _ = installed_closure(read_requirements(*WORKER_REQUIREMENTS))
    missing = uncovered(found.imports, closure, WORKER_ALLOWED)
    assert not missing, "docker/worker/requirements/ lacks (the app is installed --no-deps):\n" + "\n".join(missing)


def test_each_allowed_import_is_one_the_walk_meets():
    """An allow-list entry that excuses nothing is stale; the worker's must stay live (the Dagster side's go
    once the Dagster side stops importing worker/, see DAGSTER_ALLOWED)."""
    imports = walk(WORKER_ROOTS).imports
    stale = [
        key for key in WORKER_ALLOWED if not any(i.name == key[0] and i.module.startswith(key[1]) for i in imports)
    ]
    assert not stale, f"WORKER_ALLOWED entries that excuse nothing: {stale}"


def test_a_missing_requirement_is_reported_with_where_it_is_imported(tmp_path: Path):
    """Drop scipy/scikit-learn from a copy of the Dagster requirements: the test names themes' modules."""
    text = DAGSTER_REQUIREMENTS[0].read_text()
    trimmed = "\n".join(line for line in text.splitlines() if not line.startswith(("scipy", "scikit-learn")))
    (tmp_path / "requirements.txt").write_text(trimmed)
    closure, _ = installed_closure(read_requirements(tmp_path / "requirements.txt"))
    missing = uncovered(walk(["ftm_assets.themes"]).imports, closure, DAGSTER_ALLOWED)
    assert any(m.startswith("scipy") and "ftm_assets.themes.cluster" in m for m in missing), missing
    assert any(m.startswith("sklearn") and "ftm_assets.themes.keywords" in m for m in missing), missing

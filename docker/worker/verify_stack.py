"""Checks that the worker image's Python stack is the one its requirement files promise; exits 1 if not.

Run at build time (docker/worker/Dockerfile), so an inconsistent stack fails the build instead of a Batch job
hours later: pins installed at their exact versions, `pip check` clean, torch built for the image's CUDA,
cuML, BERTopic and the worker importable (the worker without Dagster), the baked-in model loadable offline.
No GPU is needed: torch reports the CUDA it was built for, and cuML imports with RAPIDS_NO_INITIALIZE=1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def read_pins(requirements_dir: Path) -> dict[str, str]:
    """Exact pins of every step file and the lock; rapids-*.txt holds ranges, not pins, and is skipped."""
    pins: dict[str, str] = {}
    for path in sorted(requirements_dir.glob("*.txt")):
        if path.name.startswith("rapids-"):
            continue
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                pins[canonical(name.strip())] = version.strip()
    return pins


def check_pins(pins: dict[str, str]) -> list[str]:
    problems = []
    for name, wanted in sorted(pins.items()):
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}=={wanted} is pinned but not installed")
            continue
        if found != wanted:
            problems.append(f"{name}=={wanted} is pinned but {found} is installed")
    return problems


def check_pip() -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    return [] if done.returncode == 0 else [f"pip check: {line}" for line in done.stdout.splitlines()]


def check_torch_cuda(expected: str) -> list[str]:
    import torch

    built = torch.version.cuda
    if built != expected:
        return [f"torch {torch.__version__} is built for CUDA {built}, the image has CUDA {expected}"]
    return []


def check_imports(modules: list[str]) -> list[str]:
    problems = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any import failure is a broken stack; report it with its cause
            problems.append(f"import {module} failed: {type(exc).__name__}: {exc}")
    return problems


def check_worker_without_dagster() -> list[str]:
    problems = check_imports(["ftm_assets.worker.__main__"])
    if "dagster" in sys.modules:
        problems.append("the worker imported `dagster`; it must import only `dagster_pipes`")
    return problems


def check_model() -> list[str]:
    path = os.environ.get("FTM_EMBEDDING_MODEL")
    if not path or not Path(path).is_dir():
        return [f"FTM_EMBEDDING_MODEL={path!r} is not a model folder baked into the image"]
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        return ["HF_HUB_OFFLINE is not 1: a job could try to download a model at run time"]
    from sentence_transformers import SentenceTransformer

    vectors = SentenceTransformer(path, device="cpu").encode(["Revenue grew in the quarter."])
    if vectors.shape != (1, EMBEDDING_DIM):
        return [f"the model at {path} returned shape {vectors.shape}, expected (1, {EMBEDDING_DIM})"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, required=True, help="folder of the step files and lock")
    parser.add_argument("--cuda", help="CUDA version torch must be built for (e.g. 11.8)")
    parser.add_argument("--no-cuml", action="store_true", help="skip cuML (a CPU-only environment)")
    args = parser.parse_args(argv)

    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("pins", lambda: check_pins(read_pins(args.requirements))),
        ("pip check", check_pip),
        ("libraries", lambda: check_imports(["bertopic", "hdbscan", "umap", "sentence_transformers"])),
        ("worker", check_worker_without_dagster),
        ("model", check_model),
    ]
    if args.cuda:
        checks.insert(2, ("torch CUDA", lambda: check_torch_cuda(args.cuda)))
    if not args.no_cuml:
        checks.insert(2, ("cuML", lambda: check_imports(["cuml", "cuml.manifold", "cuml.cluster"])))

    problems = []
    for label, check in checks:
        found = check()
        print(f"{'FAIL' if found else 'ok  '} {label}", flush=True)
        problems.extend(found)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    if problems:
        print(f"The worker stack is inconsistent ({len(problems)} problems): fix the pins in "
              f"{args.requirements} and rebuild.", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

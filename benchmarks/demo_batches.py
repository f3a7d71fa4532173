"""The demo quarter's batch jobs before and after a change, side by side in one run on one machine.

    python -m benchmarks.demo_batches --baseline 7e3473b [--repeats 2]     # make bench-demo

Checks the baseline revision out into a temporary git worktree and runs ``python -m ftm_assets.run_demo`` from
each tree in turn (baseline, current, baseline, current, ...), each time on a fresh ``DAGSTER_HOME`` and a fresh
storage root, with the same warm numba/ONNX caches. From each run's instance it reads every batch's
``worker_wall_s`` and ``load_s`` (the worker process's own wall time and its model-load stage) and the whole
command's wall time. Writes ``benchmarks/demo_batches.json`` and prints a markdown table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "demo_batches.json"
READ_METADATA = r"""
import json, dagster as dg
out = []
with dg.DagsterInstance.get() as instance:
    for record in instance.fetch_materializations(dg.AssetKey("firm_topics"), limit=1000).records:
        meta = record.asset_materialization.metadata
        value = lambda k: getattr(meta.get(k), "value", None)
        out.append({"partition": record.partition_key, "worker_wall_s": value("worker_wall_s"),
                    "load_s": value("load_s"), "fit_s": value("fit_s"), "embed_s": value("embed_s")})
print("DEMO_JSON " + json.dumps(out))
"""


def run_demo(tree: Path, work: Path, env: dict[str, str]) -> dict:
    """One ``run_demo`` from ``tree`` on a fresh instance and storage root; its batches' timings."""
    home, storage = work / "dagster_home", work / "storage"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((tree / "dagster.yaml").read_text())
    run_env = {**env, "PYTHONPATH": str(tree), "DAGSTER_HOME": str(home), "FTM_STORAGE_ROOT": str(storage)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ftm_assets.run_demo"], cwd=tree, env=run_env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    done = subprocess.run([sys.executable, "-c", READ_METADATA], cwd=tree, env=run_env, check=True,
                          capture_output=True, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("DEMO_JSON "))
    batches = sorted(json.loads(line.removeprefix("DEMO_JSON ")), key=lambda b: b["partition"] or "")
    return {"command_wall_s": wall, "batches": batches,
            "batch_worker_wall_s": sum(b["worker_wall_s"] or 0.0 for b in batches),
            "batch_load_s": sum(b["load_s"] or 0.0 for b in batches)}


def summarize(runs: list[dict]) -> dict:
    keys = ("command_wall_s", "batch_worker_wall_s", "batch_load_s")
    return {k: statistics.median(r[k] for r in runs) for k in keys} | {"runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare against (e.g. 7e3473b)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    rev = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTM_", "DAGSTER_"))}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    env.setdefault("FTM_ONNX_CACHE_DIR", str(ROOT / ".cache" / "onnx"))
    results: dict[str, list[dict]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="ftm-demo-bench-") as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            trees = {"baseline": base_tree, "current": ROOT}
            for i in range(args.repeats):
                order = ("baseline", "current") if i % 2 == 0 else ("current", "baseline")
                for who in order:
                    work = Path(tmp) / f"{who}-{i}"
                    results[who].append(run_demo(trees[who], work, env))
                    r = results[who][-1]
                    print(f"{who} #{i + 1}: command {r['command_wall_s']:.1f} s, batches' worker wall "
                          f"{r['batch_worker_wall_s']:.1f} s (load {r['batch_load_s']:.1f} s)", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, capture_output=True)
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "baseline_rev": rev, "current_rev": head,
           "cpus": os.cpu_count(), "baseline": summarize(results["baseline"]),
           "current": summarize(results["current"])}
    OUT.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    b, c = out["baseline"], out["current"]
    print(f"\n| demo quarter ({os.cpu_count()} CPUs, median of {args.repeats}) | {rev} | {head} | ratio |")
    print("|---|---|---|---|")
    for key, label in (("batch_worker_wall_s", "batches' worker wall, summed (s)"),
                       ("batch_load_s", "batches' load stage, summed (s)"),
                       ("command_wall_s", "whole `make demo` command (s)")):
        print(f"| {label} | {b[key]:.1f} | {c[key]:.1f} | {c[key] / max(b[key], 1e-9):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench``: the worker against the naive baseline, side by side in one run; see benchmarks/README.md.

The naive loop and the worker run the same firms, interleaved ``--repeats`` times (``benchmarks/interleave``);
each figure is the median of the repetitions with its min and max. A sampler thread (``benchmarks/load``)
records the machine's load throughout. A quiet run merges its figures into ``benchmarks/latest.json`` (keys
it did not measure stay) and appends a dated section to ``benchmarks/RESULTS.md``; a loaded one writes
``benchmarks/latest_loaded.json`` only, says so on stderr and exits 3 (issue 29).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

from benchmarks.machine import cpu_model

import numpy as np

from benchmarks import cold_start, fit_pool, interleave, load
from benchmarks import embedding_store
from benchmarks.corpora import EARNINGS22, bench_config, demo_firms, real_firms
from benchmarks.naive import NaiveBaseline, NaiveRun, assignments
from benchmarks.quality import quality_keys, quality_targets, render_quality
from ftm_assets import constants as C
from ftm_assets.worker.processor import FirmProcessor, library_versions

ROOT = Path(__file__).resolve().parents[1]  # `python -m benchmarks.run` from the checkout (make bench)

QUARTER = "2024Q4"
HERE = Path(__file__).resolve().parent
JIT_SECONDS = 10.0  # UMAP/HDBSCAN's numba compile on a cold cache, measured on 2 cores
FLOOR_SEEDS = (43, 44)  # refits beside the reference's own seed (42): quality and floor average all three
EMBED_FIRM_SHARE = 4  # the embedding-only pass encodes a quarter of the compared firms (at least one)
EMBEDDER_SENTENCES = 128  # sentences each embedder variant encodes per repetition
# Skipped unless asked for (`--skip ""` runs everything): each takes minutes, and none is a speed ratio.
# Their last recorded figures stay in latest.json (every run merges into it).
DEFAULT_SKIP = "rss,quality,umap-floor"
LATEST = HERE / "latest.json"
RESULTS = HERE / "RESULTS.md"
LOADED = HERE / "latest_loaded.json"  # a run under load: its figures, never quoted (see benchmarks/README.md)
EXIT_LOADED = 3


def _minmax(summary: dict) -> list[float]:
    return [summary["min"], summary["max"]]


def compare(
    label: str, firms, naive: NaiveBaseline, processor: FirmProcessor, repeats: int, *, umap_floor: bool = False
) -> dict:
    """The same firms through the naive loop and the worker, interleaved ``repeats`` times; then the
    embedding stage alone (interleaved too), then quality. Each speed figure is a median with its spread."""
    ours: dict[str, np.ndarray] = {}
    ours_assign: dict[str, np.ndarray] = {}
    prepare = processor.prepare

    def capturing_prepare(firm, quarter):
        prepared = prepare(firm, quarter)
        ours.setdefault(firm.firm_id, prepared.embeddings)
        return prepared

    def run_naive():
        run = NaiveRun()
        naive.run(firms, run)
        naive_runs.append(run)

    def run_worker():
        for firm, result in processor.results(firms, QUARTER):
            if not isinstance(result, Exception):
                ours_assign.setdefault(firm.firm_id, assignments(result.topic_rows, result.n_sentences))

    naive_runs: list[NaiveRun] = []
    processor.prepare = capturing_prepare
    try:
        timed = interleave.time_interleaved(run_worker, run_naive, repeats)
    finally:
        processor.prepare = prepare
    ref = naive_runs[0]
    done = sorted(set(ref.assignments) & set(ours_assign))
    if len(done) < len(ref.assignments):
        raise RuntimeError(f"{label}: the worker fitted {sorted(ours_assign)} of the naive loop's {sorted(ref.assignments)}")
    n_sent = sum(len(ref.assignments[f]) for f in done)
    worker_s, naive_s = timed["a"], timed["b"]

    # Embedding stage alone: the worker's embedder against a bare fp32 encode, interleaved, one call per firm.
    by_id = {f.firm_id: f for f in firms}
    texts = [_texts(by_id[f], processor) for f in done[: max(1, len(done) // EMBED_FIRM_SHARE)]]
    n_embed = sum(len(t) for t in texts)
    emb = interleave.time_interleaved(lambda: [processor.embedder.encode(t) for t in texts],
                                      lambda: [naive.encode(t) for t in texts], repeats)  # fmt: skip

    from sklearn.metrics import adjusted_rand_score

    cos = np.concatenate([(ref.embeddings[f] * ours[f]).sum(axis=1) for f in done])
    # One firm's topics are fragile (one UMAP seed to the next agrees at ARI ~0.6-0.7), and 12 firms give a
    # mean only to ~0.05; so both sides average three seeds: ours against the reference at the same seed, and
    # the reference's seeds pairwise. The timed run gave the main seed's; the others are refits.
    main_seed = naive.params.random_seed
    seeds = (main_seed, *FLOOR_SEEDS)
    ref_at = {(f, main_seed): ref.assignments[f] for f in done}
    ours_at = {(f, main_seed): ours_assign[f] for f in done}
    for f in done:
        for seed in FLOOR_SEEDS:
            ref_at[f, seed] = naive.refit_with_seed(by_id[f], ref.embeddings[f], seed)
            ours_at[f, seed] = naive.refit_with_seed(by_id[f], ours[f], seed, lean=True)
    per_firm = [np.mean([adjusted_rand_score(ref_at[f, s], ours_at[f, s]) for s in seeds]) for f in done]
    floor = [adjusted_rand_score(ref_at[f, a], ref_at[f, b]) for f in done for a, b in combinations(seeds, 2)]
    # The old method's floor (the seed's UMAP + HDBSCAN on the same reference embeddings), for comparison:
    # ~5 s a fit, so only where asked for (--skip without umap-floor).
    floor_umap = [float("nan")]
    if umap_floor:
        umap_at = {(f, s): naive.refit_with_seed(by_id[f], ref.embeddings[f], s, method="umap") for f in done for s in seeds}
        floor_umap = [adjusted_rand_score(umap_at[f, a], umap_at[f, b]) for f in done for a, b in combinations(seeds, 2)]
    return {
        "corpus": label,
        "firms": len(done),
        "sentences": n_sent,
        "repeats": repeats,
        "order": timed["order"],
        "naive_firms_per_s": len(done) / naive_s["median"],
        "worker_firms_per_s": len(done) / worker_s["median"],
        "speedup_vs_naive": timed["b_over_a"]["median"],
        "speedup_vs_naive_spread": _minmax(timed["b_over_a"]),
        "naive_seconds": naive_s,
        "worker_seconds": worker_s,
        "embed_sentences": n_embed,
        "embed_sentences_per_s": n_embed / emb["a"]["median"],
        "bare_fp32_sentences_per_s": n_embed / emb["b"]["median"],
        "embed_speedup_vs_fp32": emb["b_over_a"]["median"],
        "embed_speedup_vs_fp32_spread": _minmax(emb["b_over_a"]),
        "cosine_mean_vs_fp32": float(cos.mean()),
        "cosine_min_vs_fp32": float(cos.min()),
        "ari_vs_reference": float(np.mean(per_firm)),
        "ari_seed_floor": float(np.mean(floor)),
        "ari_seed_floor_umap": float(np.mean(floor_umap)),
        "topic_method": naive.params.topic_method,
        "ari_per_firm_sd": float(np.std(per_firm)),
        "ari_seeds": list(seeds),
    }


def embedders(
    texts: list[str], naive: NaiveBaseline, batch_size: int, onnx_cache_dir: str | None, repeats: int
) -> list[dict]:
    """Each available embedding backend/precision against a bare fp32 encode, alternating, same sentences."""
    from ftm_assets.worker.model import onnx_embed
    from ftm_assets.worker.model.embed import Embedder, cpu_has_native_bf16, resolve_model_path

    path = resolve_model_path(None)
    variants = {}
    budget = C.EMBEDDING_TOKEN_BUDGET  # batched as the worker batches on CPU
    if cpu_has_native_bf16():  # else emulated, ~5x slower than fp32: minutes of bench time to show it
        variants["torch bf16"] = Embedder(path, "cpu", batch_size, "bf16", token_budget=budget)
    if onnx_embed.available():
        for precision in ("fp32", "int8"):
            variants[f"onnx {precision}"] = Embedder(path, "cpu", batch_size, precision, backend="onnx",
                                                     onnx_cache_dir=onnx_cache_dir, token_budget=budget)  # fmt: skip
    ref = naive.encode(texts)
    rows = []
    for name, emb in variants.items():
        out = emb.encode(texts)  # warm-up, and the vectors compared with the reference
        cos = (ref * out).sum(axis=1)
        timed = interleave.time_interleaved(lambda e=emb: e.encode(texts), lambda: naive.encode(texts), repeats)
        rows.append({"embedder": name, "sentences": len(texts), "speedup_vs_fp32": timed["b_over_a"]["median"],
                     "speedup_vs_fp32_spread": _minmax(timed["b_over_a"]), "repeats": repeats,
                     "sentences_per_s": len(texts) / timed["a"]["median"],
                     "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min())})  # fmt: skip
    return rows


def _texts(firm, processor: FirmProcessor) -> list[str]:
    from ftm_assets.worker.segment import segment

    return [s.text for s in segment(firm.components, min_words=processor.cfg.topics.min_sentence_words)]


def probe(*args: str, env: dict | None = None) -> dict:
    """Run ``benchmarks.probes`` or another module in a fresh process; its last BENCH_JSON line."""
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env={**os.environ, **(env or {})}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("BENCH_JSON "))


def machine() -> dict:
    import torch

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "gpu": "none (GPU path unmeasured)" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real-firms", type=int, default=4, help="real Earnings-22 calls (of 125) per repetition")
    parser.add_argument("--demo-firms", type=int, default=3, help="synthetic demo firms per repetition")
    parser.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS,
                        help="interleaved naive/worker repetitions; each figure is their median (>= 3)")  # fmt: skip
    parser.add_argument("--rss-firms", default="100,1000", help="batch sizes whose peak RSS is compared")
    parser.add_argument("--dagster-firms", type=int, default=4)
    parser.add_argument("--store-firms", type=int, default=12, help="firms of the stored-embeddings probe")
    parser.add_argument("--skip", default=DEFAULT_SKIP,
                        help="comma list of: rss, dagster, first-firm, quality, cold-start, embedding-store, fit-pool, "
                        f"embedders, umap-floor (default {DEFAULT_SKIP!r}; '' runs everything)")  # fmt: skip
    parser.add_argument("--quality-cache", default="", help="embedding cache for the quality probe (.npz)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for a quiet machine (load and others' CPU <= 0.5 x cores)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeats < interleave.MIN_REPEATS:
        parser.error(f"--repeats must be >= {interleave.MIN_REPEATS}: a median of fewer is not a figure")
    skip = set(filter(None, args.skip.split(",")))
    logging.basicConfig(level=logging.WARNING)
    if args.wait_quiet and not load.wait_quiet(args.wait_quiet):
        print(f"bench: the machine did not go quiet within {args.wait_quiet:.0f} s; measuring anyway (it will "
              "be marked loaded)", file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    sampler = load.LoadSampler()
    with sampler:
        out = measure(args, skip)
    out["load"] = sampler.record.to_json()
    out["loaded"] = out["load"]["loaded"]
    out["machine"]["load_avg_1m_at_start"] = sampler.record.load_1m_at_start
    out["bench_seconds"] = time.perf_counter() - started
    if out["loaded"]:
        out["targets"] = targets(out)
        LOADED.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
        print(render(out))
        print(loaded_banner(out), file=sys.stderr)
        return EXIT_LOADED
    merged = merge_latest(out, skip)
    LATEST.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    report = render(merged)
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(report)
    print(report)
    return 0


def measure(args: argparse.Namespace, skip: set[str]) -> dict:
    """Every figure of one run (while the load sampler runs beside it)."""
    out: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                 "versions": library_versions(), "notes": []}  # fmt: skip
    cfg = bench_config()
    processor = FirmProcessor(cfg, logging.getLogger("bench"))
    naive = NaiveBaseline(cfg.topics)
    out["worker"] = {"backend": processor.backend, "precision": processor.precision,
                     "pipeline_depth": processor.pipeline_depth}  # fmt: skip
    warm = demo_firms(1)
    naive.run(warm, NaiveRun()), list(processor.results(warm, QUARTER))  # JIT and model warm-up, untimed

    runs = []
    real = real_firms(args.real_firms)
    umap_floor = "umap-floor" not in skip
    if real:
        runs.append(compare("earnings22 (real)", real, naive, processor, args.repeats, umap_floor=umap_floor))
    else:
        out["notes"].append(f"real calls absent ({EARNINGS22}): the real-corpus comparison was skipped")
    runs.append(compare("demo (synthetic)", demo_firms(args.demo_firms), naive, processor, args.repeats,
                        umap_floor=umap_floor))  # fmt: skip
    out["comparisons"] = runs
    headline = runs[0]
    sample = _texts((real or demo_firms(1))[0], processor)[:EMBEDDER_SENTENCES]
    if "embedders" not in skip:
        out["embedders"] = embedders(sample, naive, cfg.topics.embedding_batch_size, cfg.embedding.onnx_cache_dir,
                                     args.repeats)  # fmt: skip
    for key in ("speedup_vs_naive", "speedup_vs_naive_spread", "embed_speedup_vs_fp32", "cosine_mean_vs_fp32",
                "ari_vs_reference", "ari_seed_floor"):  # fmt: skip
        out[key] = headline[key]
    del processor, naive

    if "first-firm" not in skip:
        cold = probe("benchmarks.probes", "first-firm")  # may fill the numba cache
        warm_run = probe("benchmarks.probes", "first-firm")  # a fresh process on a warm cache
        out["first_firm"] = {"first_process": cold, "second_process": warm_run,
                             "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(unset)")}  # fmt: skip
        out["first_firm_s"] = warm_run["first_firm_s"]
    if "cold-start" not in skip:  # issue 17: the worker's load stage against a bare script, fresh processes
        out["cold_start"] = cold_start.measure(args.repeats)
        out["load_ratio_vs_bare"] = out["cold_start"]["load_ratio_vs_bare"]
    if "rss" not in skip:
        sizes = [int(x) for x in args.rss_firms.split(",")]
        pool_on = {"FTM_FIT_WORKERS": os.environ.get("FTM_FIT_WORKERS") or "1"}  # memory flat with the fit pool on
        rss = {n: probe("benchmarks.probes", "rss", "--firms", str(n), env=pool_on) for n in sizes}
        out["rss"] = rss
        out["rss_ratio"] = rss[sizes[-1]]["peak_rss_mb"] / rss[sizes[0]]["peak_rss_mb"]
        out["rss_ratio_sizes"] = [sizes[0], sizes[-1]]
        # The key; null unless the run measured exactly 100 and 1,000 firms (--rss-firms 100,1000).
        out["rss_ratio_1000_vs_100"] = out["rss_ratio"] if (sizes[0], sizes[-1]) == (100, 1000) else None
    if "fit-pool" not in skip:  # fresh process: light spawn main
        out["fit_pool"] = probe("benchmarks.fit_pool", "--firms", str(args.real_firms), "--rounds", str(args.repeats))
    if "dagster" not in skip:
        dag = probe("benchmarks.dagster_overhead", "--firms", str(args.dagster_firms))
        out["dagster"] = dag
        out["dagster_overhead_s"] = dag["dagster_overhead_s"]
    if "embedding-store" not in skip:
        out["embedding_store"] = probe("benchmarks.embedding_store", "--firms", str(args.store_firms))
    if "quality" not in skip:  # issue 16's figures on all 125 real calls, both methods (benchmarks/quality.py)
        extra = ["--embed-cache", args.quality_cache] if args.quality_cache else []
        out.update(quality_keys(probe("benchmarks.quality", "--no-write", *extra)), quality_date=out["date"])
    return out


def merge_latest(out: dict, skip: set[str], latest: Path | None = None) -> dict:
    """This run's figures over the recorded ones: keys it did not measure (a skipped probe, another script's
    figures such as quality.py's or validity.py's) stay as they were, and the notes say which probes were old."""
    latest = latest or LATEST
    previous = json.loads(latest.read_text()) if latest.exists() else {}
    merged = {**previous, **out}
    carried = sorted(skip & {"rss", "quality", "dagster", "first-firm", "cold-start", "embedding-store", "fit-pool",
                             "embedders"})
    if carried:
        merged["notes"] = [*out["notes"], f"not measured in this run ({', '.join(carried)}): their figures in "
                           f"latest.json are from earlier runs (quality: {previous.get('quality_date', 'unknown')})"]  # fmt: skip
    if previous.get("load") and not previous["load"].get("loaded") and "speedup_vs_naive" in previous:
        # Issue 29: two consecutive quiet runs should agree within 10%; say how far apart this one is.
        merged["previous_quiet_run"] = {"date": previous.get("date"), "speedup_vs_naive": previous["speedup_vs_naive"],
                                        "relative_change": out["speedup_vs_naive"] / previous["speedup_vs_naive"] - 1}  # fmt: skip
    else:
        merged.pop("previous_quiet_run", None)
    merged["targets"] = targets(merged)
    return merged


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def loaded_banner(out: dict) -> str:
    """What a loaded run prints last, to stderr: why its figures are not the latest, and what to do."""
    ld = out["load"]
    busy = ld["max_others_busy_cores"]
    return "\n".join([
        "", "=" * 100,
        f"BENCH RUN UNDER LOAD: load {ld['load_1m_at_start']:.2f} at start, other processes' CPU up to "
        f"{'?' if busy is None else f'{busy:.2f}'} cores, against a limit of {ld['threshold_cores']:.2f} "
        f"({ld['cores']} cores).",
        f"Its figures went to {_shown(LOADED)} only: NOT to latest.json, RESULTS.md or the docs.",
        "Stop the other work and run again, or wait for quiet first: make bench BENCH_ARGS=\"--wait-quiet 1800\"",
        "=" * 100,
    ])  # fmt: skip


def targets(out: dict) -> dict[str, bool | None]:
    """Issue 7's targets, met or not in this run (None: not measured)."""
    runs = out["comparisons"]
    rss = out.get("rss_ratio_1000_vs_100")
    dagster = out.get("dagster_overhead_s")
    first = out.get("first_firm")
    load = out.get("load_ratio_vs_bare")
    return {
        "speedup_vs_naive_ge_2": all(r["speedup_vs_naive"] >= 2.0 for r in runs),
        "cosine_mean_ge_0.99": all(r["cosine_mean_vs_fp32"] >= 0.99 for r in runs),
        "ari_ge_floor_minus_0.05": all(r["ari_vs_reference"] >= r["ari_seed_floor"] - 0.05 for r in runs),
        "rss_1000_within_10pct_of_100": None if rss is None else rss <= 1.10,
        "dagster_overhead_le_2s": None if dagster is None else dagster <= 2.0,
        # A fresh process's first firm well under the ~10 s numba JIT: the compiled kernels came from the cache.
        "jit_paid_once": None if first is None else first["second_process"]["first_firm_s"] < JIT_SECONDS / 2,
        **quality_targets(out),
        "load_ratio_le_0_35": None if load is None else load <= cold_start.TARGET_RATIO,
        "rerun_speedup_ge_3x": (out["embedding_store"]["rerun_speedup"] >= embedding_store.TARGET_SPEEDUP
                                if "rerun_speedup" in out.get("embedding_store", {}) else None),
    }


def load_line(out: dict) -> str:
    """Whether the machine was quiet while the run measured, as RESULTS.md records it."""
    ld = out.get("load")
    if not ld:
        return "Load: not sampled (a run from before issue 29)."
    busy = ld["max_others_busy_cores"]
    verdict = "**LOADED: not the latest figures**" if ld["loaded"] else "**quiet machine**"
    return (f"Load: {verdict} — load {ld['load_1m_at_start']:.2f} at start, other processes' CPU at most "
            f"{'?' if busy is None else f'{busy:.2f}'} cores over {len(ld['samples'])} samples (limit "
            f"{ld['threshold_cores']:.2f}).")  # fmt: skip


def _span(row: dict) -> str:
    lo, hi = row.get("speedup_vs_fp32_spread") or (float("nan"), float("nan"))
    return f"{lo:.2f}-{hi:.2f}"


def render(out: dict) -> str:
    m = out["machine"]
    lines = [
        f"\n## {out['date']} — {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, "
        f"load {m['load_avg_1m_at_start']:.1f} at start, GPU: {m['gpu']}",
        "",
        load_line(out),
        "",
        f"Worker: embedding on {out['worker']['backend']} in {out['worker']['precision']}, {out['worker']['pipeline_depth']} firm(s) "
        f"embedded ahead of the fit. Versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(out["versions"].items())),
        "",
        "Naive loop and worker interleaved on the same firms (worker first in odd repetitions, naive first in even "
        "ones); each figure the median of the repetitions, [min-max] of the per-repetition ratio beside it.",
        "",
        "| corpus | firms | reps | sentences | naive firms/s | worker firms/s | speedup [min-max] | embed sent/s (ours / bare fp32) "
        "| embed speedup [min-max] | cosine mean (min) | ARI vs ref | ARI seed floor | old floor (UMAP) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["comparisons"]:
        sp = r.get("speedup_vs_naive_spread") or [float("nan")] * 2
        es = r.get("embed_speedup_vs_fp32_spread") or [float("nan")] * 2
        lines.append(
            f"| {r['corpus']} | {r['firms']} | {r.get('repeats', 1)} | {r['sentences']} | {r['naive_firms_per_s']:.3f} | "
            f"{r['worker_firms_per_s']:.3f} | **{r['speedup_vs_naive']:.2f}x** [{sp[0]:.2f}-{sp[1]:.2f}] | "
            f"{r['embed_sentences_per_s']:.0f} / {r['bare_fp32_sentences_per_s']:.0f} | "
            f"{r['embed_speedup_vs_fp32']:.2f}x [{es[0]:.2f}-{es[1]:.2f}] | "
            f"{r['cosine_mean_vs_fp32']:.4f} ({r['cosine_min_vs_fp32']:.4f}) | {r['ari_vs_reference']:.3f} | "
            f"{r['ari_seed_floor']:.3f} | {r.get('ari_seed_floor_umap', float('nan')):.3f} |"
        )
    if out.get("embedders"):
        lines.append("\nOther embedders on the same sentences (alternating with a bare fp32 encode): " + "; ".join(
            f"{e['embedder']}: {e['speedup_vs_fp32']:.2f}x [{_span(e)}] ({e['sentences_per_s']:.0f} sent/s), cosine mean "
            f"{e['cosine_mean']:.4f}, min {e['cosine_min']:.4f}" for e in out["embedders"]) + ".")  # fmt: skip
    if "first_firm" in out:
        f = out["first_firm"]
        lines.append(
            f"\nFirst firm in a fresh process: {f['first_process']['first_firm_s']:.1f} s (first process), "
            f"{f['second_process']['first_firm_s']:.1f} s (second process, warm numba cache in "
            f"`{f['numba_cache_dir']}`); model load {f['second_process']['model_load_s']:.1f} s."
        )
    if "cold_start" in out:
        lines += cold_start.render(out["cold_start"])
    if "rss" in out:
        parts = [f"{n} firms: {r['peak_rss_mb']:.0f} MB ({r['seconds']:.0f} s)" for n, r in out["rss"].items()]
        ratio = out["rss_ratio"]
        lines.append(f"\nPeak RSS of the processor ({next(iter(out['rss'].values()))['sentences_per_firm']} "
                     f"reused demo sentences per firm, {next(iter(out['rss'].values())).get('fit_workers', 0)} fit process(es)): " + "; ".join(parts) + f"; ratio {ratio:.3f}.")  # fmt: skip
    if "fit_pool" in out:
        lines.extend(fit_pool.render(out["fit_pool"]))
    if "dagster" in out:
        d = out["dagster"]
        stages = ", ".join(f"{k} {v:.2f}" for k, v in sorted(d["stage_seconds"].items()))
        lines.append(
            f"\nDagster, local launcher, one batch of {d['firms']} demo firms: partition {d['partition_wall_s']:.1f} s, "
            f"worker process {d['worker_wall_s']:.1f} s (run_batch {d['worker_run_batch_s']:.1f} s), overhead "
            f"**{d['dagster_overhead_s']:.1f} s** = launch to worker start {d['launch_to_worker_start_s']:.1f} s + "
            f"worker report to recorded {d['worker_end_to_recorded_s']:.1f} s. Stage seconds of that batch: {stages}."
        )
    if "embedding_store" in out:
        lines += embedding_store.render(out["embedding_store"])
    if "quality" in out:
        lines.append(render_quality(out["quality"]))
    if out.get("previous_quiet_run"):
        p = out["previous_quiet_run"]
        lines.append(f"\nAgainst the previous quiet run ({p['date']}): speedup {out['speedup_vs_naive']:.2f}x against "
                     f"{p['speedup_vs_naive']:.2f}x, {100 * p['relative_change']:+.1f}% (issue 29: within 10%).")  # fmt: skip
    met = ", ".join(f"{k}: {'yes' if v else 'NO' if v is not None else 'not measured'}"
                    for k, v in out.get("targets", {}).items())  # fmt: skip
    lines.append(f"\nTargets met: {met}.")
    for note in out["notes"]:
        lines.append(f"\nNote: {note}.")
    lines.append(f"\n(`make bench` took {out['bench_seconds']:.0f} s.)\n")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

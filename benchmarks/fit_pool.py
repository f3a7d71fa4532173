"""The fit pool's throughput: topic fits per second at 0 (in-process), 1 and 2 fit processes, on real calls.

    python -m benchmarks.fit_pool [--firms 12] [--workers 0,1,2]     # prints BENCH_JSON and the markdown

Two measurements on the same real Earnings-22 calls (``corpora.real_firms``):
- **fits/s**: the fits alone, on embeddings computed once beforehand, through ``FitPool.in_order`` once its
  processes are warm (their start-up is reported apart), or ``fit_firm`` in this process for 0; the median
  of ``rounds`` interleaved rounds. The rows must equal the in-process rows exactly, or the run says so.
- **firms/s**: the worker's processor end to end (model load, segmentation, embedding, fits) at each setting,
  a fresh processor each time, as a batch job would run it.
The peak-RSS check with the pool on is the RSS probe of ``run.py`` (``probes rss`` with FTM_FIT_WORKERS=1).
This module imports little at the top: the pool's spawned processes import it as their main module.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import time


def _rows(fit_rows) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "processing_timestamp"} for r in fit_rows.topic_rows]


def measure(n_firms: int = 12, workers: tuple[int, ...] = (0, 1, 2), quarter: str = "2024Q4", rounds: int = 3,
            end_to_end: bool = True) -> dict:
    """Fit throughput and end-to-end throughput at each number of fit processes (0: in-process)."""
    from benchmarks.corpora import bench_config, real_firms
    from ftm_assets.worker.fit import fit_firm
    from ftm_assets.worker.fit_pool import FitPool
    from ftm_assets.worker.processor import FirmProcessor

    firms = real_firms(n_firms)
    if not firms:
        return {"skipped": "real Earnings-22 calls absent"}
    log = logging.getLogger("bench.fit_pool")
    base = bench_config()

    def config(w: int):
        return dataclasses.replace(base, embedding=dataclasses.replace(base.embedding, fit_workers=w))

    processor = FirmProcessor(config(0), log)
    jobs = []
    for firm in firms:
        try:
            jobs.append(processor._fit_args(firm, quarter, processor.prepare(firm, quarter)))
        except Exception as exc:  # too short to model: the worker would skip it too
            log.warning("%s left out: %s", firm.firm_id, exc)
    n_sentences = sum(len(j[2]) for j in jobs)
    del processor

    # Every setting warm first, then interleaved rounds (the order rotates): a shared machine's load drifts.
    pools, start_s = {}, {}
    try:
        for w in workers:
            t0 = time.perf_counter()
            if w == 0:
                fit_firm(*jobs[0])  # imports and lazy set-up, as a pool process's warm-up does
            else:
                pools[w] = FitPool(w)
                pools[w].wait_ready()
            start_s[w] = time.perf_counter() - t0
        seconds: dict[int, list[float]] = {w: [] for w in workers}
        rows_of: dict[int, list] = {}
        for r in range(rounds):
            for w in workers[r % len(workers):] + workers[: r % len(workers)]:
                t0 = time.perf_counter()
                if w == 0:
                    out = [fit_firm(*j) for j in jobs]
                else:
                    out = [res for _, res in pools[w].in_order((i, j) for i, j in enumerate(jobs))]
                seconds[w].append(time.perf_counter() - t0)
                failed = [x for x in out if isinstance(x, Exception)]
                if failed:
                    raise RuntimeError(f"{len(failed)} fits failed at {w} fit process(es): {failed[0]!r}")
                rows_of[w] = [_rows(x) for x in out]
    finally:
        for pool in pools.values():
            pool.close()
    reference = rows_of[workers[0]]
    fits = [{"fit_workers": w, "fits": len(jobs), "seconds": statistics.median(seconds[w]),
             "fits_per_s": len(jobs) / statistics.median(seconds[w]), "rounds_s": seconds[w],
             "pool_start_s": start_s[w], "identical_to_first": rows_of[w] == reference} for w in workers]

    e2e: list[dict] = []
    for w in workers if end_to_end else ():
        t0 = time.perf_counter()
        proc = FirmProcessor(config(w), log)
        load_s = time.perf_counter() - t0
        done = sum(not isinstance(r, Exception) for _, r in proc.results(firms, quarter))
        wall = time.perf_counter() - t0
        e2e.append({"fit_workers": w, "firms": len(firms), "fitted": done, "load_s": load_s,
                           "seconds": wall, "firms_per_s": len(firms) / wall,
                           "stage_seconds": {k: round(v, 2) for k, v in proc.timings.items()}})
        del proc
    by_w = {f["fit_workers"]: f for f in fits}
    return {
        "firms": len(jobs),
        "sentences": n_sentences,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "fits": fits,
        "end_to_end": e2e,
        "fit_speedup_2_vs_1": by_w[2]["fits_per_s"] / by_w[1]["fits_per_s"] if {1, 2} <= set(by_w) else None,
        "identical": all(f["identical_to_first"] for f in fits),
    }


def render(result: dict) -> list[str]:
    """Markdown lines for RESULTS.md."""
    if "skipped" in result:
        return [f"\nFit pool: not measured ({result['skipped']})."]
    lines = [
        f"\nFit pool on {result['firms']} real calls ({result['sentences']} sentences), {result['cores']} cores, "
        f"load {result['load_avg_1m']:.1f}; fits on precomputed embeddings, then the processor end to end:",
        "",
        "| fit processes | fits/s | pool start (s) | same rows as in-process | firms/s end to end (load, embed, fit) |",
        "|---|---|---|---|---|",
    ]
    e2e = {e["fit_workers"]: e for e in result["end_to_end"]}
    for f in result["fits"]:
        w = f["fit_workers"]
        e = e2e.get(w)
        lines.append(
            f"| {w if w else '0 (in-process)'} | {f['fits_per_s']:.2f} | {f['pool_start_s']:.1f} | "
            f"{'yes' if f['identical_to_first'] else 'NO'} | "
            + (f"{e['firms_per_s']:.3f} ({e['seconds']:.0f} s, load {e['load_s']:.1f} s) |" if e else "— |")
        )
    if result.get("fit_speedup_2_vs_1"):
        lines.append(f"\n2 fit processes vs 1: **{result['fit_speedup_2_vs_1']:.2f}x** fits/s.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=12)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-end-to-end", action="store_true", help="fits/s only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out = measure(args.firms, tuple(int(w) for w in args.workers.split(",")), rounds=args.rounds,
                  end_to_end=not args.no_end_to_end)
    print("BENCH_JSON " + json.dumps(out), flush=True)
    print("\n".join(render(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

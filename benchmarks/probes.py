"""Measurements that need a fresh process: the first firm's time, and the worker's peak RSS.

    python -m benchmarks.probes first-firm            # JSON: model load and first-firm seconds
    python -m benchmarks.probes rss --firms 1000      # JSON: peak RSS over a batch of cheap firms

The RSS probe streams ``--firms`` firms of ``--sentences`` sentences each through ``FirmProcessor.results``
(the worker's own scheduling, embedding and fit), dropping each result as the batch loop does after a
checkpoint. Its firms reuse a pool of demo-corpus sentences, rotated per firm so no two firms are equal.
It measures the processor (model + per-firm working set), not the batch loop's read of the raw table.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time

from benchmarks.corpora import bench_config
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.segment import Component

QUARTER = "2024Q4"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def first_firm() -> dict:
    from benchmarks.corpora import demo_firms
    from ftm_assets.worker.processor import FirmProcessor

    firm = demo_firms(1)[0]
    t0 = time.perf_counter()
    processor = FirmProcessor(bench_config(), logging.getLogger("bench"))
    t1 = time.perf_counter()
    _, result = next(processor.results([firm], QUARTER))
    if isinstance(result, Exception):
        raise result
    return {"model_load_s": t1 - t0, "first_firm_s": time.perf_counter() - t1, "n_sentences": result.n_sentences}


def cheap_firms(n_firms: int, n_sentences: int) -> list[FirmInput]:
    from benchmarks.corpora import demo_firms
    from ftm_assets.worker.segment import segment

    pool = [s.text for f in demo_firms(3) for s in segment(f.components, min_words=4)]
    firms = []
    for i in range(n_firms):
        start = (i * 7) % len(pool)
        texts = [pool[(start + k) % len(pool)] for k in range(n_sentences)]
        comps = [Component(i, k, "Executives", t) for k, t in enumerate(texts)]
        firms.append(FirmInput(f"cheap-{i:05d}", f"Cheap {i}", None, None, None, comps))
    return firms


def rss(n_firms: int, n_sentences: int) -> dict:
    from ftm_assets.worker.processor import FirmProcessor

    firms = cheap_firms(n_firms, n_sentences)
    processor = FirmProcessor(bench_config(), logging.getLogger("bench"))
    _, warm = next(processor.results(firms[:1], QUARTER))  # model and JIT in memory before the baseline
    if isinstance(warm, Exception):
        raise warm
    after_first = _rss_mb()
    t0 = time.perf_counter()
    failed = 0
    for _, result in processor.results(firms, QUARTER):
        failed += isinstance(result, Exception)
    return {
        "firms": n_firms,
        "sentences_per_firm": n_sentences,
        "failed": failed,
        "rss_after_first_firm_mb": after_first,
        "peak_rss_mb": _rss_mb(),
        "fit_workers": processor.fit_workers,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=["first-firm", "rss"])
    parser.add_argument("--firms", type=int, default=100)
    parser.add_argument("--sentences", type=int, default=24)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out = first_firm() if args.probe == "first-firm" else rss(args.firms, args.sentences)
    print("BENCH_JSON " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Firm topics of the three theme quarters on real calls, fitted ONCE by the worker's own code and cached.

The theme benchmark (``bench_themes``) and clustering work read this cache instead of re-running the
worker: per quarter variant, the firm_topics rows (with centroids), the sentence rows exactly as ``FirmProcessor``
makes them and each sentence's fp16 embedding (what per-sentence exposure reads). The copy quarter is the first one again (same input, same machine: same topics).
Run: ``python -m benchmarks.theme_cache --out /tmp/ftm-theme-cache [--limit N]``.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.embedding_store import EmbeddingStore
from ftm_assets.worker.inputs import iter_firms
from ftm_assets.worker.processor import FirmProcessor
from ftm_assets_tests.support.earnings22_calls import read_calls
from ftm_assets_tests.support.theme_quarters import QUARTERS, quarter_rows


def fit_rows(processor: FirmProcessor, rows: list[dict], quarter: str) -> dict:
    """Topics, sentence rows (with ``component_type``) and each sentence's fp16 vector of every firm in ``rows``
    (raw component rows), fitted by ``processor`` as the worker would."""
    table = conform(pa.Table.from_pylist(rows), RAW_TRANSCRIPTS_SCHEMA, keep_extra=True)
    ids = list(dict.fromkeys(table.column("firm_id").to_pylist()))
    components = {(r["firm_id"], r["call_id"], r["component_order"]): r["component_type"] for r in rows}
    topics, sentences, vectors, failed = [], [], [], []
    processor.embedding_store = EmbeddingStore(None, [], processor.log)  # empty: each firm's vectors come back new
    for firm, result in processor.results(iter_firms(table, ids), quarter):
        if isinstance(result, Exception):
            failed.append((firm.firm_id, repr(result)))
            continue
        topics.extend(result.topic_rows)
        for s in result.sentence_rows:
            s["component_type"] = components.get((s["firm_id"], s["call_id"], s["component_order"]))
        sentences.extend(result.sentence_rows)
        vectors.append(result.embedding_use.new.vectors)  # fp16, one row per sentence row, in order
    return {"topics": topics, "sentences": sentences, "failed": failed,
            "vectors": np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float16)}


def fit_quarter(processor: FirmProcessor, calls: list[dict], quarter: str, variant: str) -> dict:
    return fit_rows(processor, quarter_rows(calls, quarter, variant), quarter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ftm-theme-cache"))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    calls = read_calls(args.limit)
    processor = FirmProcessor(WorkerConfig(quarter=QUARTERS[0], batch="000", storage_root="unused", run_id="cache"),
                              logging.getLogger("theme_cache"))
    args.out.mkdir(parents=True, exist_ok=True)
    for quarter, variant in zip(QUARTERS[:2], ("as_is", "dropped")):
        t0 = time.perf_counter()
        data = fit_quarter(processor, calls, quarter, variant)
        with open(args.out / f"{quarter}.pkl", "wb") as fh:
            pickle.dump(data, fh)
        print(f"{quarter} ({variant}): {len(data['topics'])} topic rows, {len(data['sentences'])} sentences, "
              f"{len(data['failed'])} failed, {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()

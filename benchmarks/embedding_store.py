"""Stored embeddings: a re-run of real calls with a new ``FTM_MIN_TOPIC_SIZE`` against the first run.

``python -m benchmarks.embedding_store [--firms 24]`` stages Earnings-22 calls as one batch on a local
storage root and runs the real worker (``run_batch``, the model loaded by each run as in a job) three times:
the first run (the store fills), a re-run with ``FTM_MIN_TOPIC_SIZE`` changed (a new inputs fingerprint, so
every topic is fitted again, but no sentence is embedded), and a run with the same changed setting on a fresh
root with ``FTM_EMBEDDING_STORE=off``. It reports each run's seconds without the model load (the worker's
``load`` stage, the same in all three and shown apart), the re-run's speedup over the first run (target
>= 3x) and over the run without the store, whether the re-run's topics equal that run's (every column but
the timestamp, centroids included) and the store's size per 1,000 firms. ``make bench`` runs it (key
``embedding_store``; ``--skip embedding-store``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.corpora import DEMO_QUARTER, bench_config, real_firms
from ftm_assets.readers import read_firm_topics
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.inputs import FirmInput

DEFAULT_FIRMS = 24
CHANGED_MIN_TOPIC_SIZE = 8  # the default is 5
TARGET_SPEEDUP = 3.0


def stage(storage: LocalStorage, firms: list[FirmInput], quarter: str = DEMO_QUARTER) -> None:
    """The firms as the quarter's raw transcripts and a one-batch manifest, as the upstream assets write them."""
    day = dt.date(int(quarter[:4]), 3 * int(quarter[-1]) - 1, 15)
    rows = [{"quarter": quarter, "firm_id": f.firm_id, "firm_name": f.firm_name, "call_id": 1,
             "earnings_call_date": day, "component_order": c.component_order, "speaker_type": c.speaker_type,
             "text": c.text} for f in firms for c in f.components]  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(conform(pa.Table.from_pylist(rows, schema=RAW_TRANSCRIPTS_SCHEMA), RAW_TRANSCRIPTS_SCHEMA), sink)
    storage.write_bytes(layout.raw_transcripts_part(quarter), sink.getvalue())
    write_manifest(storage, quarter, assign_batches(quarter, [f.firm_id for f in firms], 1))


def _run(root: Path, run_id: str, store: bool, **topics) -> dict:
    base = bench_config()
    cfg = WorkerConfig.from_extras({
        "quarter": DEMO_QUARTER, "batch": "000", "storage_root": str(root), "run_id": run_id,
        "topics": topics, "embedding": {**{k: v for k, v in base.embedding.__dict__.items()}, "store": store},
    })
    t0 = time.perf_counter()
    outcome = run_batch(cfg, LocalStorage(root), logging.getLogger("bench.embedding_store"))
    wall = time.perf_counter() - t0
    if outcome.error is not None or outcome.commit is None:
        raise RuntimeError(f"run {run_id} failed: {outcome.error}")
    seconds = outcome.commit.seconds
    return {"wall_s": round(wall, 2), "load_s": seconds.get("load", 0.0),
            "batch_s": round(wall - seconds.get("load", 0.0), 2),
            "embed_s": seconds.get("embed", 0.0), "fit_s": seconds.get("fit", 0.0),
            "sentences_embedded": outcome.commit.counts.get("sentences_embedded", 0),
            "sentences_reused": outcome.commit.counts.get("sentences_reused", 0),
            "sentences": outcome.commit.counts.get("sentences", 0),
            "firms_with_topics": outcome.commit.counts.get("firms_with_topics", 0),
            "embedding_parts": outcome.commit.embedding_parts}


def _topics(root: Path) -> str:
    """Every column but the timestamp, as exact text (floats by repr; a null permno's NaN equals itself)."""
    frame = read_firm_topics(str(root), DEMO_QUARTER).drop(columns="processing_timestamp")
    frame = frame.sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
    records = frame.map(lambda v: v.tolist() if hasattr(v, "tolist") else v).to_dict("records")
    return json.dumps(records, default=str)


def measure(n_firms: int = DEFAULT_FIRMS, workdir: Path | None = None) -> dict:
    """First run, re-run with a new minimum topic size, and that setting without the store; see the docstring."""
    firms = real_firms(n_firms)
    if not firms:
        return {"skipped": "the Earnings-22 calls are absent"}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        with_store, without = Path(tmp) / "with-store", Path(tmp) / "without-store"
        for root in (with_store, without):
            stage(LocalStorage(root), firms)
        first = _run(with_store, "first", True)
        before = _topics(with_store)
        rerun = _run(with_store, "rerun", True, hdbscan_min_cluster_size=CHANGED_MIN_TOPIC_SIZE)
        after = _topics(with_store)
        plain = _run(without, "no-store", False, hdbscan_min_cluster_size=CHANGED_MIN_TOPIC_SIZE)
        stored_bytes = sum((with_store / k).stat().st_size for k in rerun["embedding_parts"])
        identical = after == _topics(without)
    modelled = first["firms_with_topics"] or 1
    return {
        "firms": len(firms),
        "changed": {"FTM_MIN_TOPIC_SIZE": CHANGED_MIN_TOPIC_SIZE},
        "first": first, "rerun": rerun, "no_store": plain,
        "rerun_speedup": round(first["batch_s"] / rerun["batch_s"], 2),
        "rerun_speedup_vs_no_store": round(plain["batch_s"] / rerun["batch_s"], 2),
        "rerun_speedup_with_load": round(first["wall_s"] / rerun["wall_s"], 2),
        "topics_changed_by_setting": before != after,
        "topics_identical_to_no_store": identical,
        "stored_bytes": stored_bytes,
        "stored_bytes_per_sentence": round(stored_bytes / max(first["sentences"], 1), 1),
        "stored_mb_per_1000_firms": round(stored_bytes / modelled * 1000 / 1e6, 1),
    }


def measure_rounding(n_firms: int = 125) -> dict:
    """Ward topics on fp16-rounded against unrounded embeddings of the same real calls: ARI per call.

    The worker rounds every firm's embeddings to fp16 before the fit (so stored and fresh vectors give the same
    topics); this is what that rounding moved, on the same encoder output.
    """
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from benchmarks.naive import assignments
    from ftm_assets.worker.model.topic_model import fit_topics
    from ftm_assets.worker.processor import FirmProcessor
    from ftm_assets.worker.segment import segment

    cfg = bench_config()
    processor = FirmProcessor(cfg, logging.getLogger("bench.rounding"))
    params = cfg.topics
    aris, same = [], 0
    for firm in real_firms(n_firms):
        sentences = segment(firm.components, min_words=params.min_sentence_words)
        if len(sentences) < params.min_sentences:
            continue
        texts = [s.text for s in sentences]
        groups = [(s.call_id, s.component_order) for s in sentences]
        raw = processor.embedder.encode(texts)
        labels = []
        for emb in (raw, raw.astype(np.float16).astype(np.float32)):
            topics = fit_topics(texts, emb, params, use_gpu=False, groups=groups)
            labels.append(assignments(topics, len(texts)))
        aris.append(float(adjusted_rand_score(labels[0], labels[1])))
        same += int((labels[0] == labels[1]).all())
    values = np.asarray(aris)
    return {"calls": len(aris), "ari_mean": round(float(values.mean()), 4),
            "ari_median": round(float(np.median(values)), 4), "ari_min": round(float(values.min()), 4),
            "calls_identical": same, "embedder": f"{processor.backend} {processor.precision}"}


def render(result: dict) -> list[str]:
    """Markdown lines for RESULTS.md."""
    if "skipped" in result:
        return [f"\nStored embeddings: not measured ({result['skipped']})."]
    f, r, p = result["first"], result["rerun"], result["no_store"]
    return [
        f"\nStored embeddings, one batch of {result['firms']} real calls ({f['sentences']} sentences), the worker's "
        f"run_batch on a local root; seconds without the model load (each run loads it, in one process: "
        f"{f['load_s']:.1f} / {r['load_s']:.1f} / {p['load_s']:.1f} s; a fresh job also pays the imports):",
        "",
        "| run | seconds | embed s | fit s | sentences embedded | reused |",
        "|---|---|---|---|---|---|",
        f"| first (store fills) | {f['batch_s']:.1f} | {f['embed_s']:.1f} | {f['fit_s']:.1f} | "
        f"{f['sentences_embedded']} | {f['sentences_reused']} |",
        f"| re-run, FTM_MIN_TOPIC_SIZE={result['changed']['FTM_MIN_TOPIC_SIZE']} | {r['batch_s']:.1f} | "
        f"{r['embed_s']:.1f} | {r['fit_s']:.1f} | {r['sentences_embedded']} | {r['sentences_reused']} |",
        f"| same setting, FTM_EMBEDDING_STORE=off | {p['batch_s']:.1f} | {p['embed_s']:.1f} | {p['fit_s']:.1f} | "
        f"{p['sentences_embedded']} | {p['sentences_reused']} |",
        "",
        f"Re-run **{result['rerun_speedup']:.2f}x** faster than the first run ({result['rerun_speedup_vs_no_store']:.2f}x "
        f"than the same settings without the store; {result['rerun_speedup_with_load']:.2f}x counting the model "
        f"load); topics identical to the run without the store: "
        f"**{'yes' if result['topics_identical_to_no_store'] else 'NO'}** (the setting changed them: "
        f"{'yes' if result['topics_changed_by_setting'] else 'no'}). Store: {result['stored_bytes_per_sentence']:.0f} "
        f"bytes per sentence, **{result['stored_mb_per_1000_firms']:.0f} MB per 1,000 firms**.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=DEFAULT_FIRMS)
    parser.add_argument("--rounding", type=int, default=0,
                        help="instead: ARI of Ward topics on fp16-rounded vs unrounded embeddings, on N calls")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.rounding:
        print("BENCH_JSON " + json.dumps(measure_rounding(args.rounding)))
        return 0
    result = measure(args.firms)
    print("\n".join(render(result)))
    print("BENCH_JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

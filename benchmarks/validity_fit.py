"""Firm topics for the external-validity benchmarks, fitted ONCE by the worker's own code and cached on disk.

Two corpora: the demo generator's firms over consecutive quarters (each firm's true theme mix known), and the
125 Earnings-22 calls placed in one quarter (``theme_cache.fit_quarter``, the same rows ``make bench-themes``
fits). Per quarter a pickle under the cache folder holds the firm_topics rows (with centroids), the sentence
rows (with ``component_type``, so the panel's sections work), their vectors (the panel assigns each sentence
from its vector) and each firm's mean sentence embedding (the
``industry_p4_embed`` baseline). A pickle is named by the corpus, quarter and firm list, so a run with other
firms fits only what it lacks.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ftm_assets.quarters import Quarter
from ftm_assets.worker.inputs import iter_firms

log = logging.getLogger("validity")


@dataclass
class FittedQuarter:
    quarter: str
    topics: pd.DataFrame
    sentences: pd.DataFrame
    vectors: np.ndarray  # row i: the embedding of ``sentences``' row i (what the worker stores)
    mean_embedding: dict[str, np.ndarray]
    seconds: float  # fitting time when it was fitted (0 never: a cache hit keeps the original figure)


def demo_quarters(first: str, n: int) -> list[str]:
    """``n`` consecutive quarter keys from ``first``."""
    out = [Quarter.parse(first)]
    while len(out) < n:
        out.append(out[-1].next())
    return [q.key for q in out]


def _processor():
    from benchmarks.corpora import bench_config
    from ftm_assets.worker.processor import FirmProcessor

    return FirmProcessor(bench_config(), logging.getLogger("validity.worker"))


def _fit(processor, firms, quarter: str, component_types: dict) -> FittedQuarter:
    t0 = time.perf_counter()
    topics, sentences, vectors, means = [], [], [], {}
    for firm in firms:
        try:
            prepared = processor.prepare(firm, quarter)
            result = processor.finish(firm, quarter, prepared)
        except Exception as exc:  # too little text: the worker records a failure, the benchmark skips the firm
            log.warning("%s %s skipped: %s", quarter, firm.firm_id, exc)
            continue
        means[firm.firm_id] = prepared.embeddings.mean(axis=0)
        vectors.append(prepared.embeddings[[s["sentence_id"] for s in result.sentence_rows]])
        topics.extend(result.topic_rows)
        for s in result.sentence_rows:
            s["component_type"] = component_types.get((s["firm_id"], s["component_order"]))
        sentences.extend(result.sentence_rows)
    return FittedQuarter(quarter, pd.DataFrame(topics), pd.DataFrame(sentences),
                         np.concatenate(vectors).astype(np.float32), means, round(time.perf_counter() - t0, 1))


def _cached(path: Path, make) -> FittedQuarter:
    if path.exists():
        return pickle.loads(path.read_bytes())
    fitted = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(fitted))
    return fitted


def _digest(ids: list) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:10]


def fit_demo(indices: list[int], quarters: list[str], cache: Path) -> list[FittedQuarter]:
    """The demo firms at ``indices`` (positions in the demo firm list) fitted in each quarter, cached."""
    from ftm_assets.transcripts.demo import demo_transcripts

    processor = None
    out = []
    for quarter in quarters:
        path = cache / f"demo-{quarter}-{_digest(indices)}.pkl"

        def make(quarter=quarter):
            nonlocal processor
            processor = processor or _processor()
            table = demo_transcripts(quarter, n_firms=max(indices) + 1)
            ids = list(dict.fromkeys(table.column("firm_id").to_pylist()))
            wanted = [ids[i] for i in indices]
            rows = table.select(["firm_id", "component_order", "component_type"]).to_pylist()
            types = {(r["firm_id"], r["component_order"]): r["component_type"] for r in rows}
            return _fit(processor, iter_firms(table, wanted), quarter, types)

        out.append(_cached(path, make))
        log.info("demo %s: %d firms (%.0f s when fitted)", quarter, len(out[-1].mean_embedding), out[-1].seconds)
    return out


def fit_earnings22(quarter: str, cache: Path, limit: int | None = None) -> FittedQuarter:
    """The Earnings-22 calls as one quarter (``theme_quarters.quarter_rows``, as is), cached."""
    import pyarrow as pa

    from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
    from ftm_assets_tests.support.earnings22_calls import read_calls
    from ftm_assets_tests.support.theme_quarters import quarter_rows

    calls = read_calls(limit)

    def make():
        done = _largest_prefix(cache, quarter, len(calls))  # a run on fewer calls: fit only the rest
        rows = quarter_rows(calls, quarter, "as_is")
        table = conform(pa.Table.from_pylist(rows), RAW_TRANSCRIPTS_SCHEMA, keep_extra=True)
        ids = list(dict.fromkeys(table.column("firm_id").to_pylist()))
        have = set(done.mean_embedding) | set(done.topics["firm_id"]) if done else set()
        types = {(r["firm_id"], r["component_order"]): r["component_type"] for r in rows}
        fitted = _fit(_processor(), iter_firms(table, [i for i in ids if i not in have]), quarter, types)
        return _joined(done, fitted) if done else fitted

    return _cached(cache / f"e22-{quarter}-{len(calls)}.pkl", make)


def _largest_prefix(cache: Path, quarter: str, n: int) -> FittedQuarter | None:
    """The cached fit of the most calls fewer than ``n`` (the first calls of the file: ids are positional)."""
    sizes = [int(p.stem.rsplit("-", 1)[1]) for p in cache.glob(f"e22-{quarter}-*.pkl")]
    best = max((k for k in sizes if k < n), default=None)
    return pickle.loads((cache / f"e22-{quarter}-{best}.pkl").read_bytes()) if best else None


def _joined(a: FittedQuarter, b: FittedQuarter) -> FittedQuarter:
    return FittedQuarter(a.quarter, pd.concat([a.topics, b.topics], ignore_index=True),
                         pd.concat([a.sentences, b.sentences], ignore_index=True), np.concatenate([a.vectors, b.vectors]),
                         {**a.mean_embedding, **b.mean_embedding}, round(a.seconds + b.seconds, 1))


def from_threshold_cache(path: Path) -> FittedQuarter:
    """The as-is quarter of ``benchmarks.theme_threshold``'s cache (``real-<n>.pkl``): the same worker fit of the
    same calls, so a machine that ran that sweep need not fit them again (no mean embeddings: covid needs none)."""
    quarter, topics, sentences, vectors = pickle.loads(path.read_bytes())[0]
    return FittedQuarter(quarter, topics, sentences, vectors, {}, 0.0)

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

log = logging.getLogger("validity")


@dataclass
class FittedQuarter:
    quarter: str
    topics: pd.DataFrame
    sentences: pd.DataFrame
    vectors: np.ndarray  # row i: the embedding of ``sentences``' row i (what the worker stores)
    mean_embedding: dict[str, np.ndarray]
    seconds: float  # fitting time when it was fitted (0 never: a cache hit keeps the original figure)


def replay_quarter(fitted: FittedQuarter, params):
    """The one fitted quarter replayed through the themes alone (a first quarter): its ``QuarterOutcome``.
    Replayed once per setting; every figure of that quarter reads the same outcome."""
    from ftm_assets.themes.chain import replay_in_memory

    return replay_in_memory([(fitted.quarter, fitted.topics, fitted.sentences, fitted.vectors)], params)[0]


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


def _fit(processor, rows: list[dict], quarter: str) -> FittedQuarter:
    """Every firm of ``rows`` (raw component rows) fitted by ``theme_cache.fit_rows``, the one home for fitting
    calls with the worker's code and keeping their vectors; firms the worker refuses are left out."""
    from benchmarks.theme_cache import fit_rows

    t0 = time.perf_counter()
    data = fit_rows(processor, rows, quarter)
    for firm_id, error in data["failed"]:
        log.warning("%s %s skipped: %s", quarter, firm_id, error)
    sentences = pd.DataFrame(data["sentences"])
    vectors = np.asarray(data["vectors"], dtype=np.float32)
    means = {f: vectors[i].mean(axis=0) for f, i in sentences.groupby("firm_id").indices.items()} if len(sentences) else {}
    return FittedQuarter(quarter, pd.DataFrame(data["topics"]), sentences, vectors, means,
                         round(time.perf_counter() - t0, 1))


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
            rows = demo_transcripts(quarter, n_firms=max(indices) + 1).to_pylist()
            ids = list(dict.fromkeys(r["firm_id"] for r in rows))
            wanted = {ids[i] for i in indices}
            return _fit(processor, [r for r in rows if r["firm_id"] in wanted], quarter)

        out.append(_cached(path, make))
        log.info("demo %s: %d firms (%.0f s when fitted)", quarter, len(out[-1].mean_embedding), out[-1].seconds)
    return out


def fit_earnings22(quarter: str, cache: Path, limit: int | None = None) -> FittedQuarter:
    """The Earnings-22 calls as one quarter (``theme_quarters.quarter_rows``, as is), cached."""
    from ftm_assets_tests.support.earnings22_calls import read_calls
    from ftm_assets_tests.support.theme_quarters import quarter_rows

    calls = read_calls(limit)

    def make():
        done = _largest_prefix(cache, quarter, len(calls))  # a run on fewer calls: fit only the rest
        have = set(done.mean_embedding) if done else set()
        rows = [r for r in quarter_rows(calls, quarter, "as_is") if r["firm_id"] not in have]
        fitted = _fit(_processor(), rows, quarter)
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

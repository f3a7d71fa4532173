"""Processes one (quarter, batch): the loop with checkpoints, the circuit breaker and the final commit.

Pure of Pipes: ``run_batch`` takes a logger and returns a ``BatchOutcome``; ``__main__`` reports it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

from ftm_assets import __version__
from ftm_assets.manifest import read_batch
from ftm_assets.storage import Storage
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.embed import Embedder, resolve_device, resolve_model_path
from ftm_assets.worker.failures import (
    CircuitBreaker,
    EmptyTranscript,
    InsufficientText,
    error_class_of,
    is_critical,
)
from ftm_assets.worker.inputs import FirmInput, iter_firms, read_raw_for_firms
from ftm_assets.worker.outputs import BatchState, BatchWriter, now_utc
from ftm_assets.worker.segment import segment
from ftm_assets.worker.topic_model import fit_topics, gpu_backend_available

PROGRESS_EVERY_S = 30.0


@dataclass
class BatchOutcome:
    state: BatchState
    commit: dict[str, Any] | None = None
    error: BaseException | None = None  # set when the job must fail (breaker, strict mode, critical)
    failures_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FirmResult:
    topic_rows: list[dict]
    sentence_rows: list[dict]
    n_sentences: int


def library_versions() -> dict[str, str]:
    out = {"ftm_assets": __version__}
    for dist in ("bertopic", "sentence-transformers", "umap-learn", "hdbscan", "torch", "scikit-learn", "cuml-cu11"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


class FirmProcessor:
    """Loads the model once per job, then turns one firm's components into topic and sentence rows."""

    def __init__(self, cfg: WorkerConfig, log: logging.Logger):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.model_path = resolve_model_path(cfg.embedding_model)
        self.use_gpu = self.device == "cuda" and gpu_backend_available()
        log.info(
            f"Loading embedding model {self.model_path} on {self.device}; "
            f"topic model on {'GPU (cuML)' if self.use_gpu else 'CPU (umap-learn + hdbscan)'}."
        )
        self.embedder = Embedder(self.model_path, self.device, cfg.topics.embedding_batch_size)
        self.timings: dict[str, float] = {}

    def file_metadata(self) -> dict[str, str]:
        return {
            "ftm.embedding_model": self.model_path,
            "ftm.device": self.device,
            "ftm.topic_backend": "cuml" if self.use_gpu else "umap-learn+hdbscan",
            "ftm.random_seed": str(self.cfg.topics.random_seed),
            "ftm.params": json.dumps(self.cfg.topics.__dict__, sort_keys=True),
            "ftm.versions": json.dumps(library_versions(), sort_keys=True),
        }

    def _timed(self, stage: str, fn: Callable, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def process(self, firm: FirmInput, quarter: str) -> FirmResult:
        params = self.cfg.topics
        if not any((c.text or "").strip() for c in firm.components):
            raise EmptyTranscript(f"Firm {firm.firm_id} has no transcript text in {quarter}.")
        sentences = self._timed("segment", segment, firm.components, min_words=params.min_sentence_words)
        if len(sentences) < params.min_sentences:
            raise InsufficientText(
                f"Firm {firm.firm_id} has {len(sentences)} usable sentences in {quarter} (after dropping operator "
                f"lines and sentences under {params.min_sentence_words} words); at least {params.min_sentences} "
                "are needed to fit a topic model."
            )
        texts = [s.text for s in sentences]
        embeddings = self._timed("embed", self.embedder.encode, texts)
        topics = self._timed("fit", lambda: fit_topics(texts, embeddings, params, use_gpu=self.use_gpu))
        stamp = now_utc()
        topic_rows = [
            {
                "firm_id": firm.firm_id,
                "firm_name": firm.firm_name,
                "quarter": quarter,
                "permno": firm.permno,
                "gvkey": firm.gvkey,
                "earnings_call_date": firm.earnings_call_date,
                "topic_id": t.topic_id,
                "representation": t.representation,
                "keywords": t.keywords,
                "n_sentences": len(t.sentence_ids),
                "sentence_ids": t.sentence_ids,
                "processing_timestamp": stamp,
            }
            for t in topics
        ]
        sentence_rows = [
            {
                "quarter": quarter,
                "firm_id": firm.firm_id,
                "sentence_id": s.sentence_id,
                "call_id": s.call_id,
                "component_order": s.component_order,
                "speaker_type": s.speaker_type,
                "text": s.text,
            }
            for s in sentences
        ]
        return FirmResult(topic_rows, sentence_rows, len(sentences))


def run_batch(
    cfg: WorkerConfig,
    storage: Storage,
    log: logging.Logger,
    processor_factory: Callable[[WorkerConfig, logging.Logger], FirmProcessor] = FirmProcessor,
) -> BatchOutcome:
    t_start = time.perf_counter()
    entry = read_batch(storage, cfg.quarter, cfg.batch)
    writer = BatchWriter(storage, cfg.quarter, cfg.batch, file_metadata={})
    state = _resume_or_start(writer, cfg, len(entry.firm_ids), log)
    done = set(state.firms_done)
    todo = [f for f in entry.firm_ids if f not in done]

    t0 = time.perf_counter()
    raw = read_raw_for_firms(storage, cfg.quarter, todo) if todo else None
    state.add_seconds("read", time.perf_counter() - t0)
    processor = processor_factory(cfg, log)
    writer.file_metadata = processor.file_metadata()

    breaker = CircuitBreaker(cfg.policy, processed=len(state.firms_done), failed=len(state.failures))
    outcome = BatchOutcome(state)
    pending_topics: list[dict] = []
    pending_sentences: list[dict] = []
    pending_firms: list[str] = []
    last_progress = time.perf_counter()
    t_loop = time.perf_counter()

    def flush() -> None:
        if not pending_firms:
            return
        t_w = time.perf_counter()
        writer.write_part(state, pending_topics, pending_sentences)
        state.firms_done.extend(pending_firms)
        writer.save_checkpoint(state)
        state.add_seconds("write", time.perf_counter() - t_w)
        pending_topics.clear(), pending_sentences.clear(), pending_firms.clear()

    try:
        for firm in iter_firms(raw, todo) if raw is not None else []:
            try:
                result = processor.process(firm, cfg.quarter)
            except Exception as exc:
                if is_critical(exc):
                    raise
                message = str(exc) or repr(exc)
                state.failures.append(
                    {
                        "quarter": cfg.quarter,
                        "batch": cfg.batch,
                        "firm_id": firm.firm_id,
                        "firm_name": firm.firm_name,
                        "error_class": error_class_of(exc),
                        "message": message,
                        "n_sentences": None,
                        "processing_timestamp": now_utc(),
                    }
                )
                log.warning(f"Firm {firm.firm_id} ({firm.firm_name}) failed: {error_class_of(exc)}: {message}")
                pending_firms.append(firm.firm_id)
                breaker.failure(firm.firm_id, message)
            else:
                pending_topics.extend(result.topic_rows)
                pending_sentences.extend(result.sentence_rows)
                pending_firms.append(firm.firm_id)
                state.add_count("sentences", result.n_sentences)
                state.add_count("topic_rows", len(result.topic_rows))
                state.add_count("topics", sum(1 for r in result.topic_rows if r["topic_id"] >= 0))
                state.add_count("firms_with_topics", int(any(r["topic_id"] >= 0 for r in result.topic_rows)))
                breaker.success()
            if len(pending_firms) >= cfg.checkpoint_every:
                flush()
            if time.perf_counter() - last_progress >= PROGRESS_EVERY_S:
                last_progress = time.perf_counter()
                _log_progress(log, state, len(pending_firms), t_loop, len(done))
        flush()
    except Exception as exc:  # breaker, strict mode or a critical error: keep what we know, then fail
        outcome.error = exc
        pending_firms.clear()
    finally:
        for stage, seconds in processor.timings.items():
            state.add_seconds(stage, seconds)
        processor.timings.clear()

    state.counts["firms_failed"] = len(state.failures)
    state.counts["firms_processed"] = len(state.firms_done) + len(pending_firms)
    if outcome.error is not None:
        # The checkpoint stays as of the last flush; the failures seen since are still written for the user.
        if state.failures:
            outcome.failures_key = writer.write_failures(state)
        return outcome
    outcome.failures_key = writer.write_failures(state)
    state.add_seconds("total", time.perf_counter() - t_start)
    outcome.commit = writer.commit(state, outcome.failures_key)
    writer.clear_checkpoint()
    _log_progress(log, state, 0, t_loop, len(done))
    return outcome


def _resume_or_start(writer: BatchWriter, cfg: WorkerConfig, firms_total: int, log: logging.Logger) -> BatchState:
    previous = writer.load_checkpoint()
    if previous is not None and previous.run_id == cfg.run_id:
        log.info(
            f"Resuming {cfg.quarter} batch {cfg.batch} from checkpoint {previous.checkpoint_seq}: "
            f"{len(previous.firms_done)} of {previous.firms_total} firms already done."
        )
        done = set(previous.firms_done)
        previous.failures = [f for f in previous.failures if f["firm_id"] in done]
        return previous
    if previous is not None:
        log.info(f"Discarding the checkpoint of run {previous.run_id}: this is a new run ({cfg.run_id}).")
    writer.retract_commit()
    state = BatchState(run_id=cfg.run_id, quarter=cfg.quarter, batch=cfg.batch, firms_total=firms_total)
    writer.save_checkpoint(state)
    return state


def _log_progress(log: logging.Logger, state: BatchState, pending: int, t_loop: float, resumed: int) -> None:
    n = len(state.firms_done) + pending
    elapsed = max(time.perf_counter() - t_loop, 1e-9)
    rate = (n - resumed) / elapsed
    left = state.firms_total - n
    eta = f", about {left / rate:.0f} s left" if rate > 0 and left > 0 else ""
    log.info(
        f"{state.quarter} batch {state.batch}: {n}/{state.firms_total} firms done "
        f"({len(state.failures)} failed), {rate:.2f} firms/s{eta}."
    )

"""Processes one (quarter, batch): the loop with checkpoints, the circuit breaker and the final commit.

Pure of Pipes: ``run_batch`` takes a logger and returns a ``BatchOutcome``; ``__main__`` reports it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ftm_assets.storage.manifest import read_batch
from ftm_assets.storage import Storage
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.failures import CircuitBreaker, error_class_of, is_critical
from ftm_assets.worker.inputs import iter_firms, read_raw_for_firms
from ftm_assets.worker.outputs import BatchState, BatchWriter, now_utc
from ftm_assets.worker.processor import FirmProcessor

PROGRESS_EVERY_S = 30.0


@dataclass
class BatchOutcome:
    state: BatchState
    commit: dict[str, Any] | None = None
    error: BaseException | None = None  # set when the job must fail (breaker, strict mode, critical)
    failures_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_batch(
    cfg: WorkerConfig,
    storage: Storage,
    log: logging.Logger,
    processor_factory: Callable[[WorkerConfig, logging.Logger], FirmProcessor] = FirmProcessor,
) -> BatchOutcome:
    t_start = time.perf_counter()
    entry = read_batch(storage, cfg.quarter, cfg.batch)
    writer = BatchWriter(storage, cfg.quarter, cfg.batch, file_metadata={})
    committed = writer.load_commit()
    if committed is not None and committed["run_id"] == cfg.run_id and writer.load_checkpoint() is None:
        # A restart of a job that already committed (killed after its commit record): nothing to redo.
        log.info(f"{cfg.quarter} batch {cfg.batch} was already committed by this run; reporting it again.")
        state = BatchState(run_id=cfg.run_id, quarter=cfg.quarter, batch=cfg.batch,
                           firms_total=committed["firms_total"], counts=committed["counts"],
                           seconds=committed["seconds"])
        return BatchOutcome(state, commit=committed, failures_key=committed["failures"])
    state = _resume_or_start(writer, cfg, len(entry.firm_ids), log)
    done = set(state.firms_done)
    todo = [f for f in entry.firm_ids if f not in done]

    t0 = time.perf_counter()
    raw = read_raw_for_firms(storage, cfg.quarter, todo) if todo else None
    state.add_seconds("read", time.perf_counter() - t0)
    t0 = time.perf_counter()
    processor = processor_factory(cfg, log)
    state.add_seconds("load", time.perf_counter() - t0)  # model load and the imports it needs (torch, umap)
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
        firms = iter_firms(raw, todo) if raw is not None else iter(())
        for firm, result in processor.results(firms, cfg.quarter):
            if isinstance(result, Exception):
                exc = result
                if is_critical(exc):
                    raise exc
                message = str(exc) or repr(exc)
                state.failures.append(
                    {
                        "quarter": cfg.quarter,
                        "batch": cfg.batch,
                        "firm_id": firm.firm_id,
                        "firm_name": firm.firm_name,
                        "error_class": error_class_of(exc),
                        "message": message,
                        "n_sentences": getattr(exc, "n_sentences", None),
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

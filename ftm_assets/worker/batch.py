"""Processes one (quarter, batch) under its lease: resume or start, the firm loop with checkpoints and the
circuit breaker, then the atomic commit and the deletion of files that no commit names.

The partition's output changes all at once or not at all: parts are written under this attempt's token,
the commit record is replaced in one write, and only then are earlier files deleted; a run that fails
leaves the previous commit (and its files) as they were. Pure of Pipes: ``run_batch`` takes a logger and
returns a ``BatchOutcome``; ``__main__`` reports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ftm_assets import constants as C
from ftm_assets.storage import Storage, StorageError, layout
from ftm_assets.storage.commit import CommitRecord, load_commit
from ftm_assets.storage.embeddings import encode_file, model_fingerprint
from ftm_assets.storage.lease import LeaseHeld, LeaseLost, PartitionLease
from ftm_assets.storage.manifest import BatchEntry, read_batch_and_count
from ftm_assets.storage.raw_inputs import raw_transcripts_versions
from ftm_assets.text.tone import TONE_VERSION
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.crash import crash_point
from ftm_assets.worker.embedding_store import EmbeddingStore, EmbeddingUse, candidate_files
from ftm_assets.worker.failures import (
    FAILED,
    SKIPPED,
    CircuitBreaker,
    PoisonFirms,
    error_class_of,
    is_critical,
    outcome_of,
)
from ftm_assets.worker.inputs import FirmInput, iter_firms, read_raw_for_firms
from ftm_assets.worker.outputs import BatchState, BatchWriter, now_utc
from ftm_assets.worker.model.embed import ModelNotFoundError, device_name, resolve_device, resolve_model_path
from ftm_assets.worker.model.tone_model import ToneModelError, resolve_tone_model, tone_model_fingerprint
from ftm_assets.worker.processor import FirmProcessor, FirmResult, library_versions

PROGRESS_EVERY_S = 30.0
ProcessorFactory = Callable[[WorkerConfig, logging.Logger], FirmProcessor]


@dataclass
class BatchOutcome:
    state: BatchState
    commit: CommitRecord | None = None
    error: BaseException | None = None  # set when the job must fail (lease, breaker, strict mode, critical)
    failures_key: str | None = None
    previous_commit: CommitRecord | None = None  # the output that stays the partition's when this run fails

    def failure_message(self, storage: Storage) -> str:
        """What failed, where this run's own files are, and which output stays current."""
        s = self.state
        if isinstance(self.error, LeaseHeld):
            head = f"{s.quarter} batch {s.batch} was not started: {self.error}"
        else:
            reason = str(self.error).rstrip(". ")
            head = (f"{s.quarter} batch {s.batch} failed after {len(s.firms_done)} of {s.firms_total} firms: "
                    f"{type(self.error).__name__}: {reason}.")
        lost = isinstance(self.error, LeaseLost)
        own = []
        if s.topic_parts and not lost:
            own.append(f"{len(s.topic_parts)} checkpointed part(s) listed in "
                       f"{storage.uri(layout.checkpoint(s.quarter, s.batch))} (the next run resumes from them)")
        if self.failures_key:
            own.append(f"failures so far in {storage.uri(self.failures_key)}")
        where = f" This run's own files: {'; '.join(own)}." if own else ""
        prev = self.previous_commit
        if lost:
            kept = (f" The partition's output is the commit of run {prev.run_id} ({prev.committed_at}), not this run's."
                    if prev else " The partition has no committed output.")
        else:
            kept = (f" The partition's output is unchanged: the commit of run {prev.run_id} ({prev.committed_at})."
                    if prev else " The partition has no committed output yet.")
        return head + where + kept


@dataclass(frozen=True)
class BatchInputs:
    """The batch's manifest entry and the fingerprint that a checkpoint must match to be resumed."""

    entry: BatchEntry
    batch_count: int
    fingerprint: str

    @classmethod
    def read(cls, storage: Storage, cfg: WorkerConfig) -> "BatchInputs":
        entry, batch_count = read_batch_and_count(storage, cfg.quarter, cfg.batch)
        raw = raw_transcripts_versions(storage, cfg.quarter)
        identity = {"manifest": entry.fingerprint, "batch_count": batch_count, "raw_transcripts": raw,
                    "topics": cfg.topics.identity(), "embedding": _result_settings(cfg),
                    "code": _code_identity(cfg)}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        return cls(entry, batch_count, digest)


def _result_settings(cfg: WorkerConfig) -> dict[str, str | None]:
    """The embedding settings that change a firm's rows: its topics, or its sentences' tone_model (not the
    prefetch depth or cache folder)."""
    return {k: getattr(cfg.embedding, k) for k in ("model", "device", "backend", "precision", "tone_model")}


def _code_identity(cfg: WorkerConfig) -> dict[str, str]:
    """What else changes the output: package and library versions, the model's content and the GPU model, so a
    fixed image or another model never resumes next to parts of the old one."""
    try:
        model = model_fingerprint(resolve_model_path(cfg.embedding.model))
    except ModelNotFoundError:
        model = "missing"  # the model load reports it, with what to do
    requested = cfg.embedding.device or C.DEVICE
    try:
        device = device_name(resolve_device(requested))
    except (RuntimeError, ValueError):
        device = requested  # the model load reports it, with what to do
    try:
        tone_model = tone_model_fingerprint(resolve_tone_model(cfg.embedding.tone_model))
    except ToneModelError:
        tone_model = "missing"  # the processor reports it, with the path
    return {"versions": json.dumps(library_versions(), sort_keys=True), "model": model, "device": device,
            "tone_model": tone_model, "tone_lm": TONE_VERSION}


def new_token(run_id: str) -> str:
    """A short name for this attempt (worker process), unique per attempt: part of its file names."""
    head = re.sub(r"[^A-Za-z0-9]", "", run_id)[:8] or "run"
    return f"{head}-{secrets.token_hex(3)}"


def run_batch(
    cfg: WorkerConfig,
    storage: Storage,
    log: logging.Logger,
    processor_factory: ProcessorFactory = FirmProcessor,
) -> BatchOutcome:
    """Take the partition's lease, process the batch, commit; the lease is given back however it ends."""
    token = new_token(cfg.run_id)
    lease = PartitionLease(storage, cfg.quarter, cfg.batch, cfg.run_id, token, log=log)
    try:
        lease.acquire()
    except LeaseHeld as exc:
        state = BatchState(run_id=cfg.run_id, quarter=cfg.quarter, batch=cfg.batch)
        return BatchOutcome(state, error=exc, previous_commit=load_commit(storage, cfg.quarter, cfg.batch))
    lease.start_renewing()
    try:
        return _run_leased(cfg, storage, log, processor_factory, lease, token)
    finally:
        lease.release()


def _run_leased(cfg: WorkerConfig, storage: Storage, log: logging.Logger, processor_factory: ProcessorFactory,
                lease: PartitionLease, token: str) -> BatchOutcome:
    t_start = time.perf_counter()
    inputs = BatchInputs.read(storage, cfg)
    writer = BatchWriter(storage, cfg.quarter, cfg.batch, token, file_metadata={})
    committed, checkpoint = writer.load_commit(), writer.load_checkpoint()
    if _committed_by_this_run(cfg, inputs, committed, checkpoint):
        log.info(f"{cfg.quarter} batch {cfg.batch} was already committed by this run; finishing and reporting it.")
        _finish_commit(writer, committed, lease, PoisonFirms(storage, cfg.quarter, cfg.batch, inputs.fingerprint),
                       log)
        return BatchOutcome(_state_of(committed), commit=committed, failures_key=committed.failures)
    state = _resume_or_start(writer, cfg, inputs, checkpoint, log)
    loop = FirmLoop(cfg, writer, lease, state, PoisonFirms(storage, cfg.quarter, cfg.batch, inputs.fingerprint), log)
    todo = loop.todo(inputs.entry.firm_ids)
    outcome = BatchOutcome(state, previous_commit=committed)
    try:
        raw, processor = _read_and_load(cfg, storage, todo, state, processor_factory, log)
    except Exception as exc:  # model missing, raw transcripts unreadable: fail with where things stand
        outcome.error = exc
        return outcome
    writer.file_metadata = processor.file_metadata()
    processor.embedding_store = (EmbeddingStore(storage, candidate_files(committed, state), log)
                                 if _store_enabled(cfg) else None)
    outcome.error = loop.run(processor, raw, todo)
    _count_outcomes(state, loop.pending.firms)
    if isinstance(outcome.error, LeaseLost):  # another run owns the partition now: write nothing more
        outcome.previous_commit = load_commit(storage, cfg.quarter, cfg.batch)
        return outcome
    if outcome.error is not None:
        # The checkpoint stays as of the last flush; the failures seen since are still written for the user.
        outcome.failures_key = writer.write_failures(state) if state.failures else None
        return outcome
    outcome.failures_key = writer.write_failures(state)
    state.add_seconds("total", time.perf_counter() - t_start)
    try:
        outcome.commit = _commit(writer, state, inputs, lease, loop.poison, outcome.failures_key, log)
    except LeaseLost as exc:  # another run took the partition over while this one stalled: it must not commit
        outcome.error = exc
        outcome.previous_commit = load_commit(storage, cfg.quarter, cfg.batch)
        return outcome
    loop.log_progress()
    return outcome


def _store_enabled(cfg: WorkerConfig) -> bool:
    """``FTM_EMBEDDING_STORE`` (default on): reuse and keep the batch's sentence embeddings."""
    return C.EMBEDDING_STORE if cfg.embedding.store is None else cfg.embedding.store


def _committed_by_this_run(cfg: WorkerConfig, inputs: BatchInputs, committed: CommitRecord | None,
                           checkpoint: BatchState | None) -> bool:
    """A restart of a worker whose run had already committed (killed after its commit record)."""
    return (committed is not None and committed.run_id == cfg.run_id
            and committed.inputs_fingerprint == inputs.fingerprint
            and (checkpoint is None or checkpoint.topic_parts == committed.firm_topics_parts))


def _state_of(record: CommitRecord) -> BatchState:
    return BatchState(run_id=record.run_id, quarter=record.quarter, batch=record.batch,
                      firms_total=record.firms_total, counts=dict(record.counts), seconds=dict(record.seconds),
                      inputs_fingerprint=record.inputs_fingerprint)


def _resume_or_start(writer: BatchWriter, cfg: WorkerConfig, inputs: BatchInputs, previous: BatchState | None,
                     log: logging.Logger) -> BatchState:
    """The checkpoint of any run made from the same inputs and settings whose parts are all there, else a fresh
    start (a stalled run's late checkpoint may name parts its successor deleted)."""
    missing = writer.missing_parts(previous) if previous is not None else []
    if missing:
        log.warning(f"Discarding the checkpoint of run {previous.run_id}: {len(missing)} part(s) it names are "
                    f"gone (first: {writer.storage.uri(missing[0])}); starting {cfg.quarter} batch {cfg.batch} "
                    "afresh.")
    if previous is not None and not missing and previous.inputs_fingerprint == inputs.fingerprint:
        log.info(
            f"Resuming {cfg.quarter} batch {cfg.batch} from checkpoint {previous.checkpoint_seq} of run "
            f"{previous.run_id}: {len(previous.firms_done)} of {previous.firms_total} firms already done."
        )
        done = set(previous.firms_done)
        previous.failures = [f for f in previous.failures if f["firm_id"] in done]
        previous.run_id = cfg.run_id
        return previous
    if previous is not None and not missing:
        log.info(f"Discarding the checkpoint of run {previous.run_id}: its inputs or topic settings differ from "
                 f"this run's (fingerprint {previous.inputs_fingerprint or 'none'} vs {inputs.fingerprint}).")
    # Its stored embeddings stay reusable: named as carried until this run's commit keeps the ones it used.
    carried = list(dict.fromkeys(previous.embedding_parts + previous.embedding_carried)) if previous else []
    state = BatchState(run_id=cfg.run_id, quarter=cfg.quarter, batch=cfg.batch,
                       firms_total=len(inputs.entry.firm_ids), inputs_fingerprint=inputs.fingerprint,
                       embedding_carried=carried)
    writer.save_checkpoint(state)
    return state


def _read_and_load(cfg: WorkerConfig, storage: Storage, todo: list[str], state: BatchState,
                   processor_factory: ProcessorFactory, log: logging.Logger):
    """The raw rows of the firms left to do, and the processor (model load and the imports it needs)."""
    t0 = time.perf_counter()
    raw = read_raw_for_firms(storage, cfg.quarter, todo) if todo else None
    state.add_seconds("read", time.perf_counter() - t0)
    t0 = time.perf_counter()
    processor = processor_factory(cfg, log)
    state.add_seconds("load", time.perf_counter() - t0)
    return raw, processor


@dataclass
class Pending:
    """Firms finished since the last checkpoint: their rows go into the next part."""

    topics: list[dict] = field(default_factory=list)
    sentences: list[dict] = field(default_factory=list)
    firms: list[str] = field(default_factory=list)
    embeddings: list[EmbeddingUse] = field(default_factory=list)  # of firms embedded now or reused

    def clear(self) -> None:
        self.topics.clear()
        self.sentences.clear()
        self.firms.clear()
        self.embeddings.clear()


class FirmLoop:
    """The firm loop of one attempt: results and failures into parts, checkpoints, the circuit breaker."""

    def __init__(self, cfg: WorkerConfig, writer: BatchWriter, lease: PartitionLease, state: BatchState,
                 poison: PoisonFirms, log: logging.Logger):
        self.cfg, self.writer, self.lease, self.state, self.poison, self.log = cfg, writer, lease, state, poison, log
        self.pending = Pending()
        skipped = {f["firm_id"] for f in state.failures if f.get("outcome") == SKIPPED}
        failed = sum(1 for f in state.failures if f.get("outcome", FAILED) == FAILED)
        self.breaker = CircuitBreaker(cfg.policy, processed=len(state.firms_done) - len(skipped), failed=failed)
        self.resumed = len(state.firms_done)
        self.poisoned: dict = {}
        self.t_loop = self.last_progress = time.perf_counter()

    def todo(self, firm_ids: list[str]) -> list[str]:
        """Manifest firms not yet done; poison firms are set aside (they become failure rows)."""
        done = set(self.state.firms_done)
        self.poisoned = {f: c for f, c in self.poison.poisoned().items() if f in firm_ids and f not in done}
        return [f for f in firm_ids if f not in done and f not in self.poisoned]

    def run(self, processor: FirmProcessor, raw, todo: list[str]) -> BaseException | None:
        """Process every firm; return the error that must fail the job (None when the batch may commit)."""
        try:
            self.record_poison_firms()
            firms = iter_firms(raw, todo) if raw is not None else iter(())
            for firm, result in processor.results(firms, self.cfg.quarter):
                if isinstance(result, Exception):
                    self.record_error(firm, result)
                else:
                    self.record_result(firm, result)
                if len(self.pending.firms) >= self.cfg.checkpoint_every:
                    self.flush()
                if time.perf_counter() - self.last_progress >= PROGRESS_EVERY_S:
                    self.last_progress = time.perf_counter()
                    self.log_progress()
            self.flush()
            return None
        except Exception as exc:  # breaker, strict mode, lease lost or a critical error: keep what we know
            return exc
        finally:
            for stage, seconds in processor.timings.items():
                self.state.add_seconds(stage, seconds)
            processor.timings.clear()

    def record_poison_firms(self) -> None:
        for firm_id, candidate in self.poisoned.items():
            message = (f"Not processed: a critical error stopped attempt(s) {', '.join(candidate.attempts)} on this "
                       f"firm ({candidate.error_class}: {candidate.message}).")
            self.add_failure(firm_id, None, candidate.error_class, message, None, FAILED)
            self.log.warning(f"Firm {firm_id} is poison for these inputs: {message}")

    def record_error(self, firm: FirmInput, exc: Exception) -> None:
        if is_critical(exc):
            self.record_poison_candidate(firm, exc)
            raise exc
        message = str(exc) or repr(exc)
        outcome = outcome_of(exc)
        self.add_failure(firm.firm_id, firm.firm_name, error_class_of(exc), message,
                         getattr(exc, "n_sentences", None), outcome)
        verb = "skipped" if outcome == SKIPPED else "failed"
        self.log.warning(f"Firm {firm.firm_id} ({firm.firm_name}) {verb}: {error_class_of(exc)}: {message}")

    def record_poison_candidate(self, firm: FirmInput, exc: Exception) -> None:
        """Write down (firm, error, attempt) before the job fails, so the next attempt knows."""
        try:
            candidate = self.poison.record(firm.firm_id, exc, self.writer.token)
        except StorageError as store_exc:
            self.log.error(f"Could not record firm {firm.firm_id} as a poison candidate: {store_exc}")
            return
        then = ("the next attempt reports it as a failure row" if candidate.poisoned
                else "it becomes poison if it stops another attempt")
        self.log.error(f"Critical error on firm {firm.firm_id}: {error_class_of(exc)}: {exc}. Recorded in "
                       f"{self.writer.storage.uri(self.poison.key)}; {then}.")

    def add_failure(self, firm_id: str, firm_name: str | None, error_class: str, message: str,
                    n_sentences: int | None, outcome: str) -> None:
        self.state.failures.append({
            "quarter": self.cfg.quarter, "batch": self.cfg.batch, "firm_id": firm_id, "firm_name": firm_name,
            "error_class": error_class, "message": message, "n_sentences": n_sentences,
            "processing_timestamp": now_utc(), "outcome": outcome,
        })
        self.pending.firms.append(firm_id)
        if outcome == SKIPPED:
            self.breaker.skipped()
        else:
            self.breaker.failure(firm_id, message)

    def record_result(self, firm: FirmInput, result: FirmResult) -> None:
        self.pending.topics.extend(result.topic_rows)
        self.pending.sentences.extend(result.sentence_rows)
        self.pending.firms.append(firm.firm_id)
        self.state.add_count("sentences", result.n_sentences)
        self.state.add_count("topic_rows", len(result.topic_rows))
        self.state.add_count("topics", sum(1 for r in result.topic_rows if r["topic_id"] >= 0))
        self.state.add_count("firms_with_topics", int(any(r["topic_id"] >= 0 for r in result.topic_rows)))
        use = result.embedding_use
        if use is not None:
            self.pending.embeddings.append(use)
            self.state.add_count("sentences_embedded", use.embedded)
            self.state.add_count("sentences_reused", use.reused)
        self.breaker.success()

    def flush(self) -> None:
        """Write the pending firms' part, then the checkpoint that names it (in that order)."""
        if not self.pending.firms:
            return
        t0 = time.perf_counter()
        self.lease.check()
        self.store_embeddings()
        self.writer.write_part(self.state, self.pending.topics, self.pending.sentences)
        crash_point("after-part")
        self.state.firms_done.extend(self.pending.firms)
        self.writer.save_checkpoint(self.state)
        crash_point("after-checkpoint")
        self.state.add_seconds("write", time.perf_counter() - t0)
        self.pending.clear()

    def store_embeddings(self) -> None:
        """Write the pending firms' new vectors and name the stored files they reused (before the checkpoint).

        A store that cannot be written costs only reuse: the batch goes on with a warning.
        """
        uses = self.pending.embeddings
        for source in (u.source for u in uses if u.source):
            if source not in self.state.embedding_parts:
                self.state.embedding_parts.append(source)
        new = [u for u in uses if u.new is not None]
        if not new:
            return
        try:
            self.writer.write_embeddings(self.state, encode_file([u.new for u in new], new[0].identity))
        except StorageError as exc:
            self.log.warning(f"Could not store the embeddings of {len(new)} firm(s) ({exc}); a re-run embeds "
                             "them again.")

    def log_progress(self) -> None:
        state = self.state
        n = len(state.firms_done) + len(self.pending.firms)
        elapsed = max(time.perf_counter() - self.t_loop, 1e-9)
        rate = (n - self.resumed) / elapsed
        left = state.firms_total - n
        eta = f", about {left / rate:.0f} s left" if rate > 0 and left > 0 else ""
        failed = sum(1 for f in state.failures if f["outcome"] == FAILED)
        self.log.info(
            f"{state.quarter} batch {state.batch}: {n}/{state.firms_total} firms done "
            f"({failed} failed, {len(state.failures) - failed} skipped), {rate:.2f} firms/s{eta}."
        )


def _count_outcomes(state: BatchState, pending_firms: list[str]) -> None:
    failed = sum(1 for f in state.failures if f.get("outcome", FAILED) == FAILED)
    state.counts["firms_failed"] = failed
    state.counts["firms_skipped"] = len(state.failures) - failed
    state.counts["firms_processed"] = len(state.firms_done) + len(pending_firms)


def _commit(writer: BatchWriter, state: BatchState, inputs: BatchInputs, lease: PartitionLease,
            poison: PoisonFirms, failures_key: str, log: logging.Logger) -> CommitRecord:
    """Replace the commit record (fenced by the lease), then finish: checkpoint, poison list, old files."""
    lease.fence()
    record = writer.commit(state, failures_key, inputs.batch_count, inputs.entry.fingerprint)
    crash_point("after-commit")
    _finish_commit(writer, record, lease, poison, log)
    return record


def _finish_commit(writer: BatchWriter, record: CommitRecord, lease: PartitionLease, poison: PoisonFirms,
                   log: logging.Logger) -> None:
    writer.clear_checkpoint()
    poison.clear()
    lease.fence()  # still ours: nobody else's files can be among those deleted next
    writer.delete_unnamed(record, log)

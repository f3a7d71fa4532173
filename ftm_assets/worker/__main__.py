"""Entry point: ``python -m ftm_assets.worker`` (console script ``ftm-worker``), run by a launcher.

Opens the Pipes session, processes the (quarter, batch) named in the extras, reports materializations
and checks, and exits 0 only when the partition was committed.
"""

from __future__ import annotations

import time

# Stamped before any other import: the worker's imports and model load are its own work (they happen on
# AWS Batch too), so its wall time starts here; the interpreter's own start-up (~0.1 s) counts as launch.
_FIRST_LINE_AT = time.time()

import logging
import os
import sys
import traceback
from typing import NoReturn

from ftm_assets.env_values import VariableError
from ftm_assets.worker.env import WorkerEnv, apply_process_defaults

apply_process_defaults()  # before torch is imported (fixed MKL/OpenMP thread counts, offline model)

from ftm_assets.storage.manifest import read_batch
from ftm_assets.storage import open_storage
from ftm_assets.worker.batch import BatchOutcome, run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.pipes_io import NotLaunchedByDagsterError, open_pipes
from ftm_assets.worker.report import (
    WorkerTiming,
    check_results,
    failures_metadata,
    firm_topics_metadata,
    summarize_commit,
)

EXIT_OK = 0
EXIT_FAILED = 1  # a batch that did not commit raises BatchFailed: its traceback, then exit 1
EXIT_NOT_UNDER_DAGSTER = 2
EXIT_BAD_ENVIRONMENT = 3


class BatchFailed(RuntimeError):
    """The batch did not commit: another run holds the partition, circuit breaker, strict mode or a critical
    error (the message says which, where this run's files are, and that the previous output stays)."""


def report_outcome(pipes, cfg: WorkerConfig, outcome: BatchOutcome, storage, timing: WorkerTiming) -> None:
    """Both materializations and the checks, all recomputed from the committed files."""
    commit = outcome.commit
    manifest_firms = read_batch(storage, cfg.quarter, cfg.batch).firm_ids
    summary = summarize_commit(storage, commit, manifest_firms)
    timing.reported_at = time.time()
    pipes.report_asset_materialization(
        asset_key="firm_topics",
        metadata=firm_topics_metadata(summary, commit, storage, outcome.state.seconds, timing),
    )
    pipes.report_asset_materialization(
        asset_key="firm_topic_failures", metadata=failures_metadata(summary, commit, storage)
    )
    for check in check_results(cfg, summary):
        pipes.report_asset_check(**check)


def run() -> int:
    """The worker's work, Pipes session included: open, run the batch, report, close."""
    timing = WorkerTiming(process_started_at=_FIRST_LINE_AT)
    try:
        env = WorkerEnv.read()
    except VariableError as exc:  # the container's setup, before Pipes opens: the job's log shows it
        print(f"ftm-worker: {exc}", file=sys.stderr)
        return EXIT_BAD_ENVIRONMENT
    try:
        pipes_cm = open_pipes(attempt=env.batch_attempt)
    except NotLaunchedByDagsterError as exc:
        print(f"ftm-worker: {exc}", file=sys.stderr)
        return EXIT_NOT_UNDER_DAGSTER
    with pipes_cm as pipes:
        cfg = WorkerConfig.from_extras(dict(pipes.extras), container=env.embedding)
        storage = open_storage(cfg.storage_root)
        pipes.log.info(f"Worker for {cfg.quarter} batch {cfg.batch}, storage {storage.root}, run {cfg.run_id}.")
        timing.batch_started_at = time.time()
        outcome = run_batch(cfg, storage, pipes.log)
        if outcome.error is not None:
            message = outcome.failure_message(storage)
            pipes.log.error(message)  # Dagster's run log shows the reason, not only "closed with exception"
            raise BatchFailed(message) from outcome.error
        report_outcome(pipes, cfg, outcome, storage, timing)
    return EXIT_OK


def end_process(code: int) -> NoReturn:
    """End the process now with ``code``: output flushed, the interpreter's teardown skipped.

    By now the batch is committed (or not) and every Pipes message is written. The teardown has nothing left
    to save and two ways to hurt: with torch, transformers and BERTopic loaded its garbage collections took
    ~2.7 s of a 2-core machine, and native libraries' destructors (ONNX Runtime's thread pools, torch's) can
    abort the process in the wrong order ("terminate called without an active exception", exit -6, seen once
    after a committed batch under load), turning a success into a failed run. Fit processes watch this one
    and end with it (``fit_pool._exit_with_parent``).
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be said there
            pass
    os._exit(code)


def main() -> NoReturn:
    """The process's entry point (``-m`` and the console script): the worker, then an immediate exit; an
    exception is printed as the interpreter would and ends the process with 1."""
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = EXIT_FAILED
    end_process(code)


if __name__ == "__main__":
    main()

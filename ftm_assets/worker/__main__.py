"""Entry point: ``python -m ftm_assets.worker`` (console script ``ftm-worker``), run by a launcher.

Opens the Pipes session, processes the (quarter, batch) named in the extras, reports materializations
and checks, and exits 0 only when the partition was committed.
"""

from __future__ import annotations

import os
import sys
import time

# A resumed job must recompute a firm bit for bit: BERTopic's assignments flip on 1e-5 noise, and MKL/OpenMP
# may otherwise change their thread counts (and summation order) under load. Set before torch is imported.
for _name in ("MKL_DYNAMIC", "OMP_DYNAMIC"):
    os.environ.setdefault(_name, "FALSE")

from ftm_assets.manifest import read_batch
from ftm_assets.storage import open_storage
from ftm_assets.worker.batch import BatchOutcome, run_batch
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.pipes_io import NotLaunchedByDagsterError, open_pipes
from ftm_assets.worker.report import check_results, failures_metadata, firm_topics_metadata, summarize_commit

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_NOT_UNDER_DAGSTER = 2


class BatchFailed(RuntimeError):
    """The batch did not commit: circuit breaker, strict mode or a critical error (message says which)."""


def report(pipes, cfg: WorkerConfig, outcome: BatchOutcome, storage, started: float) -> None:
    """Both materializations and the checks, all recomputed from the committed files."""
    commit = outcome.commit
    manifest_firms = read_batch(storage, cfg.quarter, cfg.batch).firm_ids
    summary = summarize_commit(storage, commit, manifest_firms)
    worker_seconds = time.perf_counter() - started
    pipes.report_asset_materialization(
        asset_key="firm_topics",
        metadata=firm_topics_metadata(summary, commit, storage, outcome.state.seconds, worker_seconds),
    )
    pipes.report_asset_materialization(
        asset_key="firm_topic_failures", metadata=failures_metadata(summary, commit, storage)
    )
    for check in check_results(cfg, summary):
        pipes.report_asset_check(**check)


def main() -> int:
    started = time.perf_counter()
    try:
        pipes_cm = open_pipes()
    except NotLaunchedByDagsterError as exc:
        print(f"ftm-worker: {exc}", file=sys.stderr)
        return EXIT_NOT_UNDER_DAGSTER
    with pipes_cm as pipes:
        cfg = WorkerConfig.from_extras(dict(pipes.extras))
        storage = open_storage(cfg.storage_root)
        pipes.log.info(f"Worker for {cfg.quarter} batch {cfg.batch}, storage {storage.root}, run {cfg.run_id}.")
        outcome = run_batch(cfg, storage, pipes.log)
        if outcome.error is not None:
            where = f" Failures so far: {storage.uri(outcome.failures_key)}." if outcome.failures_key else ""
            message = (
                f"{cfg.quarter} batch {cfg.batch} failed after {len(outcome.state.firms_done)} of "
                f"{outcome.state.firms_total} firms: {type(outcome.error).__name__}: {outcome.error}.{where}"
            )
            pipes.log.error(message)  # Dagster's run log shows the reason, not only "closed with exception"
            raise BatchFailed(message) from outcome.error
        report(pipes, cfg, outcome, storage, started)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

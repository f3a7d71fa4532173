"""``python -m ftm_assets.run --quarters 2015Q1:2019Q4``: quarters end to end without the UI (see ``cli``).

``make demo`` (``ftm_assets.run_demo``) is this command for one demo quarter; tests and benchmarks use
``run_quarter``/``materialize_quarter`` to run a quarter through Dagster.
"""

from ftm_assets.run.cli import main, run
from ftm_assets.run.jobs import default_jobs_in_flight, jobs_in_flight, machine_memory_gb
from ftm_assets.run.quarter import (
    BATCH_ASSETS,
    QUIET,
    QUIET_LIBRARIES,
    SUMMARY,
    UPSTREAM,
    QuarterOutcome,
    materialize_quarter,
    run_quarter,
)
from ftm_assets.run.summary import describe_source, summarize

__all__ = [
    "BATCH_ASSETS", "QUIET", "QUIET_LIBRARIES", "SUMMARY", "UPSTREAM", "QuarterOutcome", "default_jobs_in_flight",
    "describe_source", "jobs_in_flight", "machine_memory_gb", "main", "materialize_quarter", "run", "run_quarter",
    "summarize",
]  # fmt: skip

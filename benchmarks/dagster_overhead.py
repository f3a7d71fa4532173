"""Dagster's overhead per partition with the local launcher, in a throwaway instance and storage root.

    python -m benchmarks.dagster_overhead --firms 6     # JSON on the last line

Materializes one demo quarter's upstream assets, then one batch partition, and splits the partition's wall
time (Dagster run, launch, worker, recorded materialization and checks) at the worker process's start and
at its report, both from the ``firm_topics`` materialization metadata (``worker_started_at``,
``worker_wall_s``). The worker's share is its whole process: interpreter start-up, imports, model load,
``run_batch`` and reading its commit back, since all of that happens on AWS Batch too. Dagster's overhead is
the rest: launch to worker start (run set-up, step start, Pipes session, spawn) plus worker report to
recorded (the last Pipes messages, the process's exit, recording the materializations, checks and the
run's end). ``timeline_s`` places the run's events on the same clock, from the launch. A bare
``python -c 'import ftm_assets.worker.__main__'`` is timed too, to show how much of the worker is imports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUARTER = "2024Q4"
BATCH = "000"
# Run events placed on the timeline (the first of each type).
TIMELINE_EVENTS = ("PIPELINE_START", "STEP_START", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION",
                   "STEP_SUCCESS", "PIPELINE_SUCCESS")  # fmt: skip


def overhead_breakdown(launched_at: float, recorded_at: float, worker_started_at: float, worker_wall_s: float) -> dict:
    """Partition wall time split at the worker's start and report; all arguments are Unix seconds but the wall."""
    worker_end = worker_started_at + worker_wall_s
    to_start = worker_started_at - launched_at
    to_recorded = recorded_at - worker_end
    return {
        "partition_wall_s": recorded_at - launched_at,
        "worker_wall_s": worker_wall_s,
        "launch_to_worker_start_s": to_start,
        "worker_end_to_recorded_s": to_recorded,
        "dagster_overhead_s": to_start + to_recorded,
    }


def timeline(events: list[Any], launched_at: float, marks: dict[str, float]) -> dict[str, float]:
    """Seconds from the launch to the first event of each type in ``TIMELINE_EVENTS`` and to ``marks``."""
    points = dict(marks)
    for entry in events:
        name = entry.dagster_event.event_type_value if entry.dagster_event else None
        if name in TIMELINE_EVENTS and name.lower() not in points:
            points[name.lower()] = entry.timestamp
    return {k: round(v - launched_at, 3) for k, v in sorted(points.items(), key=lambda kv: kv[1])}


def worker_metadata(result: Any) -> dict[str, Any]:
    """The ``firm_topics`` materialization's metadata values, as plain Python values."""
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.path == ["firm_topics"]:
            return {k: v.value for k, v in mat.metadata.items()}
    raise RuntimeError("The batch run recorded no firm_topics materialization: see the run's log above.")


def materialize_batch(firms: int) -> dict[str, Any]:
    """Upstream assets, then the timed batch partition, in a throwaway instance; the measurements."""
    with tempfile.TemporaryDirectory(prefix="ftm-bench-dg-") as tmp:
        os.environ.update(
            DAGSTER_HOME=tmp, FTM_STORAGE_ROOT=str(Path(tmp) / "data"), FTM_ENV="local",
            FTM_TRANSCRIPT_SOURCE="demo", FTM_DEMO_FIRMS=str(firms), FTM_BATCH_COUNT="1",
            FTM_LAST_QUARTER=QUARTER,
        )  # fmt: skip
        import dagster as dg

        from ftm_assets.definitions import defs
        from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM, register_quarters
        from ftm_assets.readers import commit_records
        from ftm_assets.run_demo import BATCH_ASSETS, QUIET, UPSTREAM

        job = defs.resolve_implicit_global_asset_job_def()
        key = dg.MultiPartitionKey({QUARTER_DIM: QUARTER, BATCH_DIM: BATCH})
        with dg.DagsterInstance.get() as instance:
            register_quarters(instance, [QUARTER])  # quarters are dynamic partitions: the instance must know it
            job.execute_in_process(
                instance=instance, partition_key=QUARTER, asset_selection=UPSTREAM, raise_on_error=True, run_config=QUIET
            )
            launched_at = time.time()
            result = job.execute_in_process(
                instance=instance, partition_key=key, asset_selection=BATCH_ASSETS, raise_on_error=True, run_config=QUIET
            )
            recorded_at = time.time()
            events = instance.all_logs(result.run_id)
        meta = worker_metadata(result)
        record = commit_records(os.environ["FTM_STORAGE_ROOT"], QUARTER)[0]
    started, wall = meta["worker_started_at"], meta["worker_wall_s"]
    marks = {"worker_start": started, "run_batch_start": started + meta["worker_startup_s"],
             "worker_report": started + wall, "returned": recorded_at}  # fmt: skip
    return {
        **overhead_breakdown(launched_at, recorded_at, started, wall),
        "worker_startup_s": meta["worker_startup_s"],
        "timeline_s": timeline(events, launched_at, marks),
        "record_seconds": record.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=6)
    args = parser.parse_args(argv)
    run = materialize_batch(args.firms)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ftm_assets.worker.__main__"], check=True)
    imports = time.perf_counter() - t0
    seconds = run.pop("record_seconds")
    out = {
        **run,
        "worker_run_batch_s": seconds["total"],
        # The earlier definition (partition minus run_batch), kept so older results stay comparable.
        "partition_minus_run_batch_s": run["partition_wall_s"] - seconds["total"],
        "worker_import_s": imports,
        "stage_seconds": seconds,
        "firms": args.firms,
    }
    print("BENCH_JSON " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

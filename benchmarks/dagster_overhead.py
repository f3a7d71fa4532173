"""Dagster's overhead per partition with the local launcher, in a throwaway instance and storage root.

    python -m benchmarks.dagster_overhead --firms 6     # JSON on the last line

Materializes one demo quarter with one batch, then compares the batch partition's wall time (Dagster run,
launch, worker, recorded materialization) with the worker's own ``run_batch`` time from its commit record.
The difference is Dagster's overhead: run set-up, subprocess launch and the worker's imports (launch to
worker start), Pipes messages and recording the materialization and checks (worker end to recorded).
A bare ``python -c 'import ftm_assets.worker.__main__'`` is timed too, to show how much is imports.
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

QUARTER = "2024Q4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ftm-bench-dg-") as tmp:
        os.environ.update(
            DAGSTER_HOME=tmp, FTM_STORAGE_ROOT=str(Path(tmp) / "data"), FTM_ENV="local",
            FTM_TRANSCRIPT_SOURCE="demo", FTM_DEMO_FIRMS=str(args.firms), FTM_BATCH_COUNT="1",
            FTM_LAST_QUARTER=QUARTER,
        )  # fmt: skip
        import dagster as dg

        from ftm_assets.definitions import defs
        from ftm_assets.readers import commit_records
        from ftm_assets.run_demo import materialize_quarter

        with dg.DagsterInstance.get() as instance:
            seconds = materialize_quarter(defs, QUARTER, 1, instance)
        record = commit_records(os.environ["FTM_STORAGE_ROOT"], QUARTER)[0]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ftm_assets.worker.__main__"], check=True)
    imports = time.perf_counter() - t0
    partition = seconds["batch 000"]
    worker = record["seconds"]["total"]
    out = {
        "partition_wall_s": partition,
        "worker_run_batch_s": worker,
        "dagster_overhead_s": partition - worker,
        "worker_import_s": imports,
        "stage_seconds": record["seconds"],
        "firms": args.firms,
    }
    print("BENCH_JSON " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

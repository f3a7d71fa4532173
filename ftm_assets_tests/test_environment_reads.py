"""Who reads the process environment: each variable has one loader per side; every other read is listed here with why."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ftm_assets"
ENVIRON = re.compile(r"os\.environ|os\.getenv|getenv\(")

# module (relative to ftm_assets/) -> why it may touch os.environ. Anything else goes through the loaders.
ALLOWED = {
    "environment.py": "the Dagster side's one loader (Settings.from_env)",
    "worker/env.py": "the worker's one loader (WorkerEnv.read) and PROCESS_DEFAULTS",
    "transcripts/wrds.py": "WRDS credentials, resolved at run time so that no password enters the resource "
    "config; libpq's own PG* variables and .pgpass belong to the same lookup",
    "worker/model/onnx_embed.py": "OMP/MKL_NUM_THREADS: the thread count torch would pick (a library's variable)",
    "worker/fit_pool.py": "OMP_NUM_THREADS (a library's variable) and one BLAS thread set in each fit process",
    "run/quarter.py": "library quieting variables set for the run and inherited by the worker subprocesses",
    "launch/local.py": "library defaults (offline model, numba cache) passed to the worker unless already set",
    "launch/aws_batch/resource.py": "AWS_ENDPOINT_URL, botocore's own variable, in the shared clients' cache key",
    "storage/file_hash.py": "FTM_HASH_CACHE, where this machine keeps model files' content hashes (a cache path, "
                            "like numba's; read where the hash is needed, on either side)",
    "run_demo.py": "FTM_DEMO_QUARTER, the default of make demo's --quarter (checked by the run like any quarter)",
}


def test_only_the_listed_modules_touch_the_environment():
    readers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(ENVIRON.search(line) and not line.lstrip().startswith("#") for line in path.read_text().splitlines())
    }
    assert readers - set(ALLOWED) == set(), "read the variable through environment.Settings or worker.env.WorkerEnv"
    assert set(ALLOWED) - readers == set(), "a module no longer reads the environment: drop it from ALLOWED"

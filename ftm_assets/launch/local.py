"""``LocalLauncher``: the worker as a subprocess of the Dagster run (the embedded default, no AWS)."""

from __future__ import annotations

import os
import sys
from typing import Any

import dagster as dg

from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.launch.launcher import Launcher

WORKER_MODULE = "ftm_assets.worker"


class LocalLauncher(Launcher):
    """The worker on this machine's CPU (or GPU if it has one), with the interpreter that runs Dagster.

    The package must be installed in that interpreter (``pip install -e .``); nothing is put on PYTHONPATH.
    """

    python: str = sys.executable
    env: dict[str, str] = {}

    def launch(
        self, context: dg.AssetExecutionContext, *, extras: dict[str, Any]
    ) -> dg.PipesClientCompletedInvocation:
        defaults = {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # numba's compiled UMAP/HDBSCAN kernels survive the job: the ~10 s JIT is paid once per machine.
            "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
        }
        env = {k: os.environ.get(k, v) for k, v in defaults.items()}
        client = dg.PipesSubprocessClient(env={**env, "PYTHONUNBUFFERED": "1", **self.env}, cwd=str(PROJECT_ROOT))
        return client.run(command=[self.python, "-m", WORKER_MODULE], context=context, extras=extras)

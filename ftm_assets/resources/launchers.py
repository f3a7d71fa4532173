"""Launchers run the worker for one (quarter, batch) partition and bring its Pipes report back.

One interface, one implementation per compute: the local subprocess (embedded default) and AWS Batch.
Asset code calls ``launcher.launch(context, extras=...)`` and never asks which one it has.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from ftm_assets.constants import PROJECT_ROOT

WORKER_MODULE = "ftm_assets.worker"


class Launcher(dg.ConfigurableResource, ABC):
    @abstractmethod
    def launch(
        self, context: dg.AssetExecutionContext, *, extras: dict[str, Any]
    ) -> dg.PipesClientCompletedInvocation:
        """Run the worker with ``extras`` (quarter, batch, storage root, policy) and return its report."""


class LocalLauncher(Launcher):
    """The worker as a subprocess of the Dagster run, on this machine's CPU (or GPU if it has one)."""

    python: str = sys.executable
    env: dict[str, str] = {}

    def launch(
        self, context: dg.AssetExecutionContext, *, extras: dict[str, Any]
    ) -> dg.PipesClientCompletedInvocation:
        # The project root goes on PYTHONPATH so a checkout that was not pip-installed still runs.
        pythonpath = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
        defaults = {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # numba's compiled UMAP/HDBSCAN kernels survive the job: the ~10 s JIT is paid once per machine.
            "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
        }
        env = {k: os.environ.get(k, v) for k, v in defaults.items()}
        client = dg.PipesSubprocessClient(
            env={**env, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1", **self.env},
            cwd=str(PROJECT_ROOT),
        )
        return client.run(
            command=[self.python, "-m", WORKER_MODULE],
            context=context,
            extras=extras,
        )

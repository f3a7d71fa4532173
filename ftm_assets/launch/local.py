"""``LocalLauncher``: the worker as a subprocess of the Dagster run (the embedded default, no AWS).

What the run cost is the worker's CPU time: the growth of ``getrusage(RUSAGE_CHILDREN)`` across the
subprocess, which counts every child this process reaped meanwhile (one worker per step process, as
Dagster's multiprocess executor runs it). It goes to the metadata and to the partition's cost record.
"""

from __future__ import annotations

import os
import resource
import sys

import dagster as dg

from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.launch.cost import CostRecord, write_cost_record
from ftm_assets.launch.launcher import Launcher
from ftm_assets.worker_config import WorkerConfig

WORKER_MODULE = "ftm_assets.worker"


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class LocalLauncher(Launcher):
    """The worker on this machine's CPU (or GPU if it has one), with the interpreter that runs Dagster.

    The package must be installed in that interpreter (``pip install -e .``); nothing is put on PYTHONPATH.
    """

    python: str = sys.executable
    module: str = WORKER_MODULE  # what ``python -m`` runs (tests run a small Pipes worker of their own)
    env: dict[str, str] = {}

    def launch(self, context: dg.AssetExecutionContext, config: WorkerConfig) -> dg.PipesClientCompletedInvocation:
        defaults = {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # numba's compiled UMAP/HDBSCAN kernels survive the job: the ~10 s JIT is paid once per machine.
            "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
        }
        env = {k: os.environ.get(k, v) for k, v in defaults.items()}
        client = dg.PipesSubprocessClient(env={**env, "PYTHONUNBUFFERED": "1", **self.env}, cwd=str(PROJECT_ROOT))
        before = children_cpu_seconds()
        try:
            invocation = client.run(
                command=[self.python, "-m", self.module], context=context, extras=config.to_extras()
            )
        finally:
            record = self._cost(context, config, children_cpu_seconds() - before)
        # The session is only reachable this way; the metadata then reaches every reported result.
        return dg.PipesClientCompletedInvocation(
            invocation._session,  # noqa: SLF001
            metadata={**invocation.metadata, **record.metadata()},
        )

    @staticmethod
    def _cost(context: dg.AssetExecutionContext, config: WorkerConfig, cpu_seconds: float) -> CostRecord:
        record = CostRecord(
            quarter=config.quarter, batch=config.batch, launcher="local", gpu_hours=0.0,
            cpu_seconds=round(cpu_seconds, 3),
        )
        try:
            write_cost_record(config.storage_root, record)
        except Exception as exc:  # the cost is a courtesy; the worker's outcome is what matters
            context.log.warning(f"[local] could not write the cost record: {exc}")
        return record

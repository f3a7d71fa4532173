"""The launcher interface: run the worker for one (quarter, batch) partition and bring its Pipes report back.

One interface, one implementation per compute: the local subprocess (``launch.local``, the embedded
default) and AWS Batch (``launch.aws_batch``). Asset code calls ``launcher.launch(context, config)`` with the
partition's ``WorkerConfig`` and never asks which one it has; ``environment`` decides which is bound. Each
launcher reads what it needs (quarter, batch, storage root) from the typed config and sends
``config.to_extras()`` as the Pipes extras, once, where it opens the session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import dagster as dg

from ftm_assets.worker_config import WorkerConfig

# What a launcher is handed: an asset's context, or an op's (the Batch client serves both).
AnyContext = dg.AssetExecutionContext | dg.OpExecutionContext


class Launcher(dg.ConfigurableResource, ABC):
    @abstractmethod
    def launch(self, context: dg.AssetExecutionContext, config: WorkerConfig) -> dg.PipesClientCompletedInvocation:
        """Run the worker on ``config`` (quarter, batch, storage root, settings) and return its report."""

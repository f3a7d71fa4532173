"""The launcher interface: run the worker for one (quarter, batch) partition and bring its Pipes report back.

One interface, one implementation per compute: the local subprocess (``launch.local``, the embedded
default) and AWS Batch (``launch.aws_batch``). Asset code calls ``launcher.launch(context, extras=...)`` and
never asks which one it has; ``environment`` decides which is bound.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import dagster as dg


class Launcher(dg.ConfigurableResource, ABC):
    @abstractmethod
    def launch(
        self, context: dg.AssetExecutionContext, *, extras: dict[str, Any]
    ) -> dg.PipesClientCompletedInvocation:
        """Run the worker with ``extras`` (quarter, batch, storage root, policy) and return its report."""

"""Test-only: the Dagster daemon's backfill loop ticks every ``FTM_TEST_DAEMON_TICK_S`` seconds, not every 30.

Dagster (1.13) sleeps a fixed ``dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`` (30 s) between
asset-backfill iterations and offers no setting for it; a backfill of our graph needs one iteration per level,
so the tests that run a real daemon (``dagster dev``, the production side) spent about two of their minutes
asleep. ``daemon_tick_env`` puts this folder first on PYTHONPATH of such a process tree: Python imports this
module at start-up, and it sets the constant as soon as Dagster's controller module has been executed. The
backfill loop reads it on each call (``from ... import`` inside the function), so nothing else changes.
Without the variable it does nothing. Only the backfill loop and the asset daemon's wait before it evaluates
the automation sensors read the constant; both then look every few seconds, as a test wants.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

_MODULE = "dagster._daemon.controller"
_TICK_S = os.environ.get("FTM_TEST_DAEMON_TICK_S")


class _SetTickAfterImport(importlib.abc.MetaPathFinder):
    """Finds Dagster's controller module through the other finders and wraps its loader's exec_module."""

    def __init__(self, tick_s: int) -> None:
        self.tick_s = tick_s

    def find_spec(self, name, path, target=None):  # noqa: ANN001 (MetaPathFinder's signature)
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)  # once: the real finders locate the module
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module, tick_s = spec.loader.exec_module, self.tick_s

        def exec_then_set_tick(module) -> None:  # noqa: ANN001
            exec_module(module)
            module.DEFAULT_DAEMON_INTERVAL_SECONDS = tick_s

        spec.loader.exec_module = exec_then_set_tick  # type: ignore[method-assign]
        return spec


if _TICK_S:
    sys.meta_path.insert(0, _SetTickAfterImport(int(_TICK_S)))

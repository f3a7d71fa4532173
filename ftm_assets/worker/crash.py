"""A test-only hook that kills the worker at a named window of the commit protocol.

``FTM_TEST_CRASH_AT=<window>[:<n>]`` ends the process with ``os._exit`` (no cleanup, no ``finally``: what
SIGKILL or a Spot interruption does) the ``n``-th time (default 1st) the worker reaches ``window``. Unset,
it costs one read of the worker's variables through their one reader, ``WorkerEnv.read()`` (not cached: a
hook set later in a long-lived test process is seen). The crash-consistency tests (worker/test_crash_windows.py)
use it to prove that a restart, or a new run, ends equal to an uninterrupted run from every window.
"""

from __future__ import annotations

import os
import sys

from ftm_assets.worker.env import CRASH_AT_ENV as ENV, WorkerEnv

EXIT_CODE = 137  # what a SIGKILLed process reports
WINDOWS = (
    "after-part",  # a part written, the checkpoint not yet moved past it
    "after-checkpoint",  # the checkpoint moved, the next firm not started
    "after-commit",  # the new commit record written, the checkpoint not yet cleared
    "during-cleanup",  # the first unnamed file of earlier runs deleted, the others not yet
)
_seen: dict[str, int] = {}


def crash_point(window: str) -> None:
    """Exit at once if the environment asks to crash at this window (and this is the asked occurrence)."""
    wanted = WorkerEnv.read().hooks.crash_at
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name not in WINDOWS:
        raise ValueError(f"{ENV}={wanted!r} names no window; use one of {', '.join(WINDOWS)} (optionally ':<n>').")
    if name != window:
        return
    _seen[window] = _seen.get(window, 0) + 1
    if _seen[window] == int(nth or 1):
        print(f"ftm-worker: {ENV}={wanted}: crashing now.", file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)

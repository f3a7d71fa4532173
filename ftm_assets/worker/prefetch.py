"""Runs a stage a few items ahead in a background thread: the next firm embeds while this one fits.

Embedding is ~80% of a firm's CPU cost and fitting (UMAP's layout) runs on one core, so overlapping the
two uses the second core that the fit leaves idle. torch and numba release the GIL in their kernels.
A one-thread ``ThreadPoolExecutor`` runs the stage (one item at a time, as the model wants) over a window
of at most ``depth`` items beyond the one the consumer holds. Results come back in input order; exceptions
raised by the stage come back as values (the caller decides what a failure means), and one raised by the
input iterator reaches the consumer after the items before it. The thread stops when the consumer stops
iterating, raises, or closes the generator: items not started are cancelled, the one running finishes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

THREAD_NAME = "ftm-prefetch"


def prefetch(items: Iterable[T], stage: Callable[[T], R], depth: int = 1) -> Iterator[tuple[T, R | Exception]]:
    """``(item, stage(item) or the exception it raised)`` in order, computing up to ``depth`` items ahead."""
    if depth < 1:
        for item in items:
            yield item, _call(stage, item)
        return
    source = iter(items)
    window: deque[tuple[T, Future]] = deque()
    input_error: Exception | None = None
    exhausted = False
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
    try:
        while True:
            while not exhausted and len(window) <= depth:  # the item handed out next, plus `depth` ahead
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                except Exception as exc:  # the input itself failed: hand it over after what came before
                    input_error, exhausted = exc, True
                else:
                    window.append((item, pool.submit(_call, stage, item)))
            if not window:
                break
            item, future = window.popleft()
            yield item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if input_error is not None:
        raise input_error


def _call(stage: Callable[[T], R], item: T) -> R | Exception:
    try:
        return stage(item)
    except Exception as exc:
        return exc

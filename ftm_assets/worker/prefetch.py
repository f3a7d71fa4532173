"""Runs a stage one item ahead in a background thread: the next firm embeds while this one fits.

Embedding is ~80% of a firm's CPU cost and fitting (UMAP's layout) runs on one core, so overlapping the
two uses the second core that the fit leaves idle. torch and numba release the GIL in their kernels.
Results come back in input order; exceptions raised by the stage come back as values (the caller decides
what a failure means). The thread stops when the consumer stops iterating, raises, or closes the generator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()
POLL_S = 0.1


def prefetch(items: Iterable[T], stage: Callable[[T], R], depth: int = 1) -> Iterator[tuple[T, R | Exception]]:
    """``(item, stage(item) or the exception it raised)`` in order, computing up to ``depth`` items ahead."""
    if depth < 1:
        for item in items:
            yield item, _call(stage, item)
        return
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                if not _put(ahead, (item, _call(stage, item)), stop):
                    return
        except BaseException as exc:  # the input iterator itself failed: hand it to the consumer
            _put(ahead, (_DONE, exc), stop)
            return
        _put(ahead, (_DONE, None), stop)

    worker = threading.Thread(target=produce, name="ftm-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, result = ahead.get()
            if item is _DONE:
                if result is not None:
                    raise result
                return
            yield item, result
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue, then let it finish its item
            try:
                ahead.get_nowait()
            except queue.Empty:
                pass
            worker.join(POLL_S)


def _call(stage: Callable[[T], R], item: T) -> R | Exception:
    try:
        return stage(item)
    except Exception as exc:
        return exc


def _put(q: queue.Queue, value: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(value, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False

"""The prefetch stage: input order, failures as values, and a background thread that always stops."""

import threading
import time

import pytest

from ftm_assets.worker.prefetch import THREAD_NAME, prefetch


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME) and t.is_alive()]


def _square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    time.sleep(0.001 * (5 - x))  # later items finish faster: order must still hold
    return x * x


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_results_in_input_order_with_exceptions_as_values(depth):
    out = list(prefetch(range(5), _square_or_fail, depth=depth))
    assert [item for item, _ in out] == [0, 1, 2, 3, 4]
    assert [r for _, r in out if not isinstance(r, Exception)] == [0, 1, 4, 16]
    assert isinstance(out[3][1], ValueError) and str(out[3][1]) == "three"
    assert not _prefetch_threads()


def test_runs_ahead_of_the_consumer():
    started: list[int] = []

    def stage(x: int) -> int:
        started.append(x)
        return x

    gen = prefetch(range(10), stage, depth=2)
    assert next(gen) == (0, 0)
    deadline = time.monotonic() + 5
    while len(started) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started[:3] == [0, 1, 2]  # item 0 consumed, items 1-2 prepared while the consumer worked
    gen.close()
    assert len(started) <= 5 and not _prefetch_threads()


def test_consumer_stopping_early_stops_the_thread():
    gen = prefetch(iter(range(1_000_000)), lambda x: x, depth=1)
    for item, _ in gen:
        if item == 2:
            break
    gen.close()
    assert not _prefetch_threads()


def test_consumer_raising_stops_the_thread():
    def consume():
        for item, _ in prefetch(range(100), lambda x: x, depth=1):
            if item == 1:
                raise RuntimeError("checkpoint failed")

    with pytest.raises(RuntimeError, match="checkpoint failed"):
        consume()
    assert not _prefetch_threads()


def test_failing_input_iterator_reaches_the_consumer():
    def firms():
        yield 1
        raise OSError("raw transcripts unreadable")

    gen = prefetch(firms(), lambda x: x, depth=1)
    assert next(gen) == (1, 1)
    with pytest.raises(OSError, match="unreadable"):
        next(gen)
    assert not _prefetch_threads()

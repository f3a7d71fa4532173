"""Interleaved repetitions and their summary: the design every A-against-B timing in ``benchmarks/`` uses.

A and B alternate (A B, B A, A B, ...): each repetition times both back to back, so a change in the machine's
load hits both sides of a ratio alike, and the side that goes first alternates, so neither always runs on
the caches (or the turbo budget) the other left behind. Each figure is the median over repetitions with its
min and max; a ratio is taken within each repetition, then its median, not the ratio of two medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

MIN_REPEATS = 3  # issue 29: each figure a median of >= 3


def orders(repeats: int, a: T, b: T) -> list[tuple[T, T]]:
    """The order of each repetition: (a, b), (b, a), (a, b), ..."""
    return [(a, b) if r % 2 == 0 else (b, a) for r in range(repeats)]


def spread(values: Sequence[float]) -> dict:
    """Median, min, max and count of a figure's repetitions (and the values, for a reader to check)."""
    if not values:
        raise ValueError("no repetitions to summarise")
    vals = [float(v) for v in values]
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals), "values": vals}


def relative_spread(summary: dict) -> float:
    """(max - min) / median: how far apart the repetitions were, as a share of the figure."""
    return (summary["max"] - summary["min"]) / summary["median"] if summary["median"] else float("inf")


def time_interleaved(
    a: Callable[[], object], b: Callable[[], object], repeats: int = MIN_REPEATS,
    clock: Callable[[], float] = time.perf_counter,
) -> dict:  # fmt: skip
    """Seconds of ``a`` and ``b`` per repetition, alternating, and ``b/a`` (how many times faster ``a`` is).

    Returns ``{"a": spread, "b": spread, "b_over_a": spread, "order": [...]}``.
    """
    seconds: dict[str, list[float]] = {"a": [], "b": []}
    ratios, order = [], []
    for first, second in orders(repeats, "a", "b"):
        spent = {}
        for who in (first, second):
            t0 = clock()
            (a if who == "a" else b)()
            spent[who] = clock() - t0
            order.append(who)
        seconds["a"].append(spent["a"])
        seconds["b"].append(spent["b"])
        ratios.append(spent["b"] / spent["a"] if spent["a"] > 0 else float("inf"))
    return {"a": spread(seconds["a"]), "b": spread(seconds["b"]), "b_over_a": spread(ratios), "order": order}

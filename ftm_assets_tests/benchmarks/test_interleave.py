"""The interleaved A/B design of the benchmarks: the alternating order, median and spread, per-repetition ratios."""

from __future__ import annotations

import pytest

from benchmarks import interleave


def test_the_two_sides_alternate_and_so_does_who_goes_first():
    assert interleave.orders(4, "naive", "worker") == [
        ("naive", "worker"), ("worker", "naive"), ("naive", "worker"), ("worker", "naive"),
    ]  # fmt: skip


def test_spread_is_the_median_with_min_and_max():
    s = interleave.spread([3.0, 1.0, 10.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.5, 1.0, 10.0, 4)
    assert interleave.relative_spread(s) == pytest.approx(9.0 / 2.5)
    with pytest.raises(ValueError):
        interleave.spread([])


def test_timed_ratios_are_taken_within_each_repetition():
    # A fake clock: each call of a or b advances it by a scripted amount; the load doubles both in repetition 2.
    steps = iter([1.0, 2.0, 4.0, 2.0, 1.0, 2.0])  # rep 0: a=1 b=2; rep 1 (b first): b=4 a=2; rep 2: a=1 b=2
    now = [0.0]

    def work():
        now[0] += next(steps)

    out = interleave.time_interleaved(work, work, repeats=3, clock=lambda: now[0])
    assert out["order"] == ["a", "b", "b", "a", "a", "b"]
    assert out["a"]["values"] == [1.0, 2.0, 1.0] and out["b"]["values"] == [2.0, 4.0, 2.0]
    assert out["b_over_a"]["values"] == [2.0, 2.0, 2.0]  # the load cancels inside each repetition

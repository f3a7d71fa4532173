"""Batch jobs in flight: the flag, then FTM_MAX_BATCH_JOBS_IN_FLIGHT, then a default that fits the machine."""

from __future__ import annotations

import pytest

from ftm_assets import run as run_cmd


@pytest.mark.parametrize(
    "cores, memory_gb, batches, env, expected",
    [
        (2, 8, 5, "local", 1),  # a 2-core laptop: one worker at a time, it takes every core
        (8, 16, 5, "local", 2),  # one job per 4 cores
        (16, 4.0, 5, "local", 1),  # memory-bound: (4.0 - 2) // 1.6 = 1
        (64, 512, 5, "local", 5),  # never more than the quarter's batches
        (2, 8, 10, "aws", 5),  # GPU jobs run elsewhere: the seed's 5
    ],
)
def test_default_jobs_in_flight_fits_the_machine(cores, memory_gb, batches, env, expected):
    assert run_cmd.default_jobs_in_flight(batches, env=env, cores=cores, memory_gb=memory_gb) == expected


def test_jobs_flag_then_variable_then_default():
    assert run_cmd.jobs_in_flight(3, 5, "local", {"FTM_MAX_BATCH_JOBS_IN_FLIGHT": "4"}) == 3
    assert run_cmd.jobs_in_flight(None, 5, "local", {"FTM_MAX_BATCH_JOBS_IN_FLIGHT": "4"}) == 4
    assert run_cmd.jobs_in_flight(None, 5, "aws", {}) == 5
    with pytest.raises(ValueError, match="FTM_MAX_BATCH_JOBS_IN_FLIGHT='many'"):
        run_cmd.jobs_in_flight(None, 5, "local", {"FTM_MAX_BATCH_JOBS_IN_FLIGHT": "many"})

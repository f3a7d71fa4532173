"""The worker's configuration from Pipes extras: defaults, overrides and errors that name the problem."""

import pytest

from ftm_assets import constants as C
from ftm_assets.quarters import QuarterKeyError
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.worker.config import WorkerConfig, WorkerConfigError

BASE = {"quarter": "2023Q1", "batch": "000", "storage_root": "/tmp/x", "run_id": "r1"}


def test_defaults():
    cfg = WorkerConfig.from_extras(BASE)
    assert cfg.policy.max_failure_rate == C.MAX_FAILURE_RATE
    assert cfg.policy.allow_failures is True
    assert cfg.checkpoint_every == C.CHECKPOINT_EVERY
    assert cfg.topics.random_seed == C.RANDOM_SEED


def test_dagster_side_settings_round_trip():
    extras = WorkerSettings(max_failure_rate=0.2, allow_failures=False, min_sentences=7).extras(**BASE)
    cfg = WorkerConfig.from_extras(extras)
    assert cfg.policy.max_failure_rate == 0.2 and cfg.policy.allow_failures is False
    assert cfg.topics.min_sentences == 7


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"quarter": None}, WorkerConfigError, "quarter"),
        ({"quarter": "2023Q9"}, QuarterKeyError, "2023Q9"),
        ({"policy": {"max_failure_rate": 2}}, WorkerConfigError, "max_failure_rate"),
        ({"policy": {"nope": 1}}, WorkerConfigError, "nope"),
    ],
)
def test_errors(change, error, match):
    with pytest.raises(error, match=match):
        WorkerConfig.from_extras({**BASE, **change})

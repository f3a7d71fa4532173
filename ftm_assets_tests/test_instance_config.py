"""The shipped Dagster instance configs queue a second run of a partition instead of starting two writers."""

import shutil

import dagster as dg
import yaml

from ftm_assets.constants import PROJECT_ROOT

ONE_PER_PARTITION = {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def test_local_instance_runs_one_run_per_partition(tmp_path, monkeypatch):
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert ONE_PER_PARTITION in limits


def test_production_instance_runs_one_run_per_partition():
    config = yaml.safe_load((PROJECT_ROOT / "docker" / "dagster" / "dagster.yaml").read_text())
    assert ONE_PER_PARTITION in config["concurrency"]["runs"]["tag_concurrency_limits"]

"""Through the Dagster CLI, as a user runs it, on a local root: a re-run of a partition that fails (here its
model is missing) leaves the last good output in place and readable, and the error says that it does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.storage import open_storage
from ftm_assets.storage.commit import load_commit
from ftm_assets.readers import read_firm_topics

QUARTER = "2023Q1"
DAGSTER = str(Path(sys.executable).with_name("dagster"))
pytestmark = pytest.mark.slow


def _materialize(env: dict[str, str], select: str, partition: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "ftm_assets.definitions", "--select", select, "--partition", partition],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )


def test_a_failed_rerun_through_the_cli_keeps_the_last_good_output(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    root = str(tmp_path / "store")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FTM_STORAGE_ROOT": root, "FTM_DEMO_FIRMS": "2",
           "FTM_BATCH_COUNT": "1", "FTM_LAST_QUARTER": "2023Q4"}
    env.pop("FTM_EMBEDDING_MODEL", None)
    # Quarter partitions live on the instance: a CLI user adds them first (`make quarters`), as the UI's sensor does.
    added = subprocess.run([sys.executable, "-m", "ftm_assets.automation.calendar_sensor"], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert added.returncode == 0 and "quarter partition(s) added" in added.stdout, added.stderr[-3000:]
    up = _materialize(env, "raw_transcripts,firm_manifest", QUARTER)
    assert up.returncode == 0, up.stderr[-3000:]
    good = _materialize(env, "firm_topics,firm_topic_failures", f"000|{QUARTER}")
    assert good.returncode == 0, good.stderr[-3000:]
    store = open_storage(root)
    record = load_commit(store, QUARTER, "000")
    before = read_firm_topics(root, QUARTER, strict=True)
    assert len(before) > 0

    bad = _materialize({**env, "FTM_EMBEDDING_MODEL": str(tmp_path / "no-model")}, "firm_topics,firm_topic_failures",
                       f"000|{QUARTER}")
    assert bad.returncode != 0
    log = bad.stdout + bad.stderr
    assert "ModelNotFoundError" in log
    assert f"The partition's output is unchanged: the commit of run {record.run_id}" in log
    assert load_commit(store, QUARTER, "000") == record
    assert all(store.exists(k) for k in record.files)
    assert read_firm_topics(root, QUARTER, strict=True).equals(before)

"""Fault injection: the worker is SIGKILLed at random points of a batch and restarted, as after a Spot
interruption; the final output must equal an uninterrupted run's, and the checkpoint must only advance.
Runs once on a local storage root (ten kills) and once on S3 through moto's server (three kills)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster_pipes import encode_param

from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.readers import commit_records, read_failures, read_firm_topics, read_sentences
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.storage import open_storage
from ftm_assets.storage import layout
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2023Q3"
pytestmark = pytest.mark.slow


def _start_worker(tmp: Path, root: str, run_id: str) -> subprocess.Popen:
    """The real worker under a Pipes bootstrap of our own (context and messages in files)."""
    tmp.mkdir(parents=True, exist_ok=True)
    extras = {"quarter": Q, "batch": "000", "storage_root": root, "run_id": run_id, "checkpoint_every": 1}
    context = {
        "asset_keys": ["firm_topics", "firm_topic_failures"], "code_version_by_asset_key": None,
        "provenance_by_asset_key": None, "partition_key": None, "partition_key_range": None,
        "partition_time_window": None, "run_id": run_id, "job_name": None, "retry_number": 0, "extras": extras,
    }
    context_path = tmp / f"context-{time.monotonic_ns()}.json"
    context_path.write_text(json.dumps(context))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
        "DAGSTER_PIPES_CONTEXT": encode_param({"path": str(context_path)}),
        "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(tmp / f"messages-{time.monotonic_ns()}.jsonl")}),
    }
    return subprocess.Popen([sys.executable, "-m", "ftm_assets.worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _checkpoint(store) -> dict | None:
    key = layout.checkpoint(Q, "000")
    return json.loads(store.read_text(key)) if store.exists(key) else None


def _outputs(root: str) -> dict[str, pd.DataFrame]:
    topics = read_firm_topics(root, Q).drop(columns=["processing_timestamp"])
    failures = read_failures(root, Q).drop(columns=["processing_timestamp"])
    out = {"topics": topics, "sentences": read_sentences(root, Q), "failures": failures}
    return {k: v.astype(str).sort_values(list(v.columns)).reset_index(drop=True) for k, v in out.items()}


def _stage(root: str) -> None:
    table = demo_transcripts(Q, n_firms=11).to_pylist() + firm_rows(Q, "zz-empty", [""])
    stage_quarter(open_storage(root), Q, rows_table(table))


def _kill_and_resume(tmp: Path, root: str, kills: int, seed: int) -> list[tuple[int, float]]:
    """Kill the worker ``kills`` times at random points, each restart resuming; then let it finish."""
    rng = random.Random(seed)
    store = open_storage(root)
    points, last_seq, last_done = [], 0, []
    while len(points) < kills:
        proc = _start_worker(tmp / "pipes", root, run_id="interrupted-run")
        seq_now = (_checkpoint(store) or {}).get("checkpoint_seq", 0)
        target = seq_now + rng.choice([0, 1, 1, 2])  # kill during start-up, or after the next checkpoints
        delay = rng.uniform(0.0, 1.5)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            cp = _checkpoint(store)
            if target == seq_now or (cp and cp["checkpoint_seq"] >= target):
                break
            time.sleep(0.05)
        time.sleep(delay if target != seq_now else rng.uniform(1.0, 6.0))
        if proc.poll() is not None:  # finished before we could kill it: the batch is done
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cp = _checkpoint(store)
        if cp is not None:
            assert cp["checkpoint_seq"] >= last_seq, "checkpoint went backwards"
            assert cp["firms_done"][: len(last_done)] == last_done, "a committed firm was lost or reordered"
            last_seq, last_done = cp["checkpoint_seq"], cp["firms_done"]
        points.append((last_seq, round(delay, 2)))
    proc = _start_worker(tmp / "pipes", root, run_id="interrupted-run")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-3000:]
    return points


def _assert_same_as_uninterrupted(tmp: Path, interrupted_root: str, reference_root: str) -> None:
    _stage(reference_root)
    proc = _start_worker(tmp / "ref-pipes", reference_root, run_id="reference-run")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-3000:]
    got, want = _outputs(interrupted_root), _outputs(reference_root)
    per_firm = {k: v.groupby("firm_id").size().to_dict() for k, v in (("got", got["topics"]), ("want", want["topics"]))}
    assert per_firm["got"] == per_firm["want"], per_firm
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)
    assert not got["topics"].duplicated(["firm_id", "topic_id"]).any()
    store = open_storage(interrupted_root)
    (record,) = commit_records(interrupted_root, Q)
    assert store.list(layout.firm_topics_prefix(Q)) == sorted(record["firm_topics_parts"])  # nothing stale
    assert not store.exists(layout.checkpoint(Q, "000"))


def test_sigkill_at_ten_points_local(tmp_path):
    root = str(tmp_path / "interrupted")
    _stage(root)
    points = _kill_and_resume(tmp_path, root, kills=10, seed=7)
    assert len(points) >= 10 and len(set(points)) >= 10, points
    _assert_same_as_uninterrupted(tmp_path, root, str(tmp_path / "reference"))


def test_sigkill_on_s3(tmp_path, moto_server):  # noqa: F811
    bucket = create_bucket(moto_server)
    root = f"s3://{bucket}/interrupted"
    _stage(root)
    points = _kill_and_resume(tmp_path, root, kills=3, seed=11)
    assert len(points) >= 3, points
    _assert_same_as_uninterrupted(tmp_path, root, f"s3://{bucket}/reference")

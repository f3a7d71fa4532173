"""The real worker as a subprocess under a Pipes bootstrap of our own (context and messages in files), and
what the crash and kill tests compare: a quarter's outputs, and the files of a partition left on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from dagster_pipes import encode_param

from ftm_assets.constants import PROJECT_ROOT
from ftm_assets.readers import read_failures, read_firm_topics, read_sentences
from ftm_assets.storage import Storage, layout, open_storage
from ftm_assets.storage.commit import load_commit
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.worker.crash import ENV as CRASH_ENV
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2023Q3"
STARTED_LINE = "Worker for "  # the worker's first Pipes log line, once its session is open


class WorkerProcess:
    """One worker process; ``messages`` is its Pipes message file (one JSON message per line)."""

    def __init__(self, tmp: Path, root: str, run_id: str, crash_at: str | None = None, checkpoint_every: int = 1):
        tmp.mkdir(parents=True, exist_ok=True)
        extras = {"quarter": Q, "batch": "000", "storage_root": root, "run_id": run_id,
                  "checkpoint_every": checkpoint_every}
        context = {
            "asset_keys": ["firm_topics", "firm_topic_failures"], "code_version_by_asset_key": None,
            "provenance_by_asset_key": None, "partition_key": None, "partition_key_range": None,
            "partition_time_window": None, "run_id": run_id, "job_name": None, "retry_number": 0, "extras": extras,
        }
        stamp = time.monotonic_ns()
        context_path = tmp / f"context-{stamp}.json"
        context_path.write_text(json.dumps(context))
        self.messages = tmp / f"messages-{stamp}.jsonl"
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "NUMBA_CACHE_DIR": str(PROJECT_ROOT / ".cache" / "numba"),
            "DAGSTER_PIPES_CONTEXT": encode_param({"path": str(context_path)}),
            "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(self.messages)}),
        }
        env.pop(CRASH_ENV, None)
        if crash_at:
            env[CRASH_ENV] = crash_at
        self.stderr_path = tmp / f"stderr-{stamp}.txt"
        with self.stderr_path.open("wb") as err:  # a file, not a pipe: a killed worker never blocks on it
            self.proc = subprocess.Popen([sys.executable, "-m", "ftm_assets.worker"], env=env,
                                         stdout=subprocess.DEVNULL, stderr=err)

    def log_lines(self) -> list[str]:
        if not self.messages.exists():
            return []
        out = []
        for line in self.messages.read_text().splitlines():
            try:
                message = json.loads(line)
            except ValueError:  # a line being written
                continue
            if message.get("method") == "log":
                out.append(message["params"]["message"])
        return out

    def wait_started(self, timeout_s: float = 300) -> float:
        """Block until the worker reports it has started (its first log line); return that moment."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(line.startswith(STARTED_LINE) for line in self.log_lines()):
                return time.monotonic()
            if self.proc.poll() is not None:
                raise AssertionError(f"The worker ended before it started: {self.stderr()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError("The worker did not report that it started.")

    def finish(self, timeout_s: float = 600) -> int:
        self.proc.wait(timeout=timeout_s)
        return self.proc.returncode

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def stage(root: str, n_firms: int = 3) -> None:
    """Demo firms plus one with an empty transcript (a skipped row), as the upstream assets lay them out."""
    table = demo_transcripts(Q, n_firms=n_firms).to_pylist() + firm_rows(Q, "zz-empty", [""])
    stage_quarter(open_storage(root), Q, rows_table(table))


def outputs(root: str | Storage) -> dict[str, pd.DataFrame]:
    """The quarter's three outputs, without the processing timestamps, in a canonical order."""
    topics = read_firm_topics(root, Q, strict=True).drop(columns=["processing_timestamp"])
    failures = read_failures(root, Q, strict=True).drop(columns=["processing_timestamp"])
    out = {"topics": topics, "sentences": read_sentences(root, Q, strict=True), "failures": failures}
    return {k: v.astype(str).sort_values(list(v.columns)).reset_index(drop=True) for k, v in out.items()}


def assert_same_outputs(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)
    assert not got["topics"].duplicated(["firm_id", "topic_id"]).any()


def partition_files(store: Storage) -> list[str]:
    """Every data file of the (quarter, batch) on storage, whichever run wrote it."""
    return sorted(k for folder, head in layout.batch_files(Q, "000") for k in store.list(folder)
                  if k.rsplit("/", 1)[-1].startswith(head))


def assert_nothing_left_over(store: Storage) -> None:
    """Only the commit's files remain: no orphan or superseded part, no checkpoint, lease or poison list."""
    record = load_commit(store, Q, "000")
    assert record is not None, "no commit"
    assert partition_files(store) == sorted(record.files), "files that no commit names are left"
    for key in (layout.checkpoint(Q, "000"), layout.lease(Q, "000"), layout.poison(Q, "000")):
        assert not store.exists(key), key


def run_scripted_worker(root: str, run_id: str, crash_at: str | None = None,
                        delay_s: float = 0.0) -> subprocess.Popen:
    """The batch protocol with the scripted processor (``support/scripted_worker.py``) in a process of its own."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(  # from the repository root, where ``-m`` finds the tests' package
        [sys.executable, "-m", "ftm_assets_tests.support.scripted_worker", root, Q, run_id, str(delay_s)],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def copy_root(src: str, dst: str) -> None:
    """A byte-for-byte copy of a storage root that keeps each object's version (mtime locally, ETag on S3),
    so a checkpoint's input fingerprint still matches in the copy."""
    if not src.startswith("s3://"):
        import shutil

        shutil.copytree(src, dst)  # copy2: modification times kept
        return
    source, target = open_storage(src), open_storage(dst)
    for key in source.list(""):
        target.client.copy_object(Bucket=target.bucket, Key=target._k(key),
                                  CopySource={"Bucket": source.bucket, "Key": source._k(key)})


def upload_root(local: str, dst: str) -> None:
    """Every object of a local root, written to ``dst`` (another root, e.g. on S3)."""
    source, target = open_storage(local), open_storage(dst)
    for key in source.list(""):
        target.write_bytes(key, source.read_bytes(key))

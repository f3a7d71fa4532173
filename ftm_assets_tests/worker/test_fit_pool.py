"""The fit pool: its default size; not an input of the fingerprint; results in input order (an input error
after the jobs before it); output bit for bit that of in-process fits (0 vs 1 vs 2 processes, real
Earnings-22 calls and demo firms, read back from the committed Parquet); a fit process that dies on a firm
becoming a critical error of that firm (a failure row on the next attempt), one that dies starting being
no firm's fault; and no fit process outliving ``results`` or a killed worker."""

import datetime as dt
import logging
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest

from ftm_assets.readers import read_failures, read_firm_topics_table, read_sentences
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import EmbeddingSettings, WorkerConfig
from ftm_assets.worker.failures import EmptyTranscript, is_critical, is_firm_bound
from ftm_assets.worker.env import FIT_CRASH_ENV as CRASH_ENV
from ftm_assets.worker.fit_pool import (
    START_CRASH,
    FitPool,
    FitPoolBroken,
    FitProcessDied,
    default_fit_workers,
)
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.processor import FirmProcessor
from ftm_assets.worker.segment import Component
from ftm_assets_tests.support.earnings22 import requires_earnings22
from ftm_assets_tests.support.staging import rows_table, stage_quarter

Q = "2024Q1"
LOG = logging.getLogger("test-fit-pool")


def _children() -> set[int]:
    """This process's multiprocessing children (fit processes; other tests' idle pools may be among them)."""
    return {p.pid for p in mp.active_children()}


def _new_children(before: set[int], wait_s: float = 5.0) -> set[int]:
    """Children started since ``before`` that are still alive after up to ``wait_s`` (a loaded box reaps slowly)."""
    deadline = time.monotonic() + wait_s
    while (left := _children() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _alive(pids) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_default_is_the_cores_the_embedder_leaves_free():
    assert default_fit_workers("cuda", {}, cores=16) == 15
    assert default_fit_workers("cuda", {}, cores=1) == 1
    assert default_fit_workers("cpu", {}, cores=2) == 1  # the CPU embedder takes every core: still one
    assert default_fit_workers("cpu", {"OMP_NUM_THREADS": "4"}, cores=16) == 12


def test_the_number_of_fit_processes_is_not_an_input(tmp_path):
    """A resumed or retried batch keeps its checkpoint whatever FTM_FIT_WORKERS the new attempt has."""
    from ftm_assets.transcripts.demo import demo_transcripts
    from ftm_assets.worker.batch import BatchInputs

    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, demo_transcripts(Q, n_firms=2))

    def fingerprint(workers: int | None) -> str:
        cfg = WorkerConfig.from_extras({"quarter": Q, "batch": "000", "storage_root": str(tmp_path), "run_id": "r",
                                        "embedding": {"fit_workers": workers}})
        return BatchInputs.read(store, cfg).fingerprint

    assert fingerprint(None) == fingerprint(0) == fingerprint(2)


def test_an_input_error_comes_after_the_jobs_before_it():
    def jobs():
        yield "a", ValueError("a's own error")  # a job given as an exception passes through, in order
        raise OSError("the input broke")

    with FitPool(1) as pool:
        out = pool.in_order(jobs())
        key, result = next(out)
        assert key == "a" and isinstance(result, ValueError)
        with pytest.raises(OSError, match="the input broke"):
            next(out)
    assert not _alive(pool.pids())


def test_a_fit_process_that_dies_starting_is_critical_but_not_the_firms_fault(monkeypatch):
    monkeypatch.setenv(CRASH_ENV, START_CRASH)
    firm = FirmInput("F1", "First Co", None, None, None, [])
    with FitPool(1) as pool:
        [(key, result)] = list(pool.in_order([("F1", (firm, Q, [], None, None, False))]))
    assert key == "F1" and isinstance(result, FitPoolBroken)
    assert is_critical(result) and not is_firm_bound(result)
    assert "while starting" in str(result) and "exited with code 3" in str(result)
    assert not _alive(pool.pids())


@pytest.fixture(scope="module")
def processor():
    """One real processor (model loaded once) whose embeddings are computed once per firm for all runs."""
    cfg = WorkerConfig(quarter=Q, batch="000", storage_root="/unused", run_id="x",
                       embedding=EmbeddingSettings(device="cpu", fit_workers=0))
    proc = FirmProcessor(cfg, LOG)
    prepare, cache = proc.prepare, {}

    def prepare_once(firm, quarter):
        if firm.firm_id not in cache:
            cache[firm.firm_id] = prepare(firm, quarter)
        return cache[firm.firm_id]

    proc.prepare = prepare_once
    return proc


def _raw_rows(firms) -> list[dict]:
    day = dt.date(2024, 2, 12)
    return [
        {"quarter": Q, "firm_id": f.firm_id, "firm_name": f.firm_name, "call_id": 1, "earnings_call_date": day,
         "component_order": c.component_order, "speaker_type": c.speaker_type, "text": c.text}
        for f in firms for c in f.components
    ]


@pytest.fixture(scope="module")
def firms():
    """The two shortest of the first eight real calls, and two demo firms."""
    from benchmarks.corpora import demo_firms, real_firms

    real = sorted(real_firms(8), key=lambda f: sum(len(c.text) for c in f.components))[:2]
    return real + demo_firms(2, Q)


def _run(root, processor, firms, workers: int, checkpoint_every: int = 2, stage: bool = True):
    store = LocalStorage(root)
    if stage:  # a new raw file changes the inputs' fingerprint: a retry must not re-stage
        stage_quarter(store, Q, rows_table(_raw_rows(firms)))
    processor.fit_workers = workers
    cfg = WorkerConfig.from_extras({"quarter": Q, "batch": "000", "storage_root": str(root), "run_id": "run-1",
                                    "checkpoint_every": checkpoint_every})
    return store, run_batch(cfg, store, LOG, lambda cfg, log: processor)


@pytest.mark.slow
@requires_earnings22
def test_pool_output_is_bit_for_bit_the_in_process_output(tmp_path, processor, firms):
    before, outputs = _children(), {}
    for workers in (0, 1, 2):
        store, outcome = _run(tmp_path / str(workers), processor, firms, workers)
        assert outcome.error is None and not (_children() - before)  # the pool ended with the batch
        topics = read_firm_topics_table(store, Q).drop_columns(["processing_timestamp"])
        outputs[workers] = (topics, read_sentences(store, Q), outcome.state.counts, outcome.commit.firm_topics_parts)
    ref_topics, ref_sentences, ref_counts, ref_parts = outputs[0]
    assert ref_counts["firms_with_topics"] == len(firms) and len(ref_parts) == 2  # 4 firms, a part per 2
    ref_centroids = [np.asarray(c, dtype=np.float32) for c in ref_topics.column("centroid").to_pylist() if c]
    for workers in (1, 2):
        topics, sentences, counts, parts = outputs[workers]
        assert topics.to_pylist() == ref_topics.to_pylist()  # every row and value, floats compared exactly
        centroids = [np.asarray(c, dtype=np.float32) for c in topics.column("centroid").to_pylist() if c]
        assert all(np.array_equal(a, b) for a, b in zip(centroids, ref_centroids, strict=True))
        assert sentences.equals(ref_sentences)
        assert counts == ref_counts and len(parts) == len(ref_parts)


@pytest.mark.slow
def test_a_dead_fit_process_fails_its_firm_then_becomes_a_failure_row(tmp_path, processor, firms, monkeypatch):
    demo, before = firms[-2:], _children()
    victim = demo[1].firm_id
    monkeypatch.setenv(CRASH_ENV, f"{victim}:SIGKILL")  # inherited by the fit processes spawned from now on
    store, outcome = _run(tmp_path, processor, demo, 1, checkpoint_every=1)
    assert not (_children() - before)  # the job failed: its fit processes are gone
    died = outcome.error
    assert isinstance(died, FitProcessDied) and is_critical(died) and is_firm_bound(died)
    assert died.firm_id == victim and died.exitcode == -9
    assert victim in str(died) and "SIGKILL" in str(died)
    assert outcome.state.firms_done == [demo[0].firm_id]  # the firm before it was checkpointed
    assert store.exists(layout.poison(Q, "000"))

    # The retry (in-process: the poison list is the batch loop's, whatever fits): a failure row, not refitted.
    _, outcome = _run(tmp_path, processor, demo, 0, checkpoint_every=1, stage=False)
    assert outcome.error is None
    failures = read_failures(store, Q).set_index("firm_id")
    assert failures.loc[victim, "error_class"] == "FitProcessDied" and failures.loc[victim, "outcome"] == "failed"
    assert "SIGKILL" in failures.loc[victim, "message"]
    assert set(read_firm_topics_table(store, Q).column("firm_id").to_pylist()) == {demo[0].firm_id}


@pytest.mark.slow
def test_the_pool_ends_with_results_however_it_ends(processor, firms):
    """An empty firm first: it comes back at once, while the fit process still starts or fits the next."""
    empty = FirmInput("E1", "Empty Co", None, None, None, [Component(1, 0, "Executives", "  ")])
    batch = [empty, firms[-1]]
    processor.fit_workers, before = 1, _children()
    gen = processor.results(batch, Q)
    firm, result = next(gen)
    assert firm.firm_id == "E1" and isinstance(result, EmptyTranscript)
    assert len(_children() - before) == 1  # the fit process
    gen.close()  # the consumer stopped early
    assert not _new_children(before)

    with pytest.raises(RuntimeError, match="consumer broke"):
        for _ in processor.results(batch, Q):
            raise RuntimeError("consumer broke")
    assert not _new_children(before)


ORPHAN_SCRIPT = """
import os, signal, sys, time
from ftm_assets.worker.fit_pool import FitPool
if __name__ == "__main__":
    pool = FitPool(1)
    print(pool.pids()[0], flush=True)
    time.sleep(float(sys.argv[1]))
    os.kill(os.getpid(), signal.SIGKILL)  # the worker killed mid-batch: no close(), no finally
"""


@pytest.mark.parametrize("after_s", [0.0, 2.0])  # before the fit process is up; during its warm-up
def test_fit_processes_end_when_the_worker_is_killed(tmp_path, after_s):
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "killed_worker.py"
    script.write_text(ORPHAN_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(after_s)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr[-2000:]
    pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), f"fit process {pid} outlived its killed worker"

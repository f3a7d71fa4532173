"""Fault injection with the real worker (model and all): killed with SIGKILL, as by a Spot interruption, at
moments drawn after it reports it has started (during its model load, and between checkpoints while it
models), plus one crash through the test hook right after a part is written; each restart resumes, the
checkpoint only advances, and the end state equals one uninterrupted run with nothing left over. The kill
moments are measured, not planned. Local root, then S3 through moto's server.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest

from ftm_assets.storage import layout, open_storage
from ftm_assets.worker.crash import EXIT_CODE
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.worker_process import (
    Q,
    WorkerProcess,
    assert_nothing_left_over,
    assert_same_outputs,
    outputs,
    stage,
)

N_FIRMS = 6  # demo firms, plus one empty transcript (a skipped row): seven checkpoints after the first
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def serial_fits():
    """Fits in the worker's own process: the kill moments are drawn from the reference's interval between
    checkpoints, "within the next firm's modelling"; with a fit pool the last firms' fits run ahead, so the
    tail after five firms can end before any drawn delay. test_fit_pool.py kills workers with a pool."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTM_FIT_WORKERS", "0")
        yield


def _checkpoint(store) -> dict | None:
    key = layout.checkpoint(Q, "000")
    return json.loads(store.read_text(key)) if store.exists(key) else None


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """One uninterrupted run for the module: its outputs and how long it took per firm (from its checkpoints)."""
    tmp = tmp_path_factory.mktemp("reference")
    root = str(tmp / "root")
    stage(root, N_FIRMS)
    store = open_storage(root)
    worker = WorkerProcess(tmp / "pipes", root, "reference-run")
    worker.wait_started()
    seen: dict[int, float] = {}  # firms checkpointed -> when first seen
    while worker.proc.poll() is None:
        seen.setdefault(len((_checkpoint(store) or {}).get("firms_done", [])), time.monotonic())
        time.sleep(0.05)
    assert worker.finish() == 0, worker.stderr()[-3000:]
    firms = sorted(n for n in seen if n > 0)
    per_firm_s = (seen[firms[-1]] - seen[firms[0]]) / max(firms[-1] - firms[0], 1)
    return {"outputs": outputs(root), "per_firm_s": per_firm_s}


class Interrupter:
    """Starts the worker again and again on one root, kills it at a drawn moment, checks the checkpoint."""

    def __init__(self, tmp: Path, root: str, seed: int):
        self.tmp, self.root, self.store = tmp, root, open_storage(root)
        self.rng = random.Random(seed)
        self.kills: list[dict] = []  # what really happened: checkpoint reached, seconds after "started"
        self.last_seq, self.last_done = 0, []

    def start(self, crash_at: str | None = None) -> WorkerProcess:
        return WorkerProcess(self.tmp / "pipes", self.root, "interrupted-run", crash_at=crash_at)

    def crash_through_hook(self, window: str) -> None:
        worker = self.start(crash_at=window)
        assert worker.finish() == EXIT_CODE, worker.stderr()[-3000:]
        self.after_kill(window, None)

    def kill_after_start(self, within_s: float) -> None:
        """Kill during start-up work that follows the "started" report (lease, inputs, model load)."""
        worker = self.start()
        started = worker.wait_started()
        time.sleep(self.rng.uniform(0.0, within_s))
        self.kill(worker, started, "after start")

    def kill_after_firms(self, n_done: int, within_s: float) -> None:
        """Kill once ``n_done`` firms are checkpointed, at a drawn moment within the next firm's modelling."""
        worker = self.start()
        started = worker.wait_started()
        deadline = time.monotonic() + 600
        while worker.proc.poll() is None and time.monotonic() < deadline:
            if len((_checkpoint(self.store) or {}).get("firms_done", [])) >= n_done:
                break
            time.sleep(0.05)
        time.sleep(self.rng.uniform(0.0, within_s))
        self.kill(worker, started, f"after {n_done} firms")
        assert _checkpoint(self.store) is not None, "the kill landed after the commit: draw a shorter delay"

    def kill(self, worker: WorkerProcess, started: float, label: str) -> None:
        assert worker.proc.poll() is None, f"the worker ended before the kill ({label}): {worker.stderr()[-2000:]}"
        worker.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        worker.proc.wait()
        self.after_kill(label, round(killed_at - started, 2))

    def after_kill(self, label: str, seconds_after_start: float | None) -> None:
        cp = _checkpoint(self.store)
        if cp is not None:
            assert cp["checkpoint_seq"] >= self.last_seq, "checkpoint went backwards"
            assert cp["firms_done"][: len(self.last_done)] == self.last_done, "a checkpointed firm was lost"
            self.last_seq, self.last_done = cp["checkpoint_seq"], cp["firms_done"]
        self.kills.append({"when": label, "s_after_start": seconds_after_start, "firms_done": len(self.last_done)})

    def finish(self) -> None:
        worker = self.start()
        assert worker.finish() == 0, worker.stderr()[-3000:]


def _assert_equals_reference(root: str, reference: dict) -> None:
    assert_same_outputs(outputs(root), reference["outputs"])
    assert_nothing_left_over(open_storage(root))


def test_kills_and_a_crash_on_a_local_root(tmp_path, reference):
    root = str(tmp_path / "root")
    stage(root, N_FIRMS)
    run = Interrupter(tmp_path, root, seed=7)
    per_firm = reference["per_firm_s"]
    run.crash_through_hook("after-part:2")  # a part written that no checkpoint names yet
    run.kill_after_start(within_s=3.0)
    run.kill_after_firms(3, within_s=per_firm / 2)
    run.kill_after_firms(5, within_s=per_firm / 2)
    run.finish()
    print("kills:", run.kills)
    measured = [k["s_after_start"] for k in run.kills if k["s_after_start"] is not None]
    assert len(measured) == 3 and len(set(measured)) == 3
    assert run.kills[-1]["firms_done"] >= 5  # the last kill landed while modelling, past five firms
    _assert_equals_reference(root, reference)


def test_kills_on_s3(tmp_path, moto_server, reference):  # noqa: F811
    root = f"s3://{create_bucket(moto_server)}/interrupted"
    stage(root, N_FIRMS)
    run = Interrupter(tmp_path, root, seed=11)
    run.kill_after_start(within_s=3.0)
    run.kill_after_firms(3, within_s=reference["per_firm_s"] / 2)
    run.finish()
    print("kills:", run.kills)
    assert run.kills[-1]["firms_done"] >= 3
    _assert_equals_reference(root, reference)

"""Crash consistency by design: the batch protocol killed (``os._exit`` through ``FTM_TEST_CRASH_AT``) at each
named window of a re-run over a good output, then (a) the same run restarted and (b) a new run started:
each ends equal to an uninterrupted run with nothing orphaned, and while it lies crashed, readers see the old
output or the new one, whole. Local root and S3 through moto. Two runs of a partition at once: one writes,
the other is refused naming it; the end state equals a solo run.

The worker here is ``support/scripted_worker.py``: the real ``run_batch`` (lease, checkpoints, commit,
cleanup, crash hook) with a processor that needs no model, so each process starts in about a second; the
real worker is killed at random points in test_fault_injection.py.
"""

from __future__ import annotations

import time

import pytest

from ftm_assets.storage import layout, open_storage
from ftm_assets.storage.commit import load_commit
from ftm_assets.worker.crash import EXIT_CODE, WINDOWS
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.worker_process import (
    Q,
    assert_nothing_left_over,
    assert_same_outputs,
    copy_root,
    outputs,
    run_scripted_worker,
    stage,
    upload_root,
)

CRASH_AT = {"after-part": "after-part:2", "after-checkpoint": "after-checkpoint:2",
            "after-commit": "after-commit", "during-cleanup": "during-cleanup"}
assert set(CRASH_AT) == set(WINDOWS)  # a new window needs a case here


def _run(root: str, run_id: str, crash_at: str | None = None, delay_s: float = 0.0) -> tuple[int, str]:
    proc = run_scripted_worker(root, run_id, crash_at, delay_s)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode(errors="replace")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[str, dict]:
    """One uninterrupted run, shared by the module: its root (a good output to re-run over) and outputs."""
    root = str(tmp_path_factory.mktemp("reference") / "root")
    stage(root)
    code, err = _run(root, "reference-run")
    assert code == 0, err[-3000:]
    return root, outputs(root)


@pytest.fixture(params=["local", "s3"])
def seeded(request, reference, tmp_path):
    """A root holding the reference's good output (committed by reference-run), local or on S3."""
    ref_root, _ = reference
    if request.param == "local":
        root = str(tmp_path / "root")
        copy_root(ref_root, root)
        return root, str(tmp_path / "copy")
    bucket = create_bucket(request.getfixturevalue("moto_server"))
    root = f"s3://{bucket}/root"
    upload_root(ref_root, root)
    return root, f"s3://{bucket}/copy"


@pytest.mark.parametrize("window", WINDOWS)
def test_a_crash_at_each_window_then_a_restart_or_a_new_run(seeded, reference, window):
    root, copy = seeded
    _, want = reference
    code, err = _run(root, "crash-run", CRASH_AT[window])
    assert code == EXIT_CODE and "crashing now" in err, err[-3000:]

    # While it lies crashed: the commit names only files that exist, and reads give one whole output.
    store = open_storage(root)
    assert store.exists(layout.lease(Q, "000"))  # a dead holder's lease, taken over below
    record = load_commit(store, Q, "000")
    assert all(store.exists(k) for k in record.files)
    assert record.run_id == ("crash-run" if window in ("after-commit", "during-cleanup") else "reference-run")
    assert_same_outputs(outputs(root), want)

    copy_root(root, copy)
    # (a) the restarted run resumes its checkpoint or finishes its own commit; (b) a new run resumes the
    # checkpoint (same inputs), except after cleanup began: the checkpoint is gone and it starts over.
    for target, run_id, reuses in ((root, "crash-run", True), (copy, "new-run", window != "during-cleanup")):
        code, err = _run(target, run_id)
        assert code == 0, err[-3000:]
        assert ("Resuming" in err or "already committed by this run" in err) == reuses, err[-3000:]
        assert_same_outputs(outputs(target), want)
        target_store = open_storage(target)
        assert_nothing_left_over(target_store)
        assert load_commit(target_store, Q, "000").run_id == run_id


def test_two_runs_at_once_one_writes_the_other_is_refused(seeded, reference):
    root, _ = seeded
    _, want = reference
    first = run_scripted_worker(root, "run-first", delay_s=1.0)  # 4 firms: it holds the lease 4 s or more
    second = None
    try:
        store = open_storage(root)
        deadline = time.monotonic() + 60
        while not store.exists(layout.lease(Q, "000")) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_scripted_worker(root, "run-second")
        _, err_second = second.communicate(timeout=120)
        _, err_first = first.communicate(timeout=120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0, err_first.decode()[-3000:]
    assert second.returncode == 1
    message = err_second.decode()
    assert "is being written by run run-first" in message and "was not started" in message
    assert "output is unchanged: the commit of run reference-run" in message
    assert_same_outputs(outputs(root), want)
    assert_nothing_left_over(store)
    assert load_commit(store, Q, "000").run_id == "run-first"

"""Stalled writers cannot land (issue 26, scenarios 3, 4, 9, 11): a commit record or checkpoint written after the
lease was taken over is refused at the write, a resumed checkpoint must name parts that exist, takeover follows
the lease object's age as storage sees it (no clock comparison, no instant takeover by a relaunch), a retried
conditional PUT that meets its own first write succeeds, and a killed write's temp file goes with the clean-up.
Stalls are simulated deterministically: the stalled writer's write is held in a hook while the successor runs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

import ftm_assets.storage.lease as lease_module
import ftm_assets.worker.outputs as outputs_module
from ftm_assets.readers import read_failures, read_firm_topics
from ftm_assets.storage import LocalStorage, S3Storage, StorageError, layout, open_storage
from ftm_assets.storage.commit import load_commit
from ftm_assets.storage.lease import Holder, LeaseHeld, LeaseLost, PartitionLease
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.outputs import BatchState, BatchWriter
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401
from ftm_assets_tests.support.scripted_processor import scripted
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q, B = "2024Q1", "000"
FIRMS = [f"f{i}" for i in range(1, 7)]
LOG = logging.getLogger("test-fencing")


@pytest.fixture(params=["local", "s3"])
def staged(request, tmp_path):
    """Six firms staged on a local root or on S3 (moto's server, which enforces If-Match / If-None-Match)."""
    if request.param == "local":
        store = LocalStorage(tmp_path / "root")
    else:
        store = open_storage(f"s3://{create_bucket(request.getfixturevalue('moto_server'))}/root")
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]))
    return store


def _cfg(root, run_id, topics=None, checkpoint_every=1):
    return WorkerConfig.from_extras({
        "quarter": Q, "batch": B, "storage_root": str(root), "run_id": run_id, "checkpoint_every": checkpoint_every,
        "policy": {"max_consecutive_failures": 99, "min_processed_for_rate": 10_000}, "topics": topics or {},
    })


def _expire_lease(store) -> None:
    """What a takeover leaves for the stalled holder: its lease is no longer its own."""
    store.delete(layout.lease(Q, B))


def test_a_stalled_commit_record_cannot_land_after_its_successors(staged, monkeypatch):
    """Scenario 3: A passes fence(), its PUT of the record is delayed; B takes over (other settings), commits and
    deletes A's files; A's PUT then arrives. The record stays B's, B's output reads, A's message is true."""
    real_write = outputs_module.write_commit
    stalled = {"done": False}

    def delayed_put(*args, **kwargs):
        if not stalled["done"]:
            stalled["done"] = True  # A's PUT is in flight: meanwhile its lease expires and B runs to the end
            _expire_lease(staged)
            b = run_batch(_cfg(staged.root, "run-b", topics={"random_seed": 7}), staged, LOG, scripted())
            assert b.error is None, b.error
        return real_write(*args, **kwargs)

    monkeypatch.setattr(outputs_module, "write_commit", delayed_put)
    a = run_batch(_cfg(staged.root, "run-a"), staged, LOG, scripted())

    assert isinstance(a.error, LeaseLost)
    record = load_commit(staged, Q, B)
    assert record.run_id == "run-b"
    assert sorted(read_firm_topics(staged, Q, strict=True).firm_id) == FIRMS  # every file it names exists
    assert read_failures(staged, Q, strict=True).empty
    message = a.failure_message(staged)
    assert "no committed output" not in message and "commit of run run-b" in message


def test_a_stalled_checkpoint_cannot_land_and_a_checkpoint_naming_deleted_parts_is_not_resumed(staged, monkeypatch):
    """Scenario 4: A stalls between its second part and its checkpoint; B takes over, resumes, commits, deletes
    A's newest part and clears the checkpoint; A's checkpoint write is then refused. A run C with the same
    inputs commits a record whose every file exists, and B's output is never destroyed."""
    real_save = BatchWriter.save_checkpoint
    calls = {"n": 0}

    def stalled_save(self, state):
        calls["n"] += 1
        if self.token.startswith("runa") and calls["n"] == 3:  # A: after its 2nd part, before that checkpoint
            _expire_lease(staged)
            b = run_batch(_cfg(staged.root, "run-b"), staged, LOG, scripted())
            assert b.error is None, b.error
        return real_save(self, state)

    monkeypatch.setattr(BatchWriter, "save_checkpoint", stalled_save)
    a = run_batch(_cfg(staged.root, "run-a"), staged, LOG, scripted())
    monkeypatch.setattr(BatchWriter, "save_checkpoint", real_save)
    assert isinstance(a.error, LeaseLost)
    assert not staged.exists(layout.checkpoint(Q, B))  # A's late checkpoint did not land
    b_record = load_commit(staged, Q, B)
    assert b_record.run_id == "run-b"

    c = run_batch(_cfg(staged.root, "run-c"), staged, LOG, scripted())
    assert c.error is None, c.error
    assert all(staged.exists(k) for k in c.commit.files)
    assert sorted(read_firm_topics(staged, Q, strict=True).firm_id) == FIRMS


def test_a_checkpoint_naming_a_missing_part_is_discarded_not_resumed(staged):
    """The resume check on its own: a checkpoint whose part is gone starts the batch afresh."""
    failing = scripted({"f3": StorageError("down")})  # a critical error: the job fails after f1, f2
    first = run_batch(_cfg(staged.root, "run-1"), staged, LOG, failing)
    assert first.error is not None and first.state.topic_parts
    staged.delete(first.state.topic_parts[0])  # e.g. a successor's clean-up removed it
    again = scripted()
    second = run_batch(_cfg(staged.root, "run-2"), staged, LOG, again)
    assert second.error is None and again.seen == FIRMS  # nothing resumed from the broken checkpoint
    assert all(staged.exists(k) for k in second.commit.files)


def test_a_relaunch_of_the_same_run_does_not_take_a_live_holders_lease_at_once(staged):
    """Scenario 4 (takeover): the relaunch waits for the holder to be proven gone; a live, renewing holder keeps it."""
    holder = PartitionLease(staged, Q, B, "run-a", token="first", renew_every_s=30.0)
    holder.acquire()
    waits: list[float] = []
    relaunch = PartitionLease(staged, Q, B, "run-a", token="second", renew_every_s=30.0, sleep=waits.append)
    with pytest.raises(LeaseHeld, match="run run-a"):
        relaunch.acquire()
    assert sum(waits) >= holder.ttl_s  # it waited a whole lease life (on a clock it was handed), then refused
    holder.fence()  # the first worker still holds it
    holder.release()


def test_a_relaunch_takes_over_once_the_old_lease_has_expired_by_storage_age(tmp_path):
    store = LocalStorage(tmp_path)
    old = PartitionLease(store, Q, B, "run-a", token="first", renew_every_s=30.0)
    old.acquire()
    lease_file = Path(store.uri(layout.lease(Q, B)))
    past = time.time() - 3 * old.ttl_s
    os.utime(lease_file, (past, past))  # not written for 6 minutes, as the file system says
    relaunch = PartitionLease(store, Q, B, "run-a", token="second", sleep=lambda s: pytest.fail("no wait needed"))
    relaunch.acquire()
    with pytest.raises(LeaseLost):
        old.fence()
    relaunch.release()


class _ClockAhead:
    """The taker's clock runs 90 s ahead of everyone else's."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return time.time() + 90.0


def test_a_taker_with_a_fast_clock_does_not_take_over_a_healthy_holder(staged, monkeypatch):
    holder = PartitionLease(staged, Q, B, "run-a", token="healthy", renew_every_s=10.0)  # stale after 40 s
    holder.acquire()
    monkeypatch.setattr(lease_module, "time", _ClockAhead())
    with pytest.raises(LeaseHeld, match="run run-a"):
        PartitionLease(staged, Q, B, "run-b", token="taker", renew_every_s=10.0).acquire()
    monkeypatch.undo()
    holder.fence()
    holder.release()


class _RetriedPuts:
    """An S3 client whose conditional PUTs are applied, their answer lost, and retried by the SDK."""

    def __init__(self, client):
        self._client = client
        self.retried = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        answer = self._client.put_object(**kwargs)
        if "IfMatch" in kwargs or "IfNoneMatch" in kwargs:
            self.retried += 1
            return self._client.put_object(**kwargs)  # the retry meets our own first write: 412
        return answer


def test_a_retried_conditional_put_is_success_not_lease_lost(moto_server):  # noqa: F811
    """Scenario 9: a renew or fence PUT applied, its answer lost, the SDK's retry refused with 412."""
    bucket = create_bucket(moto_server)
    client = _RetriedPuts(moto_server.client("s3"))
    store = S3Storage(f"s3://{bucket}/root", client=client)
    lease = PartitionLease(store, Q, B, "run-a", token="tok")
    lease.acquire()
    lease.renew()
    lease.fence()
    assert client.retried == 3
    lease.release()
    assert not store.exists(layout.lease(Q, B))  # released: the next run is not refused for two minutes
    nxt = PartitionLease(store, Q, B, "run-b", token="next")
    nxt.acquire()
    nxt.release()


def test_a_killed_writes_temp_file_goes_with_the_clean_up_after_a_commit(tmp_path):
    """Scenario 11: a worker killed right after a part landed leaves a hidden temp file; the next success removes it."""
    store = LocalStorage(tmp_path)
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]))
    leftover = [Path(store.uri(layout.sentences_prefix(Q))) / ".batch_000_runk-abc123_part_0001.parquet.x1y2.tmp",
                Path(store.uri(layout.firm_topics_prefix(Q))) / ".batch_000_runk-abc123_part_0001.parquet.9f.tmp"]
    for path in leftover:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a part")
    other = Path(store.uri(layout.sentences_prefix(Q))) / ".batch_001_runk-abc123_part_0001.parquet.zz.tmp"
    other.write_bytes(b"another batch's")
    outcome = run_batch(_cfg(store.root, "run-1"), store, LOG, scripted())
    assert outcome.error is None
    assert not any(p.exists() for p in leftover)
    assert other.exists()  # another batch's files are not this batch's to delete


def test_records_of_a_newer_version_are_read_not_refused(tmp_path):
    """A rollback meets a checkpoint or a lease with fields it does not know: it reads them."""
    state = BatchState(run_id="r", quarter=Q, batch=B, firms_done=["f1"])
    newer = state.to_json().replace('"batch":', '"written_by": "v2", "batch":')
    assert BatchState.from_json(newer).firms_done == ["f1"]
    holder = Holder.me("r", "tok", 120.0)
    data = holder.to_bytes().replace(b'"run_id":', b'"zone": "eu", "run_id":')
    assert Holder.from_bytes(data) == holder

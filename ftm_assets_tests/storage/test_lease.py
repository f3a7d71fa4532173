"""One writer per partition: conditional writes (exclusive create, compare-and-swap) and the lease built on
them, on a local root and on S3 through moto's server (which enforces If-None-Match / If-Match)."""

import socket
import subprocess
import threading
import time

import pytest

from ftm_assets.storage import PreconditionFailed, open_storage
from ftm_assets.storage.lease import Holder, LeaseHeld, LeaseLost, PartitionLease
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401

Q, B = "2024Q1", "000"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_storage(tmp_path / "root")
    server = request.getfixturevalue("moto_server")
    return open_storage(f"s3://{create_bucket(server)}/root")


def _lease(store, run_id, renew_every_s=30.0):
    return PartitionLease(store, Q, B, run_id, token=f"{run_id}-t", renew_every_s=renew_every_s)


def test_conditional_writes(store):
    v1 = store.create_exclusive("k.json", b"one")
    with pytest.raises(PreconditionFailed):
        store.create_exclusive("k.json", b"two")
    data, version = store.read_versioned("k.json")
    assert (data, version) == (b"one", v1)
    v2 = store.replace_if("k.json", b"two", v1)
    assert v2 != v1 and store.read_text("k.json") == "two"
    with pytest.raises(PreconditionFailed):
        store.replace_if("k.json", b"three", v1)  # a stale version loses
    assert store.read_text("k.json") == "two"
    assert set(store.versions("")) == {"k.json"}


def test_exactly_one_of_many_racing_runs_takes_the_lease(store):
    leases = [_lease(store, f"run-{i}") for i in range(6)]
    results: dict[str, str] = {}
    start = threading.Barrier(len(leases))

    def take(lease):
        start.wait()
        try:
            lease.acquire()
            results[lease.run_id] = "won"
        except LeaseHeld as exc:
            results[lease.run_id] = str(exc)

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r, v in results.items() if v == "won"]
    assert len(winners) == 1, results
    losers = [v for v in results.values() if v != "won"]
    assert all(f"run {winners[0]}" in v or "at the same moment" in v for v in losers), losers


def test_a_held_lease_names_its_holder_and_is_released(store):
    first = _lease(store, "run-a")
    first.acquire()
    with pytest.raises(LeaseHeld, match=r"2024Q1 batch 000 is being written by run run-a \(worker pid \d+"):
        _lease(store, "run-b").acquire()
    first.release()
    second = _lease(store, "run-b")
    second.acquire()  # free again
    second.release()


def test_renewal_keeps_a_lease_past_its_stale_limit(store):
    holder = _lease(store, "run-a", renew_every_s=0.1)  # stale after 0.4 s without renewal
    holder.acquire()
    holder.start_renewing()
    time.sleep(1.0)
    with pytest.raises(LeaseHeld):
        _lease(store, "run-b", renew_every_s=0.1).acquire()
    holder.release()


def test_a_stale_lease_is_taken_over_and_the_old_holder_is_fenced_out(store):
    old = _lease(store, "run-a", renew_every_s=0.05)
    old.acquire()  # never renewed: its holder "hangs"
    time.sleep(0.5 + 2 * store.age_resolution_s)  # its age as storage sees it: S3's clock counts whole seconds
    new = _lease(store, "run-b", renew_every_s=0.05)
    new.acquire()
    with pytest.raises(LeaseLost, match="taken over"):
        old.fence()  # the hung run wakes up and tries to commit
    old.release()  # must not remove the new holder's lease
    with pytest.raises(LeaseHeld, match="run run-b"):
        _lease(store, "run-c").acquire()
    new.fence()
    new.release()


def test_a_relaunched_worker_of_the_same_run_takes_over_once_the_lease_expires(store):
    crashed = _lease(store, "run-a", renew_every_s=0.05)
    crashed.acquire()  # its worker stops renewing (on another host: its process cannot be checked)
    relaunched = PartitionLease(store, Q, B, "run-a", token="run-a-second", renew_every_s=0.05)
    relaunched.acquire()  # waits for the lease to expire by storage's clock, then takes it over
    with pytest.raises(LeaseLost):
        crashed.fence()
    relaunched.release()


def test_a_lease_of_a_dead_process_on_this_host_is_taken_over(store):
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = time.time()
    holder = Holder("run-dead", "tok", socket.gethostname(), dead.pid, now, now, ttl_s=3600)
    store.create_exclusive("progress/2024Q1/batch_000_lease.json", holder.to_bytes())
    taker = _lease(store, "run-b")
    taker.acquire()
    taker.release()

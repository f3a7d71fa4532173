"""One writer per partition: a lease object per (quarter, batch) in the storage root.

Taken with an exclusive create (locally a file created under an ``flock``; on S3 a PUT with
``If-None-Match: *``), renewed and fenced with a compare-and-swap (the version read last; ``If-Match: <etag>``
on S3). A run that finds the lease held stops at once with a message naming the holder: it never waits, so
two runs of a partition cannot interleave their writes. A lease is taken over when its holder is gone: a
holder on this host whose process has died, or a lease object that storage says was last written more than
``STALE_AFTER_RENEWALS`` intervals ago (its age by the storage's own clock, never one machine's clock against
another's). A relaunched worker of the same Dagster run (a restart after a crash or a Spot interruption) waits
for one of those to hold, at most the lease's life, instead of stopping: its old holder may still be alive.
Holding the lease is not enough on its own: the commit record and the checkpoint are also written with a
conditional write on the version read under the lease, so a holder that stalled past its lease cannot land.
No Dagster import: the worker holds the lease.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from ftm_assets.storage import PreconditionFailed, Storage, StorageError, layout

RENEW_EVERY_S = 30.0
STALE_AFTER_RENEWALS = 4  # a lease not renewed for 4 intervals (2 minutes) belongs to a dead holder


class LeaseHeld(StorageError):
    """Another run is writing this partition now."""


class LeaseLost(StorageError):
    """This run's lease was taken over (it stalled past the stale limit): it must not commit or delete."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    token: str  # the attempt (worker process) holding it
    host: str
    pid: int
    acquired_at: float
    renewed_at: float
    ttl_s: float  # how long without renewal until others may take it over

    @classmethod
    def me(cls, run_id: str, token: str, ttl_s: float, acquired_at: float | None = None) -> "Holder":
        now = time.time()
        return cls(run_id, token, socket.gethostname(), os.getpid(), acquired_at or now, now, ttl_s)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Holder":
        """A lease written by this version or a newer one (fields it does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(data).items() if k in known})

    def gone_because(self, age_s: float, resolution_s: float = 0.0) -> str | None:
        """Why this holder is gone, given its lease object's age as storage sees it (measured to within
        ``resolution_s``); None while it may be alive."""
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return f"its process {self.pid} on this host has ended"
        if age_s - resolution_s > self.ttl_s:
            return f"its lease was last written {age_s:.0f} s ago (limit {self.ttl_s:.0f} s)"
        return None

    def describe(self, age_s: float) -> str:
        return (f"run {self.run_id} (worker pid {self.pid} on {self.host}, attempt {self.token}, "
                f"renewed {age_s:.0f} s ago)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PartitionLease:
    """The lease of one (quarter, batch); ``acquire`` first, ``fence`` before commit and deletes."""

    def __init__(self, storage: Storage, quarter: str, batch: str, run_id: str, token: str,
                 renew_every_s: float = RENEW_EVERY_S, log: logging.Logger | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.storage = storage
        self.key = layout.lease(quarter, batch)
        self.label = f"{quarter} batch {batch}"
        self.run_id = run_id
        self.token = token
        self.renew_every_s = renew_every_s
        self.ttl_s = renew_every_s * STALE_AFTER_RENEWALS
        self.log = log or logging.getLogger(__name__)
        self._sleep = sleep  # how a relaunch waits for its old holder's lease to expire (tests pass their own)
        self._version: str | None = None
        self._acquired_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: BaseException | None = None

    # -- taking and giving back ---------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld naming the run that holds it.

        A relaunched worker of the same run waits (at most the holder's lease life and one renewal) for its old
        holder to be proven gone; any other run stops at once.
        """
        me = Holder.me(self.run_id, self.token, self.ttl_s)
        waited = 0.0
        while True:
            try:
                self._version = self.storage.create_exclusive(self.key, me.to_bytes())
                self._acquired_at = me.acquired_at
                return
            except PreconditionFailed:
                pass
            try:
                data, version, age = self.storage.read_versioned_age(self.key)
            except StorageError:  # released between our create and our read: try again
                if self.storage.exists(self.key):
                    raise
                continue
            holder = Holder.from_bytes(data)
            reason = holder.gone_because(age, self.storage.age_resolution_s)
            if reason is not None:
                break
            patience = holder.ttl_s + 2 * self.storage.age_resolution_s + self.renew_every_s
            if holder.run_id == self.run_id and waited <= patience:
                if waited == 0.0:
                    self.log.info(f"{self.label}: the lease is held by an earlier worker of this run "
                                  f"({holder.describe(age)}); waiting for it to expire before taking over.")
                step = min(5.0, self.renew_every_s)
                self._sleep(step)
                waited += step
                continue
            relaunch = (" (an earlier worker of this same run, still renewing: it may still be writing)"
                        if holder.run_id == self.run_id else "")
            raise LeaseHeld(
                f"{self.label} is being written by {holder.describe(age)}{relaunch}. This run stops so that the two "
                f"do not mix their files: runs of `make run`, `make dev` (the UI) and Batch jobs all take this "
                f"partition's lease, so they never write it at once. Wait for that run to finish (or cancel it), "
                f"then run again. A lease not renewed for {holder.ttl_s:.0f} s is taken over. "
                f"Lease: {self.storage.uri(self.key)}."
            )
        try:
            self._version = self.storage.replace_if(self.key, me.to_bytes(), version)
        except PreconditionFailed as exc:
            raise LeaseHeld(f"{self.label}: another run took over the lease of {holder.describe(age)} "
                            f"at the same moment; this run stops. Lease: {self.storage.uri(self.key)}.") from exc
        self._acquired_at = me.acquired_at
        self.log.info(f"Took over the lease of {self.label} from {holder.describe(age)}: {reason}.")

    def release(self) -> None:
        """Give the lease back if it is still ours (stops the renewal thread first)."""
        self.stop_renewing()
        if self._version is None:
            return
        try:
            data, _ = self.storage.read_versioned(self.key)
            if Holder.from_bytes(data).token == self.token:  # ours (whatever a retried renewal left as version)
                self.storage.delete(self.key)
        except StorageError as exc:
            self.log.warning(f"Could not release the lease {self.storage.uri(self.key)}: {exc}")
        self._version = None

    # -- staying the holder -------------------------------------------------------------------------
    def renew(self) -> None:
        """Rewrite the lease if it is still ours (compare-and-swap); raise LeaseLost otherwise."""
        if self._lost is not None:
            raise LeaseLost(str(self._lost)) from self._lost
        with self._lock:
            if self._version is None:
                raise LeaseLost(f"{self.label}: this run does not hold the lease.")
            me = Holder.me(self.run_id, self.token, self.ttl_s, self._acquired_at)
            try:
                self._version = self.storage.replace_if(self.key, me.to_bytes(), self._version)
            except PreconditionFailed as exc:
                self._lost = LeaseLost(
                    f"{self.label}: the lease {self.storage.uri(self.key)} was taken over by another run while "
                    f"this one held it (no renewal for {self.ttl_s:.0f} s?); this run must not commit."
                )
                raise self._lost from exc

    fence = renew  # before a commit and before deleting: a compare-and-swap proves we still hold it

    def start_renewing(self) -> None:
        """Renew every ``renew_every_s`` in a daemon thread while the batch runs."""
        self._thread = threading.Thread(target=self._renew_loop, name="ftm-lease", daemon=True)
        self._thread.start()

    def stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            try:
                self.renew()
            except LeaseLost:
                return  # remembered in _lost: the main loop raises it at its next check
            except StorageError as exc:  # a transient error: the next renewal tries again
                self.log.warning(f"Could not renew the lease {self.storage.uri(self.key)}: {exc}")

    def check(self) -> None:
        """Raise LeaseLost if the renewal thread found the lease taken over."""
        if self._lost is not None:
            raise LeaseLost(str(self._lost)) from self._lost

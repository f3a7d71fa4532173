"""One writer per partition: a lease object per (quarter, batch) in the storage root.

Taken with an exclusive create (locally a file created under an ``flock``; on S3 a PUT with
``If-None-Match: *``), renewed and fenced with a compare-and-swap (the version read last; ``If-Match: <etag>``
on S3). A run that finds the lease held stops at once with a message naming the holder: it never waits, so
two runs of a partition cannot interleave their writes. A lease is taken over when its holder is gone:
the same Dagster run relaunching its worker (a restart after a crash or a Spot interruption), a holder on
this host whose process has died, or a holder that has not renewed for ``STALE_AFTER_RENEWALS`` intervals.
No Dagster import: the worker holds the lease.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass

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
        return cls(**json.loads(data))

    def gone_because(self, run_id: str, now: float) -> str | None:
        """Why this holder can be taken over by a worker of ``run_id``; None while it may be alive."""
        if self.run_id == run_id:
            return "it belongs to this run (a relaunched worker)"
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return f"its process {self.pid} on this host has ended"
        if now - self.renewed_at > self.ttl_s:
            return f"it was last renewed {now - self.renewed_at:.0f} s ago (limit {self.ttl_s:.0f} s)"
        return None

    def describe(self, now: float) -> str:
        return (f"run {self.run_id} (worker pid {self.pid} on {self.host}, attempt {self.token}, "
                f"renewed {now - self.renewed_at:.0f} s ago)")


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
                 renew_every_s: float = RENEW_EVERY_S, log: logging.Logger | None = None):
        self.storage = storage
        self.key = layout.lease(quarter, batch)
        self.label = f"{quarter} batch {batch}"
        self.run_id = run_id
        self.token = token
        self.renew_every_s = renew_every_s
        self.ttl_s = renew_every_s * STALE_AFTER_RENEWALS
        self.log = log or logging.getLogger(__name__)
        self._version: str | None = None
        self._acquired_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: BaseException | None = None

    # -- taking and giving back ---------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld naming the run that holds it."""
        me = Holder.me(self.run_id, self.token, self.ttl_s)
        try:
            self._version = self.storage.create_exclusive(self.key, me.to_bytes())
            self._acquired_at = me.acquired_at
            return
        except PreconditionFailed:
            pass
        try:
            data, version = self.storage.read_versioned(self.key)
        except StorageError:  # released between our create and our read: try once more
            self._version = self.storage.create_exclusive(self.key, me.to_bytes())
            self._acquired_at = me.acquired_at
            return
        holder = Holder.from_bytes(data)
        now = time.time()
        reason = holder.gone_because(self.run_id, now)
        if reason is None:
            raise LeaseHeld(
                f"{self.label} is being written by {holder.describe(now)}. This run stops so that the two do not "
                f"mix their files; wait for that run to finish (or cancel it). A lease not renewed for "
                f"{holder.ttl_s:.0f} s is taken over. Lease: {self.storage.uri(self.key)}."
            )
        try:
            self._version = self.storage.replace_if(self.key, me.to_bytes(), version)
        except PreconditionFailed as exc:
            raise LeaseHeld(f"{self.label}: another run took over the lease of {holder.describe(now)} "
                            f"at the same moment; this run stops. Lease: {self.storage.uri(self.key)}.") from exc
        self._acquired_at = me.acquired_at
        self.log.info(f"Took over the lease of {self.label} from {holder.describe(now)}: {reason}.")

    def release(self) -> None:
        """Give the lease back if it is still ours (stops the renewal thread first)."""
        self.stop_renewing()
        if self._version is None:
            return
        try:
            data, version = self.storage.read_versioned(self.key)
            if version == self._version and Holder.from_bytes(data).token == self.token:
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

"""How busy the machine was while a benchmark ran: a sampler thread, and whether the run counts as quiet.

A speed ratio measured while other work shares the cores is not a figure to quote (issue 29: 4.86 under CI
load, 1.89 on the same machine quiet). The load average cannot tell: the benchmark's own threads raise it to
about the core count. So the sampler reads ``/proc/stat`` (CPU time of the whole machine) and subtracts the
CPU time of this process and its descendants (``/proc/<pid>/stat``): what is left is other processes' work,
in cores. It records the 1-minute load average beside it, and the decision takes both: the load average
before the run starts (nothing of ours runs yet) and other processes' busy cores at every sample, each
against ``QUIET_FRACTION`` x cores. Where ``/proc`` is absent (macOS) only the load average is known, and a
run there is judged on the load average at start alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

QUIET_FRACTION = 0.5  # issue 29: loaded when load > 0.5 x cores at any sample
INTERVAL_S = 5.0  # long enough that a one-off spike of a few hundred ms does not mark a run


@dataclass(frozen=True)
class CpuTimes:
    """Jiffies since boot: the machine's busy and total, and this process tree's busy."""

    busy: int
    total: int
    own: int


@dataclass(frozen=True)
class LoadSample:
    at_s: float  # seconds since the sampler started
    load_1m: float
    others_busy_cores: float | None  # None: no /proc to read


def read_cpu_times(proc: Path = Path("/proc"), root_pid: int | None = None) -> CpuTimes | None:
    """The machine's CPU jiffies from ``/proc/stat`` and those of ``root_pid``'s process tree, or None."""
    try:
        fields_ = (proc / "stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in fields_[:8]]  # user nice system idle iowait irq softirq steal
    idle = ticks[3] + ticks[4]
    return CpuTimes(busy=sum(ticks) - idle, total=sum(ticks), own=tree_jiffies(proc, root_pid or os.getpid()))


def tree_jiffies(proc: Path, root_pid: int) -> int:
    """utime + stime of ``root_pid`` and every live descendant (the fit pool, the probes' subprocesses)."""
    parents: dict[int, int] = {}
    spent: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        rest = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid ... utime(11) stime(12)
        pid = int(entry.name)
        parents[pid] = int(rest[1])
        spent[pid] = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])  # + reaped children's
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(spent.get(p, 0) for p in tree)


def others_busy_cores(before: CpuTimes, after: CpuTimes, cores: int) -> float:
    """Cores' worth of CPU other processes used between two readings (never below 0)."""
    total = after.total - before.total
    if total <= 0:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    return max(0.0, others / total * cores)


@dataclass
class LoadRecord:
    """What latest.json records about the machine's load during a run, and the verdict."""

    cores: int
    threshold: float
    load_1m_at_start: float
    samples: list[LoadSample] = field(default_factory=list)

    @property
    def max_others_busy_cores(self) -> float | None:
        known = [s.others_busy_cores for s in self.samples if s.others_busy_cores is not None]
        return max(known) if known else None

    @property
    def loaded(self) -> bool:
        return is_loaded(self.load_1m_at_start, [s.others_busy_cores for s in self.samples], self.cores)

    def to_json(self) -> dict:
        return {
            "loaded": self.loaded,
            "cores": self.cores,
            "threshold_cores": self.threshold,
            "load_1m_at_start": self.load_1m_at_start,
            "max_others_busy_cores": self.max_others_busy_cores,
            "max_load_1m": max([self.load_1m_at_start, *(s.load_1m for s in self.samples)]),
            "samples": [asdict(s) for s in self.samples],
            "how": "others' busy cores = /proc/stat busy minus this process tree's CPU, per sample; "
            "loaded if it or the load average at start exceeds the threshold",
        }


def is_loaded(load_at_start: float, others: list[float | None], cores: int, fraction: float = QUIET_FRACTION) -> bool:
    """Whether a run counts as loaded: the load before it, or other processes' CPU at any sample, too high."""
    limit = fraction * cores
    return load_at_start > limit or any(o is not None and o > limit for o in others)


class LoadSampler:
    """A daemon thread sampling the load every ``interval_s``; use as a context manager around the run."""

    def __init__(
        self, interval_s: float = INTERVAL_S, cores: int | None = None,
        read_times: Callable[[], CpuTimes | None] = read_cpu_times,
        read_load: Callable[[], float] = lambda: os.getloadavg()[0],
    ):  # fmt: skip
        self.interval_s = interval_s
        self.cores = cores or os.cpu_count() or 1
        self._read_times = read_times
        self._read_load = read_load
        self.record = LoadRecord(self.cores, QUIET_FRACTION * self.cores, read_load())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-load-sampler", daemon=True)
        self._t0 = time.monotonic()

    def __enter__(self) -> LoadSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> LoadRecord:
        """Stop sampling (taking a last sample over the unfinished interval) and return the record."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        return self.record

    def _loop(self) -> None:
        before = self._read_times()
        while True:
            stopped = self._stop.wait(self.interval_s)
            after = self._read_times()
            busy = None if before is None or after is None else others_busy_cores(before, after, self.cores)
            self.record.samples.append(LoadSample(round(time.monotonic() - self._t0, 2), self._read_load(), busy))
            before = after
            if stopped:
                return


def wait_quiet(max_wait_s: float, *, window_s: float = 10.0, cores: int | None = None, say=print,
               read_times: Callable[[], CpuTimes | None] = read_cpu_times,
               read_load: Callable[[], float] = lambda: os.getloadavg()[0],
               sleep: Callable[[float], None] = time.sleep) -> bool:  # fmt: skip
    """Wait until the load average and other processes' CPU over ``window_s`` are both under the threshold.

    True once quiet; False after ``max_wait_s`` without a quiet window (the run then goes on, marked loaded).
    """
    cores = cores or os.cpu_count() or 1
    limit = QUIET_FRACTION * cores
    waited = 0.0
    while True:
        before = read_times()
        sleep(window_s)
        after = read_times()
        others = None if before is None or after is None else others_busy_cores(before, after, cores)
        load = read_load()
        if load <= limit and (others is None or others <= limit):
            return True
        waited += window_s
        if waited >= max_wait_s:
            return False
        busy = "?" if others is None else f"{others:.2f}"
        say(f"bench: waiting for a quiet machine (load {load:.2f}, others' busy cores {busy}, limit {limit:.2f})")

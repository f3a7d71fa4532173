"""The load sampler: other processes' CPU from /proc (this process tree subtracted), the sampler thread, the
loaded/quiet verdict and the wait for a quiet machine."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks import load


def fake_proc(root: Path, stat_line: str, procs: dict[int, tuple[int, int, int]]) -> Path:
    """A /proc with a stat line and processes {pid: (ppid, utime, stime)}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(stat_line + "\ncpu0 1 2 3\n")
    for pid, (ppid, utime, stime) in procs.items():
        (root / str(pid)).mkdir(exist_ok=True)
        (root / str(pid) / "stat").write_text(
            f"{pid} (py thon) S {ppid} 0 0 0 0 0 0 0 0 0 {utime} {stime} 0 0 20 0 1 0\n"
        )
    return root


def test_the_own_process_tree_is_counted_and_strangers_are_not(tmp_path):
    proc = fake_proc(tmp_path, "cpu  100 0 50 800 50 0 0 0 0 0", {
        10: (1, 30, 10),  # us
        11: (10, 5, 5),  # our child (a fit worker)
        12: (11, 1, 1),  # its child
        20: (1, 99, 99),  # someone else
    })  # fmt: skip
    times = load.read_cpu_times(proc, root_pid=10)
    assert times == load.CpuTimes(busy=150, total=1000, own=52)


def test_others_busy_cores_subtracts_our_own_cpu():
    before = load.CpuTimes(busy=0, total=0, own=0)
    after = load.CpuTimes(busy=150, total=200, own=100)  # 2 cores x 100 jiffies: we used 1 core, others 0.5
    assert load.others_busy_cores(before, after, cores=2) == 0.5
    assert load.others_busy_cores(after, after, cores=2) == 0.0


def test_the_verdict_is_loaded_above_half_the_cores_at_start_or_at_any_sample():
    assert not load.is_loaded(0.9, [0.1, 0.99, None], cores=2)
    assert load.is_loaded(1.2, [0.0], cores=2)  # busy before we started
    assert load.is_loaded(0.1, [0.0, 1.3, 0.0], cores=2)  # one busy sample is enough
    assert not load.is_loaded(0.1, [None, None], cores=2)  # no /proc: the load at start decides


def test_the_sampler_thread_records_samples_until_stopped():
    jiffies = iter(range(0, 10_000, 100))

    def read_times():
        t = next(jiffies)
        return load.CpuTimes(busy=t, total=2 * t, own=t // 2)  # others: a quarter of 2 cores = 0.5

    with load.LoadSampler(interval_s=0.01, cores=2, read_times=read_times, read_load=lambda: 0.3) as sampler:
        while len(sampler.record.samples) < 3:
            time.sleep(0.005)
    record = sampler.stop()
    n = len(record.samples)
    assert n >= 3 and all(s.others_busy_cores == 0.5 for s in record.samples)
    out = record.to_json()
    assert out["loaded"] is False and out["max_others_busy_cores"] == 0.5 and len(out["samples"]) == n
    assert out["threshold_cores"] == 1.0 and out["load_1m_at_start"] == 0.3


def test_the_real_proc_gives_a_reading_with_our_own_cpu_in_it():
    if not Path("/proc/stat").exists():
        return  # macOS: nothing to read, the sampler falls back to the load average
    times = load.read_cpu_times()
    assert times is not None and 0 < times.own <= times.busy <= times.total
    assert os.getpid() > 0


def test_wait_quiet_waits_for_a_quiet_window_and_gives_up_after_the_limit():
    said: list[str] = []
    loads = iter([1.5, 1.5, 0.2])
    quiet = load.wait_quiet(60, window_s=10, cores=2, say=said.append, read_times=lambda: None,
                            read_load=lambda: next(loads), sleep=lambda s: None)  # fmt: skip
    assert quiet and len(said) == 2 and "waiting for a quiet machine" in said[0]
    gave_up = load.wait_quiet(20, window_s=10, cores=2, say=said.append, read_times=lambda: None,
                              read_load=lambda: 1.5, sleep=lambda s: None)  # fmt: skip
    assert gave_up is False

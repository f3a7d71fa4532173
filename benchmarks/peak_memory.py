"""Peak memory while a measurement runs: host RSS of this process and its children, and GPU memory used.

A background thread samples twice a second. Host RSS sums this process and every descendant (fit pool
workers are child processes, which ``ru_maxrss`` would report only one at a time), read from ``/proc``.
GPU memory comes from ``nvidia-smi`` (the whole device, as the driver sees it: the CUDA context and
cuBLAS workspaces too, which torch's own counter leaves out); without ``nvidia-smi`` it stays None.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _parent_of(stat: str) -> int:
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces


def tree_rss_bytes(root: int | None = None, proc: Path = Path("/proc")) -> int:
    """Resident bytes of ``root`` (default: this process) and all its descendants."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            children.setdefault(_parent_of((entry / "stat").read_text()), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int((proc / str(pid) / "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(pid, []))
    return total


def nvidia_smi_used_mb() -> float | None:
    """Memory used on GPU 0 as nvidia-smi reports it (MiB), None when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout  # fmt: skip
        return float(out.splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


class PeakMemory:
    """``with PeakMemory() as peak: ...``; then ``peak.result()``."""

    def __init__(self, interval_s: float = 0.5, gpu: bool = True):
        self.interval_s, self.gpu = interval_s, gpu
        self.host_peak = 0
        self.gpu_peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def sample(self) -> None:
        self.host_peak = max(self.host_peak, tree_rss_bytes())
        if self.gpu:
            used = nvidia_smi_used_mb()
            if used is not None:
                self.gpu_peak_mb = max(self.gpu_peak_mb or 0.0, used)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def result(self) -> dict:
        return {
            "host_peak_rss_mb": round(self.host_peak / 2**20, 1),  # this process + children, sampled
            "host_peak_rss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "host_peak_rss_largest_child_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "nvidia_smi_peak_used_mb": self.gpu_peak_mb,
        }

"""Peak memory sampling: host RSS sums this process and its children (as fit pool workers are)."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.peak_memory import PeakMemory, tree_rss_bytes

CHILD_MB = 200


def test_tree_rss_counts_a_child_process_and_the_sampler_keeps_its_peak():
    alone = tree_rss_bytes()
    code = f"import sys, time; b = bytearray({CHILD_MB} * 2**20); print('ready', flush=True); time.sleep(30)"
    with PeakMemory(interval_s=0.05, gpu=False) as peak:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            with_child = tree_rss_bytes()
            time.sleep(0.3)  # a few samples while the child holds its memory
        finally:
            child.kill()
            child.wait()
    assert with_child - alone > 0.9 * CHILD_MB * 2**20
    assert peak.host_peak >= with_child * 0.95
    result = peak.result()
    assert result["host_peak_rss_mb"] >= CHILD_MB
    assert result["nvidia_smi_peak_used_mb"] is None  # gpu=False: not sampled

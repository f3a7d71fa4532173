"""What importing BERTopic costs a fit process: seconds and resident memory, in fresh processes.

    python -m benchmarks.bertopic_import --repeats 3      # prints one line per repeat and a BENCH_JSON line

Each repeat starts a fresh interpreter that imports what a fit process has before its first fit (the
worker's ``fit`` module, numpy, scipy, scikit-learn), then BERTopic as ``bertopic_fit`` imports it (umap's
JIT cache hook first). BERTopic imports sentence-transformers (and so torch), umap and hdbscan at import
time, so this is the once-per-process cost of running every method inside BERTopic (issue 23).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, re, time
def rss_mb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
import numpy, scipy.cluster.hierarchy, sklearn.feature_extraction.text
from ftm_assets.worker import fit
before = rss_mb()
t0 = time.perf_counter()
from ftm_assets.worker.model.bertopic_fit import bertopic_class
bertopic_class()
print(json.dumps({"import_s": time.perf_counter() - t0, "rss_before_mb": before, "rss_after_mb": rss_mb()}))
"""


def measure(repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(runs[-1], flush=True)
    return {
        "import_s": statistics.median(r["import_s"] for r in runs),
        "rss_added_mb": statistics.median(r["rss_after_mb"] - r["rss_before_mb"] for r in runs),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    result = measure(parser.parse_args().repeats)
    print("BENCH_JSON " + json.dumps({"bertopic_import": result}, sort_keys=True))


if __name__ == "__main__":
    main()

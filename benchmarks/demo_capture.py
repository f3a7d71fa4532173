"""Record what ``make demo`` prints (``benchmarks/demo_output.json``), for the README's sample (``make docs-demo``).

Runs the demo's own command on a fresh instance and storage root in a temporary folder, so the capture is what
a first ``make demo`` prints, and never touches ``.dagster_home/`` or ``data/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "demo_output.json"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ftm-demo-capture-") as tmp:
        home, root = Path(tmp) / "dagster_home", Path(tmp) / "data"
        home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home), "FTM_STORAGE_ROOT": str(root)}
        done = subprocess.run(
            [sys.executable, "-m", "ftm_assets.run_demo"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            print(f"make demo failed (exit {done.returncode}); {OUT} left as it was", file=sys.stderr)
            return done.returncode
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        record = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
            "commit": commit or "unknown",
            "command": "make demo (python -m ftm_assets.run_demo) on a fresh instance and storage root",
            "machine": f"{os.cpu_count()}-core {cpu_model()}",
            "storage_root": str(root),
            "stdout": done.stdout.splitlines(),
        }
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make demo``: the run command (``ftm_assets.run``) for one demo quarter, ``FTM_DEMO_QUARTER`` (2024Q4).

Runs every asset and every batch partition of the quarter on the instance in DAGSTER_HOME, so that
``make dev`` shows the same runs, partitions and checks afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys

from ftm_assets import constants as C
from ftm_assets.quarters import Quarter, QuarterKeyError
from ftm_assets.run import BATCH_ASSETS, QUIET, SUMMARY, UPSTREAM, materialize_quarter, run, summarize

__all__ = ["BATCH_ASSETS", "QUIET", "SUMMARY", "UPSTREAM", "main", "materialize_quarter", "summarize"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quarter", default=os.environ.get("FTM_DEMO_QUARTER", C.DEMO_QUARTER))
    parser.add_argument("--jobs", type=int, default=None, help="batch jobs at once (default: fits this machine)")
    args = parser.parse_args(argv)
    try:
        quarter = Quarter.parse(args.quarter).key
    except QuarterKeyError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 2
    code = run([quarter], jobs=args.jobs, title="ftm demo")
    if code == 0:  # the planted theme-tone effect on CAR[0,+1] (ftm_assets.returns.demo), as the README's example
        from ftm_assets.environment import Settings
        from ftm_assets.research.example import run_summary

        print(run_summary(Settings.from_env().storage_root, quarter), flush=True)
    return code


if __name__ == "__main__":
    from ftm_assets.run.cli import exit_process

    exit_process(main())

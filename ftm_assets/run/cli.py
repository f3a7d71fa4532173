"""``python -m ftm_assets.run --quarters 2015Q1:2019Q4``: run quarters end to end without the UI.

For each quarter: ``raw_transcripts`` and ``firm_manifest``, then every batch partition of
``firm_topics``/``firm_topic_failures`` (``--jobs`` at once), then ``quarter_topic_summary``; one progress line
per batch and a summary per quarter. Every run is recorded on the instance in ``DAGSTER_HOME``, so ``make dev``
shows the same runs, partitions and checks afterwards. ``make demo`` is this command for one demo quarter.

Batch jobs in flight: ``--jobs``, else ``FTM_MAX_BATCH_JOBS_IN_FLIGHT``, else a default that fits the machine
(``ftm_assets.run.jobs``). Modules: ``jobs`` (how many at once), ``quarter`` (one quarter through Dagster),
``summary`` (what a quarter produced), ``cli`` (this command).
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg

from ftm_assets.quarters import QuarterKeyError, expand_quarters, last_complete_quarter
from ftm_assets.run.jobs import jobs_in_flight
from ftm_assets.run.quarter import Printer, QuarterOutcome, print_line, quiet_libraries, run_one_batch, run_quarter
from ftm_assets.run.summary import describe_source, summarize


def run(quarters: list[str], *, jobs: int | None = None, title: str = "ftm run", progress: Printer = print_line) -> int:
    """Run ``quarters`` on the instance in DAGSTER_HOME; 0 when every step succeeded, 1 otherwise."""
    quiet_libraries()
    files = os.environ.get("FTM_TRANSCRIPT_SOURCE", "").strip().lower() == "files"
    if quarters and not files and quarters[-1] > last_complete_quarter():  # a later demo quarter is a partition too
        os.environ["FTM_LAST_QUARTER"] = max(quarters[-1], os.environ.get("FTM_LAST_QUARTER") or quarters[-1])
    from ftm_assets.definitions import build_definitions
    from ftm_assets.environment import ConfigError, Settings

    try:
        settings = Settings.from_env()
        n_jobs = jobs_in_flight(jobs, settings.batch_count, settings.env, dict(os.environ))
    except (ConfigError, ValueError) as exc:
        print(f"{title}: {exc}", file=sys.stderr)
        return 2
    missing = [q for q in quarters if q not in settings.quarters]
    if missing:
        why = (
            f"FTM_TRANSCRIPTS_DIR holds no calls of {', '.join(missing)} (it holds {', '.join(settings.quarters)})"
            if settings.source == "files"
            else f"{', '.join(missing)} outside FTM_FIRST_QUARTER..FTM_LAST_QUARTER ({settings.first_quarter}..{settings.last_quarter})"
        )
        print(f"{title}: no quarter partition for {why}.", file=sys.stderr)
        return 2
    defs = build_definitions(settings)
    source = describe_source(settings)
    outcomes: list[QuarterOutcome] = []
    with dg.DagsterInstance.get() as instance:
        for quarter in quarters:
            progress(
                f"Materializing {quarter}: raw_transcripts, firm_manifest, then {settings.batch_count} batches "
                f"of firm_topics (source {settings.source}, launcher {settings.env}"
                + (f", {n_jobs} batch jobs at once" if n_jobs > 1 else "") + ")."
            )
            outcome = run_quarter(defs, quarter, settings.batch_count, instance, jobs=n_jobs, progress=progress)
            outcomes.append(outcome)
            if "raw_transcripts + firm_manifest" not in outcome.failed:
                progress(summarize(settings.storage_root, quarter, outcome.seconds, title=title, source=source))
    if len(outcomes) > 1:
        progress(_overview(outcomes))
    progress("Open the Dagster UI on the same instance with `make dev`.")
    return 0 if all(o.ok for o in outcomes) else 1


def _overview(outcomes: list[QuarterOutcome]) -> str:
    ok = [o.quarter for o in outcomes if o.ok]
    lines = [f"{len(ok)} of {len(outcomes)} quarters ran without a failed step, in {sum(sum(o.seconds.values()) for o in outcomes):.0f} s."]
    for o in outcomes:
        if not o.ok:
            lines.append(f"  {o.quarter} FAILED: " + "; ".join(f"{step}: {err}" for step, err in o.failed.items()))
        elif o.failed_checks:
            lines.append(f"  {o.quarter}: failed checks {', '.join(o.failed_checks)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ftm_assets.run",
        description="Run quarters end to end without the UI, on the instance in DAGSTER_HOME (make dev shows the "
        "runs): raw_transcripts, firm_manifest, every batch of firm_topics, quarter_topic_summary.",
    )
    parser.add_argument("--quarters", help="'2023Q1', '2015Q1:2019Q4' (inclusive) or '2023Q1,2023Q3'")
    parser.add_argument("--jobs", type=int, default=None, help="batch jobs at once (default: fits this machine)")
    parser.add_argument("--batch", help=argparse.SUPPRESS)  # child mode: one 'quarter:batch' partition
    args = parser.parse_args(argv)
    if args.batch:
        return run_one_batch(args.batch)
    if not args.quarters:
        parser.error("--quarters is required, e.g. --quarters 2015Q1:2019Q4")
    try:
        quarters = expand_quarters(args.quarters)
    except QuarterKeyError as exc:
        print(f"ftm run: {exc}", file=sys.stderr)
        return 2
    return run(quarters, jobs=args.jobs)


def exit_process(code: int) -> None:
    """End the command with ``code`` once its output is flushed, without the interpreter's teardown.

    Everything a run promises is on disk by now: the instance is closed and every partition committed. The
    teardown of native thread pools loaded in this process (pyarrow, OpenMP) aborted it twice in about ten runs
    on a loaded 2-core box ("terminate called without an active exception", exit -6), which would report a
    successful run as failed. ``os._exit`` skips that teardown; nothing left for it to do is ours.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""``make demo``: materialize one demo quarter end to end through Dagster, then print where and what.

Runs every asset and every batch partition of the quarter on the instance in DAGSTER_HOME, so that
``make dev`` shows the same runs, partitions and checks afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import dagster as dg

from ftm_assets import constants as C
from ftm_assets.batching import batch_keys
from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM
from ftm_assets.quarters import Quarter, QuarterKeyError
from ftm_assets.readers import commit_records, read_failures, read_firm_topics

# Dagster's console logger prints every event at DEBUG; the demo shows warnings and its own summary. Every
# event is still recorded on the instance, for `make dev`.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
UPSTREAM = [dg.AssetKey("raw_transcripts"), dg.AssetKey("firm_manifest")]
BATCH_ASSETS = [dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")]
SUMMARY = [dg.AssetKey("quarter_topic_summary")]


def materialize_quarter(defs: dg.Definitions, quarter: str, batch_count: int, instance: dg.DagsterInstance) -> dict:
    """Upstream assets for the quarter, each batch partition, then the quarter summary; seconds per step."""
    job = defs.resolve_implicit_global_asset_job_def()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    result = job.execute_in_process(
        instance=instance, partition_key=quarter, asset_selection=UPSTREAM, raise_on_error=True, run_config=QUIET
    )
    seconds["raw_transcripts + firm_manifest"] = time.perf_counter() - t0
    for batch in batch_keys(batch_count):
        t0 = time.perf_counter()
        key = dg.MultiPartitionKey({QUARTER_DIM: quarter, BATCH_DIM: batch})
        result = job.execute_in_process(
            instance=instance, partition_key=key, asset_selection=BATCH_ASSETS, raise_on_error=True, run_config=QUIET
        )
        failed_checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
        ]
        for check in failed_checks:
            print(f"  check {check.check_name} FAILED on batch {batch}", file=sys.stderr)
        seconds[f"batch {batch}"] = time.perf_counter() - t0
        print(f"  batch {batch} done in {seconds[f'batch {batch}']:.1f} s", flush=True)
    t0 = time.perf_counter()
    job.execute_in_process(
        instance=instance, partition_key=quarter, asset_selection=SUMMARY, raise_on_error=True, run_config=QUIET
    )
    seconds["quarter_topic_summary"] = time.perf_counter() - t0
    return seconds


def summarize(root: str, quarter: str, seconds: dict[str, float]) -> str:
    topics = read_firm_topics(root, quarter)
    failures = read_failures(root, quarter)
    records = commit_records(root, quarter)
    stages: dict[str, float] = {}
    for rec in records:
        for stage, value in rec["seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + value
    real = topics[topics.topic_id >= 0]
    per_firm = real.groupby("firm_id").size()
    lines = [
        f"ftm demo: {quarter} (synthetic demo corpus)",
        f"  storage root     {root}",
        f"  firm_topics      {root}/intermediate/firm-topics/quarter={quarter}/",
        f"  sentences        {root}/intermediate/sentences/quarter={quarter}/",
        f"  failures         {root}/failures/quarter={quarter}/",
        f"  summary          {root}/summaries/quarter={quarter}/ (summary.parquet, summary.png)",
        f"  batches          {len(records)} committed",
        f"  firms            {topics.firm_id.nunique() + len(failures)} "
        f"({topics.firm_id.nunique()} with topics rows, {len(failures)} failed)",
        f"  topics           {len(real)} (median {per_firm.median():.0f} per firm, "
        f"min {per_firm.min() if len(per_firm) else 0}, max {per_firm.max() if len(per_firm) else 0})",
        "  seconds per step " + ", ".join(f"{k}: {v:.1f}" for k, v in seconds.items()),
        "  worker stages    " + ", ".join(f"{k}: {v:.1f} s" for k, v in sorted(stages.items())),
    ]
    if len(failures):
        lines.append("  failures:")
        lines += [f"    {r.firm_id} {r.error_class}: {r.message}" for r in failures.itertuples()]
    lines.append("Open the Dagster UI on the same instance with `make dev`.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quarter", default=os.environ.get("FTM_DEMO_QUARTER", C.DEMO_QUARTER))
    args = parser.parse_args(argv)
    # We use partitioned checks and a multi-to-single partition mapping knowingly; a researcher running the
    # demo need not read Dagster's beta/preview notices about them.
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)
    try:
        Quarter.parse(args.quarter)
    except QuarterKeyError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("FTM_LAST_QUARTER", max(args.quarter, os.environ.get("FTM_LAST_QUARTER", args.quarter)))
    from ftm_assets.definitions import defs  # reads FTM_* settings
    from ftm_assets.environment import Settings

    settings = Settings.from_env()
    print(f"Materializing {args.quarter}: raw_transcripts, firm_manifest, then {settings.batch_count} batches "
          f"of firm_topics (source {settings.source}, launcher {settings.env}).", flush=True)
    with dg.DagsterInstance.get() as instance:
        seconds = materialize_quarter(defs, args.quarter, settings.batch_count, instance)
    print(summarize(settings.storage_root, args.quarter, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

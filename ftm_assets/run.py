"""``python -m ftm_assets.run --quarters 2015Q1:2019Q4``: run quarters end to end without the UI.

For each quarter: ``raw_transcripts`` and ``firm_manifest``, then every batch partition of
``firm_topics``/``firm_topic_failures`` (``--jobs`` at once), then ``quarter_topic_summary``; one progress line
per batch and a summary per quarter. Every run is recorded on the instance in ``DAGSTER_HOME``, so ``make dev``
shows the same runs, partitions and checks afterwards. ``make demo`` is this command for one demo quarter.

Batch jobs in flight (``--jobs``, else ``FTM_MAX_BATCH_JOBS_IN_FLIGHT``, else a default that fits the machine):
a local worker embeds with every core and peaks at about 2.3 GB, so two workers on few cores only share them.
The default is one batch job per ``CORES_PER_JOB`` cores, no more than memory holds at ``WORKER_GB`` each, and
never more than the batches of a quarter; on AWS Batch (``FTM_ENV=aws``) the jobs run elsewhere and the default
is 5, as in the ``ftm_batch_gpu`` pool.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from ftm_assets.batching import batch_keys
from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM
from ftm_assets.quarters import QuarterKeyError, current_quarter, expand_quarters

# Dagster's console logger prints every event at DEBUG; the command shows warnings and its own lines. Every
# event is still recorded on the instance, for `make dev`.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
UPSTREAM = [dg.AssetKey("raw_transcripts"), dg.AssetKey("firm_manifest")]
BATCH_ASSETS = [dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")]
SUMMARY = [dg.AssetKey("quarter_topic_summary")]

CORES_PER_JOB = 4  # a worker's embedder uses every core; below ~4 cores per job, jobs only slow each other
WORKER_GB = 2.5  # a worker's peak RSS (2.3 GB measured from 100 to 1,000 firms, benchmarks/RESULTS.md) + margin
RESERVED_GB = 2.0  # left to Dagster itself and the rest of the machine
AWS_DEFAULT_JOBS = 5  # as the ftm_batch_gpu pool's default; the Batch compute environment caps it too
# Library progress bars (transformers' "Loading weights", tqdm) once per batch would bury our own lines.
QUIET_LIBRARIES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}

Printer = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass
class QuarterOutcome:
    """What running one quarter gave: seconds per step and what failed (empty when all went well)."""

    quarter: str
    seconds: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # step ("upstream", "batch 002", "summary") -> error
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def machine_memory_gb() -> float:
    """Physical memory of this machine in GB (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


def default_jobs_in_flight(
    batch_count: int, *, env: str = "local", cores: int | None = None, memory_gb: float | None = None
) -> int:
    """Batch jobs at once that fit this machine: see the module docstring for the rule."""
    if env == "aws":
        return max(1, min(AWS_DEFAULT_JOBS, batch_count))
    cores = cores if cores is not None else (os.cpu_count() or 1)
    memory_gb = memory_gb if memory_gb is not None else machine_memory_gb()
    by_cores = cores // CORES_PER_JOB
    by_memory = int((memory_gb - RESERVED_GB) // WORKER_GB) if memory_gb else by_cores
    return max(1, min(by_cores, by_memory, batch_count))


def jobs_in_flight(requested: int | None, batch_count: int, env: str, environ: dict[str, str]) -> int:
    """``--jobs``, else ``FTM_MAX_BATCH_JOBS_IN_FLIGHT``, else the machine's default."""
    if requested is not None:
        return max(1, requested)
    text = environ.get("FTM_MAX_BATCH_JOBS_IN_FLIGHT", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"FTM_MAX_BATCH_JOBS_IN_FLIGHT={text!r} is not a whole number of 1 or more.")
        return int(text)
    return default_jobs_in_flight(batch_count, env=env)


def _error(result: dg.ExecuteInProcessResult) -> str:
    """The first step failure's message, in one line."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data is not None:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause
            if error is None:
                return "step failed"
            text = " ".join(error.message.split())
            prefix = text.split(":", 1)[0]  # a user exception's message starts with its dotted class name
            return error.cls_name + text[len(prefix):] if prefix.endswith(error.cls_name) else f"{error.cls_name}: {text}"
    return "run failed"


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.asset_check_evaluation_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]


def run_quarter(
    defs: dg.Definitions,
    quarter: str,
    batch_count: int,
    instance: dg.DagsterInstance,
    *,
    jobs: int = 1,
    progress: Printer = _print,
    raise_on_error: bool = False,
) -> QuarterOutcome:
    """Upstream assets, every batch partition (``jobs`` at once), then the quarter summary."""
    job = defs.resolve_implicit_global_asset_job_def()
    outcome = QuarterOutcome(quarter)

    def execute(step: str, partition_key, selection) -> dg.ExecuteInProcessResult:
        t0 = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key, asset_selection=selection,
            raise_on_error=raise_on_error, run_config=QUIET,
        )  # fmt: skip
        outcome.seconds[step] = time.perf_counter() - t0
        if not result.success:
            outcome.failed[step] = _error(result)
        return result

    if not execute("raw_transcripts + firm_manifest", quarter, UPSTREAM).success:
        progress(f"  {quarter}: raw_transcripts/firm_manifest FAILED: {outcome.failed['raw_transcripts + firm_manifest']}")
        return outcome
    batches = batch_keys(batch_count)

    def one_batch(batch: str) -> None:
        step = f"batch {batch}"
        result = execute(step, dg.MultiPartitionKey({QUARTER_DIM: quarter, BATCH_DIM: batch}), BATCH_ASSETS)
        for check in _failed_checks(result):
            outcome.failed_checks.append(f"{check} (batch {batch})")
            print(f"  check {check} FAILED on batch {batch}", file=sys.stderr, flush=True)
        if result.success:
            progress(f"  batch {batch} done in {outcome.seconds[step]:.1f} s")
        else:
            progress(f"  batch {batch} FAILED after {outcome.seconds[step]:.1f} s: {outcome.failed[step]}")

    if jobs <= 1:
        for batch in batches:
            one_batch(batch)
    else:
        _batches_in_children(quarter, batches, jobs, outcome, progress)
    result = execute("quarter_topic_summary", quarter, SUMMARY)
    outcome.failed_checks += [f"{check} (quarter)" for check in _failed_checks(result)]
    return outcome


def _batches_in_children(
    quarter: str, batches: list[str], jobs: int, outcome: QuarterOutcome, progress: Printer
) -> None:
    """``jobs`` batch partitions at once, each in a child ``python -m ftm_assets.run --batch`` process.

    Not threads: Dagster's in-process execution captures this process's stdout/stderr per run, and two runs
    capturing at once in one process wait on each other.
    """
    pending, running, done = list(batches), {}, 0
    while pending or running:
        while pending and len(running) < jobs:
            batch = pending.pop(0)
            cmd = [sys.executable, "-m", "ftm_assets.run", "--batch", f"{quarter}:{batch}"]
            log = tempfile.TemporaryFile("w+")  # not a pipe: a chatty child must never block on a full one
            running[batch] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True), time.perf_counter(), log)
        finished = [b for b, (proc, _, _) in running.items() if proc.poll() is not None]
        if not finished:
            time.sleep(0.2)
            continue
        for batch in finished:
            proc, t0, log = running.pop(batch)
            done += 1
            log.seek(0)
            step, lines = f"batch {batch}", log.read().strip().splitlines()
            log.close()
            outcome.seconds[step] = time.perf_counter() - t0
            for line in lines:
                if not line.startswith((_CHECK_FAILED, _FAILED)):
                    print(line, file=sys.stderr)  # the child's warnings and errors, as the in-process path shows them
                elif line.startswith(_CHECK_FAILED):
                    outcome.failed_checks.append(f"{line[len(_CHECK_FAILED):]} (batch {batch})")
                    print(f"  check {line[len(_CHECK_FAILED):]} FAILED on batch {batch}", file=sys.stderr, flush=True)
            if proc.returncode == 0:
                progress(f"  batch {batch} done in {outcome.seconds[step]:.1f} s ({done}/{len(batches)})")
            else:
                outcome.failed[step] = next((l[len(_FAILED):] for l in lines if l.startswith(_FAILED)), lines[-1] if lines else f"exit code {proc.returncode}")
                progress(f"  batch {batch} FAILED after {outcome.seconds[step]:.1f} s ({done}/{len(batches)}): {outcome.failed[step]}")


_CHECK_FAILED, _FAILED = "ftm-check-failed: ", "ftm-batch-failed: "


def _run_one_batch(spec: str) -> int:
    """Child mode (``--batch 2024Q4:001``): one batch partition; failed checks and errors on marked lines."""
    quarter, _, batch = spec.partition(":")
    from ftm_assets.definitions import build_definitions
    from ftm_assets.environment import Settings

    _quiet_libraries()
    job = build_definitions(Settings.from_env()).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=dg.MultiPartitionKey({QUARTER_DIM: quarter, BATCH_DIM: batch}),
            asset_selection=BATCH_ASSETS, raise_on_error=False, run_config=QUIET,
        )  # fmt: skip
    for check in _failed_checks(result):
        print(f"{_CHECK_FAILED}{check}", flush=True)
    if not result.success:
        print(f"{_FAILED}{_error(result)}", flush=True)
        return 1
    return 0


def materialize_quarter(defs: dg.Definitions, quarter: str, batch_count: int, instance: dg.DagsterInstance) -> dict:
    """One quarter, batches one after the other, raising at the first failure; seconds per step."""
    return run_quarter(defs, quarter, batch_count, instance, raise_on_error=True).seconds


def describe_source(settings) -> str:
    """Where the transcripts came from, for the summary: never a password."""
    if settings.source == "demo":
        return "synthetic demo corpus"
    if settings.source == "files":
        return f"your files in {settings.get('FTM_TRANSCRIPTS_DIR')}"
    return f"WRDS Capital IQ as {settings.get('FTM_WRDS_USERNAME')}"


def summarize(root: str, quarter: str, seconds: dict[str, float], *, title: str = "ftm demo", source: str = "synthetic demo corpus") -> str:
    """Where the quarter's outputs are and what they hold (firms, topics, failures, seconds)."""
    from ftm_assets.readers import commit_records, read_failures, read_firm_topics

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
        f"{title}: {quarter} ({source})",
        f"  storage root     {root}",
        f"  firm_topics      {root}/intermediate/firm-topics/quarter={quarter}/",
        f"  sentences        {root}/intermediate/sentences/quarter={quarter}/",
        f"  failures         {root}/failures/quarter={quarter}/",
        f"  summary          {root}/summaries/quarter={quarter}/ (summary.parquet, summary.svg)",
        f"  batches          {len(records)} committed",
        f"  firms            {topics.firm_id.nunique() + len(failures)} "
        f"({topics.firm_id.nunique()} with topics rows, {len(failures)} failed)",
        f"  topics           {len(real)} (median {per_firm.median() if len(per_firm) else 0:.0f} per firm, "
        f"min {per_firm.min() if len(per_firm) else 0}, max {per_firm.max() if len(per_firm) else 0})",
        "  seconds per step " + ", ".join(f"{k}: {v:.1f}" for k, v in seconds.items()),
        "  worker stages    " + ", ".join(f"{k}: {v:.1f} s" for k, v in sorted(stages.items())),
    ]
    if len(failures):
        lines.append("  failures:")
        lines += [f"    {r.firm_id} {r.error_class}: {r.message}" for r in failures.itertuples()]
    return "\n".join(lines)


def _quiet_libraries() -> None:
    """Our progress only: library progress bars and Dagster's beta/preview notices stay out of the output."""
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)  # inherited by every worker subprocess
    # We use partitioned checks and a multi-to-single partition mapping knowingly.
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


def run(quarters: list[str], *, jobs: int | None = None, title: str = "ftm run", progress: Printer = _print) -> int:
    """Run ``quarters`` on the instance in DAGSTER_HOME; 0 when every step succeeded, 1 otherwise."""
    _quiet_libraries()
    files = os.environ.get("FTM_TRANSCRIPT_SOURCE", "").strip().lower() == "files"
    if quarters and not files and quarters[-1] > current_quarter():  # a demo quarter after today's is a partition too
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
        return _run_one_batch(args.batch)
    if not args.quarters:
        parser.error("--quarters is required, e.g. --quarters 2015Q1:2019Q4")
    try:
        quarters = expand_quarters(args.quarters)
    except QuarterKeyError as exc:
        print(f"ftm run: {exc}", file=sys.stderr)
        return 2
    return run(quarters, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())

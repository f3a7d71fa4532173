"""One quarter through Dagster: upstream assets, every batch partition (one at a time or several as child
processes), then the quarter summary and the themes panel; what failed is collected, not raised (unless asked)."""

from __future__ import annotations

import logging
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
from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM, register_quarters

# Dagster's console logger prints every event at DEBUG; the command shows warnings and its own lines. Every
# event is still recorded on the instance, for `make dev`.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
UPSTREAM = [dg.AssetKey("raw_transcripts"), dg.AssetKey("firm_manifest")]
BATCH_ASSETS = [dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")]
SUMMARY = [dg.AssetKey("quarter_topic_summary")]
# The panel: themes shared across firms (ids carried over from earlier quarters) and each firm's exposure.
THEMES = [dg.AssetKey("quarter_themes"), dg.AssetKey("theme_exposure")]
RETURNS = [dg.AssetKey("call_returns")]  # last: a returns problem never holds up topics or themes

# Library progress bars (transformers' "Loading weights", tqdm) once per batch would bury our own lines.
QUIET_LIBRARIES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}

Printer = Callable[[str], None]


def print_line(line: str) -> None:
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


def _error(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance | None = None) -> str:
    """The first step failure's message, in one line; for a worker that failed, the reason it logged (a refused
    lease names the run writing the partition, a `make dev` run say), not only its exit code."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data is not None:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause
            if error is None:
                return "step failed"
            if error.cls_name == "DagsterPipesExecutionError" and instance is not None:
                worker = _worker_error(result, instance)
                if worker:
                    return worker
            text = " ".join(error.message.split())
            prefix = text.split(":", 1)[0]  # a user exception's message starts with its dotted class name
            return error.cls_name + text[len(prefix):] if prefix.endswith(error.cls_name) else f"{error.cls_name}: {text}"
    return "run failed"


def _worker_error(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> str | None:
    """The last error the worker logged through Pipes in this run, in one line (None when it logged none)."""
    errors = [e.user_message for e in instance.all_logs(result.run_id)
              if e.dagster_event is None and e.level >= logging.ERROR and e.user_message]
    return " ".join(errors[-1].split()) if errors else None


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
    progress: Printer = print_line,
    raise_on_error: bool = False,
) -> QuarterOutcome:
    """Upstream assets, every batch partition (``jobs`` at once), then the quarter summary."""
    job = defs.resolve_implicit_global_asset_job_def()
    outcome = QuarterOutcome(quarter)
    register_quarters(instance, [quarter])  # the calendar sensor's job in the UI; a run needs the partition

    def execute(step: str, partition_key, selection) -> dg.ExecuteInProcessResult:
        t0 = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key, asset_selection=selection,
            raise_on_error=raise_on_error, run_config=QUIET,
        )  # fmt: skip
        outcome.seconds[step] = time.perf_counter() - t0
        if not result.success:
            outcome.failed[step] = _error(result, instance)
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
    if outcome.failed:  # themes need every batch of the quarter: they would only fail naming the same ones
        return outcome
    result = execute("quarter_themes + theme_exposure", quarter, THEMES)
    outcome.failed_checks += [f"{check} (themes)" for check in _failed_checks(result)]
    if not result.success:
        progress(f"  {quarter}: themes FAILED: {outcome.failed['quarter_themes + theme_exposure']}")
    if not execute("call_returns", quarter, RETURNS).success:
        progress(f"  {quarter}: call_returns FAILED: {outcome.failed['call_returns']}")
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


def run_one_batch(spec: str) -> int:
    """Child mode (``--batch 2024Q4:001``): one batch partition; failed checks and errors on marked lines."""
    quarter, _, batch = spec.partition(":")
    quiet_libraries()  # before the import below: loading the definitions warns about beta features
    from ftm_assets.definitions import build_definitions
    from ftm_assets.run.settings import load_settings

    job = build_definitions(load_settings([quarter])).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=dg.MultiPartitionKey({QUARTER_DIM: quarter, BATCH_DIM: batch}),
            asset_selection=BATCH_ASSETS, raise_on_error=False, run_config=QUIET,
        )  # fmt: skip
        error = None if result.success else _error(result, instance)
    for check in _failed_checks(result):
        print(f"{_CHECK_FAILED}{check}", flush=True)
    if error is not None:
        print(f"{_FAILED}{error}", flush=True)
        return 1
    return 0


def materialize_quarter(defs: dg.Definitions, quarter: str, batch_count: int, instance: dg.DagsterInstance) -> dict:
    """One quarter, batches one after the other, raising at the first failure; seconds per step."""
    return run_quarter(defs, quarter, batch_count, instance, raise_on_error=True).seconds


def quiet_libraries() -> None:
    """Our progress only: library progress bars and Dagster's beta/preview notices stay out of the output."""
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)  # inherited by every worker subprocess
    # We use partitioned checks and a multi-to-single partition mapping knowingly.
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)

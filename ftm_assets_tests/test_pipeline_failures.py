"""What Dagster shows when a batch job fails: the circuit breaker and ALLOW_FAILURES=false end the run with
the worker's reason, the failures output is written anyway, and no commit record claims the partition."""

import datetime as dt
import io
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftm_assets.readers import commit_records
from ftm_assets.transcripts.resources import TranscriptSource
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.storage import open_storage
from ftm_assets.storage import layout
from ftm_assets_tests.support.pipeline import build_test_definitions

QUARTER = "2024Q3"
pytestmark = pytest.mark.slow


class ManyEmptyFirms(TranscriptSource):
    """One demo firm, then ``n_empty`` firms with empty transcripts (sorted after it)."""

    n_empty: int = 6

    @property
    def label(self) -> str:
        return "demo-synthetic"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        yield demo_transcripts(quarter, n_firms=1)
        day = dt.date(2024, 8, 1)
        yield pa.Table.from_pylist(
            [{"quarter": quarter, "firm_id": f"empty-{i}", "earnings_call_date": day, "component_order": 0,
              "text": ""} for i in range(self.n_empty)],
            schema=RAW_TRANSCRIPTS_SCHEMA,
        )


def _materialize(tmp_path, env):
    root = str(tmp_path / "store")
    env = {"FTM_STORAGE_ROOT": root, "FTM_LAST_QUARTER": "2024Q4", "FTM_BATCH_COUNT": "1", **env}
    defs, _ = build_test_definitions(env, ManyEmptyFirms())
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        job.execute_in_process(instance=instance, partition_key=QUARTER,
                               asset_selection=[dg.AssetKey("raw_transcripts"), dg.AssetKey("firm_manifest")])
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            partition_key=dg.MultiPartitionKey({"quarter": QUARTER, "batch": "000"}),
            asset_selection=[dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")],
        )
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return root, result, logs


def _step_failure_cause(result) -> tuple[str, str]:
    """Class and message of what failed the step (Dagster wraps it in a step execution error)."""
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1, "exactly the batch step should have failed"
    cause = failures[0].step_failure_data.error.cause
    return cause.cls_name, cause.message.strip()


def _failed_firms(root: str) -> list[str]:
    """The firms in the failures file the worker wrote before failing (no commit names it, so read it directly)."""
    table = pq.read_table(io.BytesIO(open_storage(root).read_bytes(layout.failures(QUARTER, "000"))))
    return sorted(table.column("firm_id").to_pylist())


def test_circuit_breaker_fails_the_run_with_its_reason(tmp_path):
    root, result, logs = _materialize(tmp_path, {"MAX_CONSECUTIVE_FAILURES": "5"})
    assert not result.success
    assert _step_failure_cause(result) == (
        "DagsterPipesExecutionError", "dagster._core.errors.DagsterPipesExecutionError: External execution "
        "process failed with code 1",
    )
    reason = [m for m in logs if m.startswith(f"{QUARTER} batch 000 failed after")]
    assert len(reason) == 1, logs  # the worker's reason reaches Dagster's logs, once
    assert "CircuitBreakerOpen: 5 consecutive firms failed (limit 5); the last was empty-4" in reason[0]
    assert _failed_firms(root) == [f"empty-{i}" for i in range(5)]  # written although the job failed
    assert commit_records(root, QUARTER) == []
    assert not result.asset_materializations_for_node("firm_topics_batch")


def test_allow_failures_false_fails_on_the_first_bad_firm(tmp_path):
    root, result, logs = _materialize(tmp_path, {"ALLOW_FAILURES": "false"})
    assert not result.success
    assert _step_failure_cause(result)[0] == "DagsterPipesExecutionError"
    reason = [m for m in logs if m.startswith(f"{QUARTER} batch 000 failed after")]
    assert len(reason) == 1, logs
    assert "StrictModeFailure: Firm empty-0 failed (Firm empty-0 has no transcript text in 2024Q3.) and " \
        "ALLOW_FAILURES is false" in reason[0]
    assert _failed_firms(root) == ["empty-0"]
    assert commit_records(root, QUARTER) == []

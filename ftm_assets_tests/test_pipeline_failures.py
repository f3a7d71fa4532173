"""What Dagster shows for firms without usable text and for a batch job that fails: stub transcripts are
skipped (reported, not counted by the circuit breaker, ALLOW_FAILURES=false or the failure-rate check); a
job that fails ends the run with the worker's reason, and no commit record claims the partition."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pytest

from ftm_assets import constants as C
from ftm_assets.readers import read_failures
from ftm_assets.storage.commit import load_commit
from ftm_assets.transcripts.resources import TranscriptSource
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.storage import open_storage
from ftm_assets.partitions import register_quarters
from ftm_assets_tests.support.pipeline import build_test_definitions, check_evaluations

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
        register_quarters(instance, [QUARTER])  # quarters are partitions on the instance
        job.execute_in_process(instance=instance, partition_key=QUARTER,
                               asset_selection=[dg.AssetKey("raw_transcripts"), dg.AssetKey("firm_manifest")])
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            partition_key=dg.MultiPartitionKey({"quarter": QUARTER, "batch": "000"}),
            asset_selection=[dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")],
        )
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
        checks = check_evaluations(instance)
    return root, result, logs, checks


def test_stub_transcripts_are_skipped_and_fail_nothing(tmp_path):
    """Six empty transcripts in a row, more than MAX_CONSECUTIVE_FAILURES, with ALLOW_FAILURES=false: skipped."""
    root, result, logs, checks = _materialize(tmp_path, {"MAX_CONSECUTIVE_FAILURES": "5", "ALLOW_FAILURES": "false"})
    assert result.success
    failures = read_failures(root, QUARTER, strict=True)
    assert len(failures) == 6 and set(failures.outcome) == {"skipped"}
    assert set(failures.error_class) == {"EmptyTranscript"}
    (rate,) = [c for c in checks if c.check_name == C.CHECK_FAILURE_RATE]
    assert rate.passed and rate.metadata["firms_skipped"].value == 6
    (materialization,) = [m for m in result.asset_materializations_for_node("firm_topics_batch")
                          if m.asset_key == dg.AssetKey("firm_topic_failures")]
    assert materialization.metadata["skipped"].value == 6 and materialization.metadata["failures"].value == 0


def test_a_failing_job_ends_the_run_with_its_reason(tmp_path):
    root, result, logs, _ = _materialize(tmp_path, {"FTM_EMBEDDING_MODEL": str(tmp_path / "no-model")})
    assert not result.success
    assert any("ModelNotFoundError" in m and "no committed output yet" in m for m in logs), logs
    assert load_commit(open_storage(root), QUARTER, "000") is None
    assert not result.asset_materializations_for_node("firm_topics_batch")

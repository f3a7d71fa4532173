"""WrdsTranscriptSource as Dagster binds it (EnvVar fields, run-time env fallback), logs free of secrets."""

import logging

import dagster as dg
import pyarrow as pa
import pytest

from ftm_assets.transcripts.resources import WrdsTranscriptSource
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts.wrds import OUTPUT_SCHEMA, NoCallsError
from ftm_assets_tests.support import capital_iq as t


@pytest.fixture
def wrds_env(pg_server, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FTM_WRDS_* pointing at the test server, as a user would export them."""
    t.ensure_rules_database(pg_server)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("FTM_WRDS_USERNAME", t.READER)
    monkeypatch.setenv("FTM_WRDS_PASSWORD", t.READER_PASSWORD)
    monkeypatch.setenv("FTM_WRDS_HOST", pg_server.host)
    monkeypatch.setenv("FTM_WRDS_PORT", str(pg_server.port))
    monkeypatch.setenv("FTM_WRDS_SSLMODE", "disable")


def _materialize(source: WrdsTranscriptSource, quarter: str) -> tuple[dg.ExecuteInProcessResult, str]:
    """Run an asset that drains ``source`` for ``quarter``; return the result and every logged line."""

    @dg.asset
    def wrds_rows(context: dg.AssetExecutionContext, transcripts: WrdsTranscriptSource) -> dg.MaterializeResult:
        tables = list(transcripts.fetch(quarter, context.log))
        return dg.MaterializeResult(metadata={"rows": sum(x.num_rows for x in tables), "chunks": len(tables)})

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([wrds_rows], resources={"transcripts": source}, raise_on_error=False, instance=instance)
    logged = "\n".join(f"{e.user_message} {e.dagster_event or ''}" for e in instance.all_logs(result.run_id))
    return result, logged


def test_env_var_bound_resource_fetches_and_never_logs_the_password(wrds_env):
    source = WrdsTranscriptSource(
        username=dg.EnvVar("FTM_WRDS_USERNAME"),
        password=dg.EnvVar("FTM_WRDS_PASSWORD"),
        host=dg.EnvVar("FTM_WRDS_HOST"),
        port=dg.EnvVar.int("FTM_WRDS_PORT"),
        sslmode=dg.EnvVar("FTM_WRDS_SSLMODE"),
        chunk_rows=4,
    )
    result, text = _materialize(source, t.RULES_QUARTER)
    assert result.success
    [mat] = result.asset_materializations_for_node("wrds_rows")
    assert (mat.metadata["rows"].value, mat.metadata["chunks"].value) == (10, 3)
    assert "as researcher@127.0.0.1" in text and "1 call(s) have no Final transcript" in text
    assert "2 call(s) have no permno" in text
    assert t.READER_PASSWORD not in text


def test_failure_reaches_dagster_with_the_reason_and_without_the_password(wrds_env):
    result, text = _materialize(WrdsTranscriptSource(), "2019Q1")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "NoCallsError" in failure.cls_name or "NoCallsError" in str(failure.cause)
    assert "no earnings calls" in failure.to_string()
    assert t.READER_PASSWORD not in failure.to_string() + text


def test_unbound_fields_fall_back_to_the_environment_at_run_time(wrds_env, caplog):
    source = WrdsTranscriptSource()
    assert source.label == "wrds"
    with caplog.at_level(logging.INFO):
        chunks = list(source.fetch(t.RULES_QUARTER, logging.getLogger("ftm.test")))
    table = pa.concat_tables(chunks)
    assert table.num_rows == 10 and set(table.column("source").to_pylist()) == {"wrds"}
    assert table.schema.names[: len(RAW_TRANSCRIPTS_SCHEMA)] == RAW_TRANSCRIPTS_SCHEMA.names
    assert table.schema == OUTPUT_SCHEMA.remove_metadata()
    assert "10 components of 5 calls from 4 firms" in caplog.text
    assert t.READER_PASSWORD not in caplog.text


def test_quarter_without_calls_raises_from_fetch(wrds_env):
    with pytest.raises(NoCallsError, match="2019Q1"):
        list(WrdsTranscriptSource().fetch("2019Q1", logging.getLogger("ftm.test")))

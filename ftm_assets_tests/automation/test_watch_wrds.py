"""The transcript watch on WRDS: a count/max query on the Capital IQ test database, once per change."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ftm_assets.automation.watch import REASON_TAG, build_transcript_watch
from ftm_assets.definitions import build_definitions
from ftm_assets.environment import Settings
from ftm_assets_tests.support import capital_iq as t
from ftm_assets_tests.support.pg_server import start_pg_server
from ftm_assets.transcripts.resources import WrdsTranscriptSource
from ftm_assets.transcripts.wrds import quarter_state, resolve_settings


@pytest.fixture(scope="module")
def wrds_server(tmp_path_factory):
    """A throwaway PostgreSQL of our own: this test adds a call to the rules database, which others read."""
    server = start_pg_server(tmp_path_factory.mktemp("postgres-watch"))
    try:
        t.ensure_rules_database(server)
        yield server
    finally:
        server.stop()


@pytest.fixture
def wrds_env(wrds_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    env = {"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": t.READER, "FTM_WRDS_PASSWORD": t.READER_PASSWORD,
           "FTM_WRDS_HOST": wrds_server.host, "FTM_WRDS_PORT": str(wrds_server.port), "FTM_WRDS_SSLMODE": "disable",
           "FTM_FIRST_QUARTER": "2022Q4", "FTM_LAST_QUARTER": t.RULES_QUARTER, "FTM_AUTOMATION": "on"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _add_late_call(server) -> None:
    conn = server.connect(t.RULES_DB)
    try:
        with conn.cursor() as cur:
            t.insert_rows(cur, "ciq_transcripts.wrds_transcript_detail",
                          [t.detail_row(990001, "Late Filer Corp", 99_000_001, 99_000_001, "2023-03-20")])
    finally:
        conn.close()


def _tick(sensor, defs, instance, cursor):
    resources = {"transcript_source": defs.resources["transcript_source"]}
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources,
                                  instance_ref=instance.get_ref()) as context:  # as the daemon builds it
        return sensor.evaluate_tick(context)


def test_state_query_counts_calls_and_names_the_newest_transcript(wrds_env):
    calls, newest = quarter_state(resolve_settings(), t.RULES_QUARTER)
    assert calls > 0 and int(newest) > 0
    assert quarter_state(resolve_settings(), "2019Q1") == (0, "0")


def test_a_late_call_on_wrds_fires_the_watch_once(wrds_env, wrds_server):
    settings = Settings.from_env(wrds_env)
    defs = build_definitions(settings)
    assert isinstance(defs.resources["transcript_source"], WrdsTranscriptSource)
    watch = build_transcript_watch(settings, clock=lambda: dt.date(2023, 4, 2))
    with dg.instance_for_test() as instance:
        first = _tick(watch, defs, instance, None)  # the two newest quarters, never fetched: fetch them
        assert [r.partition_key for r in first.run_requests] == ["2022Q4", t.RULES_QUARTER]
        assert "never fetched" in first.run_requests[0].tags[REASON_TAG]
        assert instance.get_dynamic_partitions("quarter") == []  # added by the daemon from the result:
        assert first.dynamic_partitions_requests[0].partition_keys == ["2022Q4", t.RULES_QUARTER]
        second = _tick(watch, defs, instance, first.cursor)
        assert not second.run_requests and "unchanged" in second.skip_message

        before, _ = quarter_state(resolve_settings(), t.RULES_QUARTER)
        _add_late_call(wrds_server)
        third = _tick(watch, defs, instance, second.cursor)
        (request,) = third.run_requests  # the other quarter is unchanged
        assert request.partition_key == t.RULES_QUARTER and f"{before} transcript(s)" in request.tags[REASON_TAG]
        assert f"{before + 1} transcript(s)" in request.tags[REASON_TAG]
        fourth = _tick(watch, defs, instance, third.cursor)
        assert not fourth.run_requests  # once per change

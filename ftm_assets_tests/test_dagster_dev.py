"""End to end in a real ``dagster dev``: a backfill of two quarters, its retry from failure, the pool limit.

Everything goes through the webserver's GraphQL API, as the UI does it; see ``dagster_dev.py`` for the
scenario. Slow (about three minutes): it runs the real worker for every batch.
"""

from __future__ import annotations

import pytest

from ftm_assets_tests.support.dagster_dev import (
    BATCH_COUNT,
    BROKEN_BATCH,
    BROKEN_QUARTER,
    POOL_LIMIT,
    QUARTERS,
    Scenario,
    asset_nodes,
    backfilled_instance,  # noqa: F401  (the shared fixture)
    check_executions,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first test also waits for the scenario

EXPECTED_ASSETS = {"raw_transcripts", "firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary"}
BROKEN_KEY = f"{BROKEN_BATCH}|{BROKEN_QUARTER}"  # multi-partition keys join the dimensions alphabetically


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def _batch_runs(backfill: dict) -> list[dict]:
    return [r for r in backfill["runs"] if _tag(r, "dagster/partition/batch") is not None]


def test_the_code_location_has_every_asset(backfilled_instance: Scenario):
    assert EXPECTED_ASSETS <= set(backfilled_instance.assets)


def test_one_broken_batch_fails_the_backfill_partly(backfilled_instance: Scenario):
    first = backfilled_instance.first
    assert first["status"] in ("COMPLETED_FAILED", "FAILED"), first["status"]
    failed = [r for r in first["runs"] if r["status"] == "FAILURE"]
    assert [_tag(r, "dagster/partition") for r in failed] == [BROKEN_KEY]
    succeeded = {_tag(r, "dagster/partition") for r in first["runs"] if r["status"] == "SUCCESS"}
    assert set(QUARTERS) <= succeeded  # upstream assets and the healthy quarter's summary
    assert len(_batch_runs(first)) == len(QUARTERS) * BATCH_COUNT


def test_the_retry_reruns_only_the_failed_partition_and_its_summary(backfilled_instance: Scenario):
    retry = backfilled_instance.retry
    assert retry["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), retry["status"]
    assert sorted(_tag(r, "dagster/partition") for r in retry["runs"]) == sorted([BROKEN_KEY, BROKEN_QUARTER])
    assert all(r["status"] == "SUCCESS" for r in retry["runs"])


def test_every_partition_of_every_asset_is_materialized(backfilled_instance: Scenario):
    nodes = asset_nodes(backfilled_instance.server)
    stats = {name: nodes[name]["partitionStats"] for name in EXPECTED_ASSETS}
    expected = {name: len(QUARTERS) * (BATCH_COUNT if name.startswith("firm_topic") else 1) for name in stats}
    assert {n: (s["numMaterialized"], s["numPartitions"]) for n, s in stats.items()} == {
        n: (count, count) for n, count in expected.items()
    }


def test_every_check_ran_on_every_partition(backfilled_instance: Scenario):
    server = backfilled_instance.server
    runs = backfilled_instance.first["runs"] + backfilled_instance.retry["runs"]
    partition_of_run = {r["runId"]: _tag(r, "dagster/partition") for r in runs}
    ran: dict[tuple[str, str], dict[str, str]] = {}
    for name, node in asset_nodes(server).items():
        for check in node["assetChecksOrError"].get("checks", []):
            latest: dict[str, str] = {}
            for execution in check_executions(server, name, check["name"]):  # newest first
                # Checks reported through Pipes carry no partition: the run they came from says which.
                partition = execution["partition"] or partition_of_run.get(execution["runId"])
                latest.setdefault(partition, execution["status"])
            ran[(name, check["name"])] = latest
            assert set(latest) == set(node["partitionKeys"]), (name, check["name"], latest)
    assert {asset for asset, _ in ran} == {"firm_topics", "quarter_topic_summary"}
    assert len(ran) >= 5
    statuses = {status for by_partition in ran.values() for status in by_partition.values()}
    assert statuses <= {"SUCCEEDED", "FAILED"}, statuses  # evaluated (a demo batch may fail a WARN check)


def test_the_pool_keeps_at_most_the_limit_of_batch_jobs_in_flight(backfilled_instance: Scenario):
    runs = _batch_runs(backfilled_instance.first) + _batch_runs(backfilled_instance.retry)
    events = sorted([(r["startTime"], 1) for r in runs] + [(r["endTime"], -1) for r in runs])
    in_flight, peak = 0, 0
    for _, step in events:  # an end sorts before a start at the same instant
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= POOL_LIMIT
    # The limit was binding: some batch run was queued before another ended, and started only after it.
    first = _batch_runs(backfilled_instance.first)
    assert any(
        a["creationTime"] < b["endTime"] <= a["startTime"] for a in first for b in first if a is not b
    ), [(r["creationTime"], r["startTime"], r["endTime"]) for r in first]

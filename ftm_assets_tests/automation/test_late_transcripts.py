"""Automation on: late transcripts of a finished quarter are picked up once, and only what they change re-runs.

Files source with real Earnings-22 calls in two quarters, the real worker protocol (Pipes, lease, commit) with
the scripted processor. After both quarters are done, one late call is added to the first quarter: the
transcript watch fires once, the automation conditions then request the manifest, only the batch whose firm
list changed, the summary, the themes and the panel, and the later quarter's themes after the earlier one's;
evaluated again with nothing new, neither launches anything.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import dagster as dg
import pytest

from ftm_assets.automation.watch import REASON_TAG, build_transcript_watch
from ftm_assets.definitions import build_definitions
from ftm_assets.environment import Settings, resources
from ftm_assets.launch.local import LocalLauncher
from ftm_assets.run.quarter import materialize_quarter
from ftm_assets.storage import open_storage
from ftm_assets.storage.manifest import read_manifest
from ftm_assets_tests.support.earnings22_calls import read_calls
from ftm_assets_tests.support.theme_quarters import quarter_rows
from ftm_assets_tests.support.earnings22 import requires_earnings22
from ftm_assets_tests.support.scripted_pipes_worker import SCRIPTED_WORKER_MODULE

pytestmark = [requires_earnings22]
QUARTERS = ("2023Q1", "2023Q2")
N_CALLS = 6
BATCH_ASSETS = [dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")]


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _late_call(calls: list[dict]) -> list[dict]:
    rows = quarter_rows(calls[N_CALLS:N_CALLS + 1], QUARTERS[0], "as_is")
    for row in rows:
        row["firm_id"], row["call_id"], row["transcript_id"] = "LATE-1", 99_000_001, 99_000_001
    return rows


def _tick(sensor: dg.SensorDefinition, instance, cursor: str | None, defs: dg.Definitions):
    source = {"transcript_source": defs.resources["transcript_source"]}
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=source,
                                  instance_ref=instance.get_ref()) as context:  # as the daemon builds it
        result = sensor.evaluate_tick(context)
    return result, result.cursor


ASSETS = ("firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary", "quarter_themes",
          "theme_exposure")


def _requested(result: dg.EvaluateAutomationConditionsResult) -> dict[str, list[str]]:
    out = {a: sorted(str(p) for p in result.get_requested_partitions(dg.AssetKey(a))) for a in ASSETS}
    return {a: keys for a, keys in out.items() if keys}


def _execute(job, instance, requested: dict[str, list[str]]) -> None:
    """One run per requested partition, as the automation sensor launches them (emit_backfills=False)."""
    for asset, partitions in requested.items():
        if asset == "firm_topic_failures":
            continue  # produced by the same run as firm_topics
        for partition in partitions:
            if asset == "firm_topics":
                batch, quarter = partition.split("|")
                key, selection = dg.MultiPartitionKey({"quarter": quarter, "batch": batch}), BATCH_ASSETS
            else:
                key, selection = partition, [dg.AssetKey(asset)]
            assert job.execute_in_process(instance=instance, partition_key=key, asset_selection=selection).success


@pytest.fixture
def finished_quarters(tmp_path):
    calls = read_calls(N_CALLS + 1)
    folder = tmp_path / "calls"
    folder.mkdir()
    for quarter in QUARTERS:
        _write(folder / f"calls-{quarter}.jsonl.gz", quarter_rows(calls[:N_CALLS], quarter, "as_is"))
    env = {"FTM_STORAGE_ROOT": str(tmp_path / "root"), "FTM_TRANSCRIPT_SOURCE": "files",
           "FTM_TRANSCRIPTS_DIR": str(folder), "FTM_BATCH_COUNT": "2", "FTM_AUTOMATION": "on",
           "FTM_THEME_MIN_FIRMS": "2"}
    settings = Settings.from_env(env)
    loaded = build_definitions(settings)
    bound = {**resources(settings), "launcher": LocalLauncher(module=SCRIPTED_WORKER_MODULE)}
    defs = dg.Definitions(assets=list(loaded.assets), sensors=list(loaded.sensors), resources=bound)
    with dg.instance_for_test() as instance:
        for quarter in QUARTERS:
            materialize_quarter(defs, quarter, settings.batch_count, instance)
        yield {"defs": defs, "settings": settings, "instance": instance, "folder": folder, "calls": calls,
               "resources": bound, "root": env["FTM_STORAGE_ROOT"]}


def test_a_late_call_reruns_only_what_it_changes(finished_quarters):
    defs, settings, instance = finished_quarters["defs"], finished_quarters["settings"], finished_quarters["instance"]
    job = defs.resolve_implicit_global_asset_job_def()
    watch = build_transcript_watch(settings, clock=lambda: dt.date(2026, 1, 1))
    storage = open_storage(finished_quarters["root"])
    before = {e.batch: set(e.firm_ids) for e in read_manifest(storage, QUARTERS[0])}

    # Turned on over finished quarters: the watch records a baseline and nothing is re-run.
    result, cursor = _tick(watch, instance, None, defs)
    assert not result.run_requests and "baseline recorded" in result.skip_message
    automation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert _requested(automation) == {}

    # A late call of a new firm arrives for the first quarter.
    _write(finished_quarters["folder"] / "late.jsonl.gz", _late_call(finished_quarters["calls"]))
    result, cursor = _tick(watch, instance, cursor, defs)
    (request,) = result.run_requests
    assert request.partition_key == QUARTERS[0] and request.asset_selection == [dg.AssetKey("raw_transcripts")]
    assert "->" in request.tags[REASON_TAG]
    assert job.execute_in_process(instance=instance, partition_key=QUARTERS[0],
                                  asset_selection=request.asset_selection).success
    again, cursor = _tick(watch, instance, cursor, defs)
    assert not again.run_requests and "unchanged" in again.skip_message  # fires once per change

    history: list[dict[str, list[str]]] = []
    for _ in range(12):
        automation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
        requested = _requested(automation)
        if not requested:
            break
        history.append(requested)
        _execute(job, instance, requested)
    after = {e.batch: set(e.firm_ids) for e in read_manifest(storage, QUARTERS[0])}
    changed = sorted(b for b in after if after[b] != before.get(b))
    assert len(changed) == 1 and "LATE-1" in after[changed[0]]
    flat = [(a, p) for step in history for a, keys in step.items() for p in keys]
    q1, q2 = QUARTERS
    assert ("firm_manifest", q1) in flat
    assert [p for a, p in flat if a == "firm_topics"] == [f"{changed[0]}|{q1}"]  # only the changed batch
    for asset in ("quarter_topic_summary", "quarter_themes", "theme_exposure"):
        assert (asset, q1) in flat, asset
    assert ("quarter_themes", q2) in flat and ("theme_exposure", q2) in flat  # the later quarter follows
    assert flat.index(("quarter_themes", q1)) < flat.index(("quarter_themes", q2))  # in calendar order
    assert ("firm_manifest", q2) not in flat and ("quarter_topic_summary", q2) not in flat
    assert len(flat) == len(set(flat))  # nothing twice

    # Nothing new: neither the watch nor the automation launches anything.
    last, cursor = _tick(watch, instance, cursor, defs)
    assert not last.run_requests
    assert _requested(dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)) == {}

"""End to end in a real ``dagster dev``: a backfill of two quarters, its retry from failure, the pool limit,
and what the UI shows of it in headless Chromium (asset graph, firm_topics partitions, the summary picture).

This module is the only one that starts ``dagster dev``: one server for its tests, under the module's tmp
folder, stopped when the module ends (also when a test or the scenario fails), so it never runs alongside the
other heavy tests. Everything goes through the webserver's GraphQL API, as the UI does it; see
``support/dagster_dev.py`` for the scenario. Screenshots go to each test's tmp_path; the README's picture is
refreshed by ``make screenshots``, not here. Each batch runs the real worker (Pipes, lease, checkpoint,
commit, checks) with the scripted processor instead of the model (FTM_WORKER_MODULE, as the production-side
test does): the subject here is the server, the backfill, the pool and the UI; the model's batches through
Dagster are test_pipeline_demo's. The daemon's backfill loop ticks every few seconds (support/daemon_tick/).
"""

from __future__ import annotations

import sys
import time

import pytest

from ftm_assets.summary.chart import DPI, WIDTH_IN
from ftm_assets_tests.support.dagster_dev import (
    BATCH_COUNT,
    BROKEN_BATCH,
    BROKEN_QUARTER,
    POOL_LIMIT,
    QUARTERS,
    Scenario,
    asset_nodes,
    check_executions,
    run_scenario,
    running_dagster_dev,
)
from ftm_assets_tests.support.scripted_pipes_worker import SCRIPTED_WORKER_MODULE
from ftm_assets_tests.support.ui import (
    MAX_README_PNG_BYTES,
    asset_graph_screenshot,
    browser_page,
    missing_ui_tools,
    open_page,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first test also waits for the scenario

EXPECTED_ASSETS = {"raw_transcripts", "firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary"}
BROKEN_KEY = f"{BROKEN_BATCH}|{BROKEN_QUARTER}"  # multi-partition keys join the dimensions alphabetically


@pytest.fixture(scope="module")
def backfilled_instance(tmp_path_factory: pytest.TempPathFactory):
    """One ``dagster dev`` and one run of the scenario for this module; the server stops when the module ends."""
    t0 = time.monotonic()
    with running_dagster_dev(tmp_path_factory.mktemp("dagster_dev"), worker_module=SCRIPTED_WORKER_MODULE) as server:
        try:
            scenario = run_scenario(server)
        except BaseException:
            print(server.log_tail(80), file=sys.stderr)
            raise
        scenario.seconds["startup"] = time.monotonic() - t0 - sum(scenario.seconds.values())
        print(f"dagster dev scenario: {scenario.seconds}", file=sys.stderr)
        yield scenario


@pytest.fixture(scope="module")
def page(backfilled_instance: Scenario):
    reason = missing_ui_tools()
    if reason:
        pytest.skip(reason)
    with browser_page(backfilled_instance.server.url) as page:
        yield page


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
    assert {asset for asset, _ in ran} == {"firm_topics", "quarter_topic_summary", "quarter_themes", "theme_exposure"}
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


# -- what the UI shows (headless Chromium) -------------------------------------------------------------------

def test_asset_graph_shows_every_asset(backfilled_instance: Scenario, page, tmp_path):
    shot = tmp_path / "asset-graph.png"
    asset_graph_screenshot(page, backfilled_instance.server.url, shot)  # fails naming any asset not shown
    assert 0 < shot.stat().st_size < MAX_README_PNG_BYTES, f"{shot} is {shot.stat().st_size} bytes"


def test_firm_topics_partitions_page_shows_every_partition_materialized(backfilled_instance: Scenario, page, tmp_path):
    url = f"{backfilled_instance.server.url}/assets/firm_topics?view=partitions"
    text = open_page(page, url, "Materialized (")
    page.screenshot(path=str(tmp_path / "firm-topics-partitions.png"), full_page=True)
    n = len(QUARTERS) * BATCH_COUNT
    for status in (f"Materialized ({n})", "Failed (0)", "Missing (0)"):
        assert status in text, (status, text[:1500])
    assert all(key in text for key in [*QUARTERS, "000", "001"]), text[:1500]


def test_the_quarter_summary_shows_its_picture(backfilled_instance: Scenario, page, tmp_path):
    url = f"{backfilled_instance.server.url}/assets/quarter_topic_summary?view=partitions&partition={QUARTERS[-1]}"
    open_page(page, url, "[Show Markdown]")
    page.get_by_text("[Show Markdown]").last.click(timeout=60_000)  # the `picture` entry
    picture = page.locator('img[src^="data:image/png;base64,"]').first
    picture.wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "quarter-summary.png"))
    assert picture.evaluate("img => img.naturalWidth") == round(WIDTH_IN * DPI)  # the PNG decoded and drew


def test_quarter_themes_shows_its_heatmap(backfilled_instance: Scenario, page, tmp_path):
    """The firm x theme heatmap is a picture in quarter_themes' metadata that the UI draws (not only a file)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url = f"{backfilled_instance.server.url}/assets/quarter_themes?view=partitions&partition={QUARTERS[-1]}"
    open_page(page, url, "[Show Markdown]")
    entries = page.get_by_text("[Show Markdown]")
    heatmap = page.locator('img[alt="firm x theme exposure"]')
    for i in range(entries.count()):  # top_themes, heatmap, prevalence: open each until the heatmap shows
        entries.nth(i).click(timeout=60_000)
        try:
            heatmap.first.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    page.screenshot(path=str(tmp_path / "theme-heatmap.png"))
    assert heatmap.count() == 1, "quarter_themes shows no heatmap picture"
    assert heatmap.first.evaluate("img => img.naturalWidth") > 0  # the PNG decoded and drew

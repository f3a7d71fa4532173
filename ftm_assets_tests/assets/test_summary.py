"""The quarter summary: depends on every batch of its quarter, writes the firm table and the picture."""

import base64
import io
import xml.etree.ElementTree as ET

import dagster as dg
import pyarrow.parquet as pq

from ftm_assets.assets.summary import (
    CHECK_BATCHES_COMMITTED,
    CHECK_QUARTER_FAILURE_RATE,
    build_quarter_summary,
    chart_key,
    chart_svg,
    summarize_quarter,
    summary_key,
)
from ftm_assets.partitions import quarter_batch_partitions, quarter_partitions
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.storage import LocalStorage
from ftm_assets_tests.support.committed_batches import sample_batches, write_batch, write_manifest_for

Q = "2024Q4"
QUARTERS = quarter_partitions("2024Q3", "2024Q4")
BATCHES = quarter_batch_partitions(QUARTERS, 2)


def _store(tmp_path, commit_second: bool = True) -> LocalStorage:
    store = LocalStorage(tmp_path)
    batches = sample_batches()
    write_manifest_for(store, Q, batches)
    write_batch(store, Q, "000", batches["000"])
    write_batch(store, Q, "001", batches["001"], commit=commit_second)
    return store


def _materialize(tmp_path, max_failure_rate: float = 0.5) -> dg.ExecuteInProcessResult:
    upstream = [dg.AssetSpec(key, partitions_def=BATCHES) for key in ("firm_topics", "firm_topic_failures")]
    return dg.materialize(
        [build_quarter_summary(QUARTERS), *upstream],
        selection=["quarter_topic_summary"],
        partition_key=Q,
        resources={
            "storage": StorageRoot(root=str(tmp_path)),
            "worker_settings": WorkerSettings(max_failure_rate=max_failure_rate),
        },
        raise_on_error=True,
    )


def test_a_quarter_depends_on_every_batch_of_that_quarter():
    defs = dg.Definitions(
        assets=[build_quarter_summary(QUARTERS), dg.AssetSpec("firm_topics", partitions_def=BATCHES)],
        resources={"storage": StorageRoot(root="unused"), "worker_settings": WorkerSettings()},
    )
    graph = defs.resolve_asset_graph()
    summary = dg.AssetKey("quarter_topic_summary")
    mapping = graph.get(summary).partition_mappings[dg.AssetKey("firm_topics")]
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        QUARTERS.subset_with_partition_keys([Q]), QUARTERS, BATCHES
    ).partitions_subset
    assert sorted(str(k) for k in upstream.get_partition_keys()) == ["000|2024Q4", "001|2024Q4"]


def test_summary_has_one_row_per_manifest_firm(tmp_path):
    summary = summarize_quarter(_store(tmp_path), Q)
    rows = {r["firm_id"]: r for r in summary.firms.to_pylist()}
    assert {k: r["status"] for k, r in rows.items()} == {
        "1": "ok", "2": "ok", "3": "no_topics", "4": "ok", "5": "ok", "6": "failed"
    }
    assert rows["2"]["topics"] == 3 and rows["2"]["sentences"] == 15
    assert rows["1"]["outlier_sentences"] == 2
    assert rows["6"]["error_class"] == "InsufficientText" and rows["6"]["firm_name"] == "Zeta"
    assert [(b.batch, b.firms, b.failed, b.committed) for b in summary.batches] == [
        ("000", 3, 0, True), ("001", 3, 1, True)
    ]
    assert summary.stage_seconds == {"embed": 3.0, "fit": 5.0, "total": 8.0}


def test_an_uncommitted_batch_shows_as_missing(tmp_path):
    summary = summarize_quarter(_store(tmp_path, commit_second=False), Q)
    statuses = dict(zip(summary.firms.column("firm_id").to_pylist(), summary.firms.column("status").to_pylist()))
    assert [statuses[f] for f in ("4", "5", "6")] == ["missing"] * 3
    assert [b.committed for b in summary.batches] == [True, False]


def test_the_chart_is_valid_svg_with_a_bar_per_batch(tmp_path):
    summary = summarize_quarter(_store(tmp_path), Q)
    svg = ET.fromstring(chart_svg(summary, Q, max_failure_rate=0.05))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert f"{Q}: firms by number of topics" in texts and "failure rate per batch" in texts
    assert "33%" in texts and "limit 5%" in texts  # batch 001: 1 of 3 failed
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert "000: 0%" in titles and "001: 33%" in titles
    assert "2: 2" in titles  # two firms (Alpha, Epsilon) with two topics


def test_materializing_writes_parquet_chart_metadata_and_checks(tmp_path):
    store = _store(tmp_path)
    result = _materialize(tmp_path)
    table = pq.read_table(io.BytesIO(store.read_bytes(summary_key(Q))))
    assert table.num_rows == 6 and store.exists(chart_key(Q))

    meta = result.asset_materializations_for_node("quarter_topic_summary")[0].metadata
    assert (meta["firms"].value, meta["firms_failed"].value, meta["topics"].value) == (6, 1, 8)
    picture = meta["picture"].value
    prefix = "![topics per firm and failure rate per batch](data:image/svg+xml;base64,"
    assert picture.startswith(prefix)
    assert base64.b64decode(picture[len(prefix):-1]).decode() == store.read_text(chart_key(Q))
    assert "| 001 | 3 | 1 | 33.3% | yes |" in meta["batches"].value

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CHECK_BATCHES_COMMITTED].passed
    assert checks[CHECK_QUARTER_FAILURE_RATE].passed  # 1 of 6 is under the 50% limit of this test


def test_checks_fail_with_a_reason_when_a_batch_is_missing(tmp_path):
    _store(tmp_path, commit_second=False)
    result = _materialize(tmp_path, max_failure_rate=0.0)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    committed = checks[CHECK_BATCHES_COMMITTED]
    assert not committed.passed
    assert "Batches 001 have no committed output" in committed.metadata["verdict"].value
    assert checks[CHECK_QUARTER_FAILURE_RATE].passed  # no failures among the committed firms


def test_no_manifest_fails_with_what_to_materialize(tmp_path):
    result = dg.materialize(
        [build_quarter_summary(QUARTERS)],
        partition_key=Q,
        resources={"storage": StorageRoot(root=str(tmp_path)), "worker_settings": WorkerSettings()},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("quarter_topic_summary")
    message = failure.user_failure_data.description
    assert "materialize firm_manifest and the firm_topics batches of 2024Q4 first" in message

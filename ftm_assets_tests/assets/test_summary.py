"""The quarter summary: one row per manifest firm from every batch, the picture, the tables and the checks.

Optional inputs other parts of the system write (the failures' ``outcome``, launchers' cost records, a
per-topic ``stability``) are added to the committed files here, so each test says what it feeds in.
"""

import base64
import io

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image

from ftm_assets.launch.cost import AttemptCost, CostRecord
from ftm_assets_tests.support.markdown import table_rows
from ftm_assets.assets.summary import batches_markdown, build_quarter_summary
from ftm_assets.summary.chart import DPI, HEIGHT_IN, WIDTH_IN, png_bytes, quarter_chart, topics_histogram
from ftm_assets.constants import CHECK_BATCHES_COMMITTED, CHECK_QUARTER_FAILURE_RATE
from ftm_assets.partitions import quarter_batch_partitions, quarter_partitions
from ftm_assets.summary.quarter import BatchRow, ManifestMissing, QuarterSummary, summarize_quarter
from ftm_assets.schema import SUMMARY_SCHEMA
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.storage import LocalStorage, layout
from ftm_assets.storage.commit import load_commit
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


def _set_column(store: LocalStorage, key: str, name: str, values: pa.Array) -> None:
    """Rewrite a committed Parquet file with ``name`` set to ``values`` (added if the writer had no such column)."""
    table = pq.read_table(io.BytesIO(store.read_bytes(key)))
    if name in table.column_names:
        table = table.drop_columns([name])
    sink = io.BytesIO()
    pq.write_table(table.append_column(name, values), sink)
    store.write_bytes(key, sink.getvalue())


def _topics_part(store: LocalStorage, batch: str) -> str:
    return load_commit(store, Q, batch).firm_topics_parts[0]


def _with_a_skipped_firm(store: LocalStorage) -> None:
    """Batch 001 sets firm 5 aside (``skipped``: too little text) next to Zeta's ``failed``."""
    key = load_commit(store, Q, "001").failures
    table = pq.read_table(io.BytesIO(store.read_bytes(key)))
    skipped = table.slice(0, 1).to_pylist()[0] | {"firm_id": "5", "firm_name": "Epsilon",
                                                  "error_class": "InsufficientText", "outcome": "skipped"}
    table = pa.concat_tables([table, pa.Table.from_pylist([skipped], schema=table.schema)])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    store.write_bytes(key, sink.getvalue())
    topics = pq.read_table(io.BytesIO(store.read_bytes(_topics_part(store, "001"))))
    sink = io.BytesIO()
    pq.write_table(topics.filter(pc.not_equal(topics.column("firm_id"), "5")), sink)
    store.write_bytes(_topics_part(store, "001"), sink.getvalue())


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
    assert rows["6"]["error_class"] == "ValueError" and rows["6"]["firm_name"] == "Zeta"
    assert all(r["stability"] is None for r in rows.values())  # no topic of the fixture has a stability
    assert [(b.batch, b.firms, b.failed, b.skipped, b.committed) for b in summary.batches] == [
        ("000", 3, 0, 0, True), ("001", 3, 1, 0, True)
    ]
    assert summary.stage_seconds == {"embed": 3.0, "fit": 5.0, "total": 8.0}
    assert summary.cost is None  # no launcher wrote a cost record


def test_an_uncommitted_batch_shows_as_missing(tmp_path):
    summary = summarize_quarter(_store(tmp_path, commit_second=False), Q)
    statuses = dict(zip(summary.firms.column("firm_id").to_pylist(), summary.firms.column("status").to_pylist()))
    assert [statuses[f] for f in ("4", "5", "6")] == ["missing"] * 3
    assert [b.committed for b in summary.batches] == [True, False]


def test_skipped_firms_are_shown_but_not_counted_as_failures(tmp_path):
    store = _store(tmp_path)
    _with_a_skipped_firm(store)
    summary = summarize_quarter(store, Q)
    statuses = dict(zip(summary.firms.column("firm_id").to_pylist(), summary.firms.column("status").to_pylist()))
    assert (statuses["5"], statuses["6"]) == ("skipped", "failed")
    batch = summary.batches[1]
    assert (batch.failed, batch.skipped) == (1, 1)
    assert (summary.total.failure_rate, summary.total.skip_rate) == (1 / 5, 1 / 6)  # the skipped one is not attempted
    assert (summary.total.firms, summary.total.attempted) == (6, 5)


def test_per_firm_stability_is_its_topics_stability_weighted_by_sentences(tmp_path):
    store = _store(tmp_path)
    by_row = {("1", 0): 0.9, ("1", 1): 0.5, ("1", -1): 0.0, ("2", 0): 0.8, ("2", 1): 0.2, ("2", 2): 0.6,
              ("5", 0): 0.4, ("5", 1): None}
    for batch in ("000", "001"):
        key = _topics_part(store, batch)
        rows = pq.read_table(io.BytesIO(store.read_bytes(key)), columns=["firm_id", "topic_id"]).to_pylist()
        _set_column(store, key, "stability", pa.array([by_row.get((r["firm_id"], r["topic_id"])) for r in rows],
                                                      pa.float64()))
    firms = {r["firm_id"]: r["stability"] for r in summarize_quarter(store, Q).firms.to_pylist()}
    assert firms["1"] == pytest.approx((5 * 0.9 + 3 * 0.5) / 8, abs=1e-4)  # 5 and 3 sentences; the outlier row does not count
    assert firms["2"] == pytest.approx((9 * 0.8 + 4 * 0.2 + 2 * 0.6) / 15, abs=1e-4)  # rounded to 4 places
    assert firms["5"] == pytest.approx(0.4)  # a topic without a value is left out
    assert firms["3"] is None and firms["4"] is None and firms["6"] is None  # only outliers / none / failed


def test_cost_records_sum_per_batch_and_quarter(tmp_path):
    store = _store(tmp_path)
    for batch, gpu_hours, cpu_s, usd in (("000", 0.25, 900.0, 0.31), ("001", 0.5, 1800.0, 0.62)):
        attempt = AttemptCost(f"job-{batch}", 1, 5.0, 60.0, "g5.xlarge", True, 0.5, usd)
        store.write_text(layout.cost_record(Q, batch), CostRecord(
            Q, batch, "aws", [attempt], gpu_hours=gpu_hours, cpu_seconds=cpu_s, cost_usd=usd).to_json())
    summary = summarize_quarter(store, Q)
    assert summary.batches[0].cost.gpu_hours == 0.25
    assert summary.cost.gpu_hours == pytest.approx(0.75)
    assert summary.cost.cpu_seconds == pytest.approx(2700.0)
    assert summary.cost.cost_usd == pytest.approx(0.93)
    assert [a.job_id for a in summary.cost.attempts] == ["job-000", "job-001"]
    rows = table_rows(batches_markdown(summary.batches))
    assert (rows[1]["GPU-hours"], rows[1]["CPU-seconds"], rows[1]["cost (USD)"]) == ("0.50", "1800", "0.62")


def test_the_batches_table_reads_back_to_the_numbers(tmp_path):
    summary = summarize_quarter(_store(tmp_path, commit_second=False), Q)
    rows = table_rows(batches_markdown(summary.batches))
    assert rows == [
        {"batch": "000", "firms": "3", "failed": "0", "failure rate": "0.0%", "skipped": "0", "skip rate": "0.0%",
         "committed": "yes", "seconds": "4.0"},
        {"batch": "001", "firms": "3", "failed": "0", "failure rate": "0.0%", "skipped": "0", "skip rate": "0.0%",
         "committed": "NO", "seconds": "0.0"},
    ]


def test_the_chart_has_axes_a_reader_can_read_numbers_off(tmp_path):
    summary = summarize_quarter(_store(tmp_path), Q)
    assert topics_histogram(summary) == {0: 1, 1: 1, 2: 2, 3: 1}  # Gamma 0, Delta 1, Alpha/Epsilon 2, Beta 3
    fig = quarter_chart(summary, Q, max_failure_rate=0.05)
    fig.canvas.draw()  # tick labels are made when drawn
    topics_ax, rates_ax = fig.axes
    assert topics_ax.get_title() == f"{Q}: firms by number of topics"
    assert (topics_ax.get_xlabel(), topics_ax.get_ylabel()) == ("topics per firm (outliers not counted)", "firms")
    assert [(round(p.get_x() + p.get_width() / 2), p.get_height()) for p in topics_ax.patches] == [
        (0, 1), (1, 1), (2, 2), (3, 1)
    ]
    assert [t.get_text() for t in rates_ax.get_xticklabels()] == ["000", "001"]
    assert [p.get_height() for p in rates_ax.patches] == pytest.approx([0.0, 1 / 3])
    assert [t.get_text() for t in rates_ax.texts] == ["0%", "33%"]  # the value on each bar
    ticks = [t.get_text() for t in rates_ax.get_yticklabels()]
    assert "0%" in ticks and all(t.endswith("%") for t in ticks if t)
    limit = [line for line in rates_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(limit) == 1 and list(limit[0].get_ydata()) == [0.05, 0.05]
    assert "failure limit 5%" in [t.get_text() for t in rates_ax.get_legend().get_texts()]


def test_the_chart_shows_skip_rates_and_uncommitted_batches(tmp_path):
    store = _store(tmp_path)
    _with_a_skipped_firm(store)
    summary = summarize_quarter(store, Q)
    fig = quarter_chart(summary, Q, max_failure_rate=0.05)
    rates_ax = fig.axes[1]
    assert [c.get_label() for c in rates_ax.containers] == ["failed", "skipped"]
    assert [p.get_height() for p in rates_ax.containers[1]] == pytest.approx([0.0, 1 / 3])
    missing = quarter_chart(summarize_quarter(_store(tmp_path / "other", commit_second=False), Q), Q, 0.05)
    missing.canvas.draw()
    assert [t.get_text() for t in missing.axes[1].get_xticklabels()] == ["000", "001\n(not committed)"]
    assert [t.get_text() for t in missing.axes[1].texts] == ["0%", "n/a"]  # no rate for a batch without output


def test_the_chart_is_a_png_of_the_stated_size(tmp_path):
    png = png_bytes(quarter_chart(summarize_quarter(_store(tmp_path), Q), Q, max_failure_rate=0.05))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (round(WIDTH_IN * DPI), round(HEIGHT_IN * DPI))


def test_materializing_writes_parquet_chart_metadata_and_checks(tmp_path):
    store = _store(tmp_path)
    result = _materialize(tmp_path)
    table = pq.read_table(io.BytesIO(store.read_bytes(layout.summary(Q))))
    assert table.num_rows == 6 and store.exists(layout.summary_chart(Q))

    meta = result.asset_materializations_for_node("quarter_topic_summary")[0].metadata
    assert (meta["firms"].value, meta["firms_failed"].value, meta["topics"].value) == (6, 1, 8)
    assert (meta["failure_rate"].value, meta["skip_rate"].value) == (round(1 / 6, 4), 0.0)
    assert "gpu_hours" not in meta and "firm_stability_median" not in meta  # nothing fed them
    picture = meta["picture"].value
    prefix = "![topics per firm and failure rate per batch](data:image/png;base64,"
    assert picture.startswith(prefix)
    assert base64.b64decode(picture[len(prefix):-1]) == store.read_bytes(layout.summary_chart(Q))
    assert meta["chart_path"].value == store.uri(layout.summary_chart(Q))
    batch_001 = table_rows(meta["batches"].value)[1]
    assert (batch_001["batch"], batch_001["failed"], batch_001["failure rate"], batch_001["committed"]) == (
        "001", "1", "33.3%", "yes"
    )

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CHECK_BATCHES_COMMITTED].passed
    assert checks[CHECK_QUARTER_FAILURE_RATE].passed  # 1 of 6 is under the 50% limit of this test


def test_the_quarter_check_counts_failed_firms_only(tmp_path):
    store = _store(tmp_path)
    _with_a_skipped_firm(store)
    for batch, usd in (("000", 1.0), ("001", 2.0)):
        store.write_text(layout.cost_record(Q, batch), CostRecord(
            Q, batch, "local", [], gpu_hours=None, cpu_seconds=60.0, cost_usd=usd).to_json())
    result = _materialize(tmp_path, max_failure_rate=0.2)  # 1 failed of 5 attempted (20%) passes; 2 of 5 would not
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}[CHECK_QUARTER_FAILURE_RATE]
    assert check.passed
    assert check.metadata["failure_rate"].value == pytest.approx(1 / 5)
    assert "1 of 5 firms attempted in the quarter failed (20.0%); 1 more were skipped" in check.metadata["verdict"].value
    meta = result.asset_materializations_for_node("quarter_topic_summary")[0].metadata
    assert (meta["firms_failed"].value, meta["firms_skipped"].value) == (1, 1)
    assert (meta["cost_usd"].value, meta["cost_usd_per_firm"].value, meta["cpu_seconds"].value) == (3.0, 0.5, 120.0)
    assert "gpu_hours" not in meta  # no record gave it


def test_checks_fail_with_a_reason_when_a_batch_is_missing(tmp_path):
    _store(tmp_path, commit_second=False)
    result = _materialize(tmp_path, max_failure_rate=0.0)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    committed = checks[CHECK_BATCHES_COMMITTED]
    assert not committed.passed
    assert "Batches 001 have no committed output" in committed.metadata["verdict"].value
    assert checks[CHECK_QUARTER_FAILURE_RATE].passed  # no failures among the committed firms


def test_the_quarter_check_fails_above_the_limit(tmp_path):
    _store(tmp_path)
    result = _materialize(tmp_path, max_failure_rate=0.1)  # 1 of 6 failed: 16.7%
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}[CHECK_QUARTER_FAILURE_RATE]
    assert not check.passed
    assert check.metadata["verdict"].value == "1 of 6 firms attempted in the quarter failed (16.7%); the limit is 10.0%."


def test_no_manifest_fails_with_what_to_materialize(tmp_path):
    with pytest.raises(ManifestMissing, match="materialize firm_manifest"):
        summarize_quarter(LocalStorage(tmp_path), Q)
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


def test_a_quarter_of_many_batches_keeps_its_chart_readable():
    batches = [BatchRow(f"{i:03d}", firms=20, failed=i % 3, committed=True, seconds=1.0) for i in range(20)]
    firms = pa.Table.from_pylist(
        [{"quarter": Q, "batch": "000", "firm_id": str(i), "status": "ok", "topics": i % 25, "sentences": 9,
          "outlier_sentences": 1} for i in range(400)],
        schema=SUMMARY_SCHEMA,
    )
    fig = quarter_chart(QuarterSummary(firms, batches, {}), Q, max_failure_rate=0.05)
    fig.canvas.draw()
    topics_ax, rates_ax = fig.axes
    assert len(topics_ax.texts) == len(rates_ax.texts) == 0  # 25 and 20 bars: no overlapping values, axes only
    assert {t.get_rotation() for t in rates_ax.get_xticklabels()} == {90.0}
    assert [t.get_text() for t in rates_ax.get_xticklabels()] == [b.batch for b in batches]

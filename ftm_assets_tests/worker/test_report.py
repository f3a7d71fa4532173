"""Materialization metadata and check results the worker reports, recomputed from committed files."""

from dataclasses import replace

from ftm_assets import constants as C
from ftm_assets.storage import LocalStorage
from ftm_assets.worker_config import FailurePolicy, WorkerConfig
from ftm_assets.worker.report import (
    WorkerTiming,
    check_results,
    failures_metadata,
    firm_topics_metadata,
    largest_topics_markdown,
    summarize_commit,
)
from ftm_assets_tests.support.markdown import cells
from ftm_assets_tests.support.committed_batches import Firm, sample_batches, write_batch


def _commit(tmp_path, firms):
    store = LocalStorage(tmp_path)
    return store, write_batch(store, "2024Q4", "000", firms)


def test_summary_counts_come_from_the_files(tmp_path):
    store, commit = _commit(tmp_path, sample_batches()["000"] + [Firm("9", "Eta", error_class="EmptyCall")])
    summary = summarize_commit(store, commit, ["1", "2", "3", "9"])
    assert summary.firms_with_rows == 3
    assert summary.firms_failed == 1
    assert summary.firms_with_topics == 2  # Gamma has only outliers
    assert summary.topics == 5
    assert summary.topics_per_firm_max == 3
    assert summary.sentences_modelled == 10 + 15 + 2
    assert summary.outlier_sentences == 4
    assert summary.missing_firms == [] and summary.unexpected_firms == []
    assert summary.error_classes == {"EmptyCall": 1}


def test_largest_topics_table_shows_the_biggest_firms_first_and_escapes_pipes():
    rows = [
        {"firm_id": "1", "firm_name": "Small", "topic_id": 0, "representation": "a", "n_sentences": 3},
        {"firm_id": "2", "firm_name": "Big | Co", "topic_id": 0, "representation": "x_y", "n_sentences": 4},
        {"firm_id": "2", "firm_name": "Big | Co", "topic_id": 1, "representation": "z", "n_sentences": 9},
        {"firm_id": "2", "firm_name": "Big | Co", "topic_id": -1, "representation": "out", "n_sentences": 50},
    ]
    table = [cells(line) for line in largest_topics_markdown(rows, n_firms=1, n_topics=2).splitlines()]
    assert table[0] == ["firm", "topic", "sentences", "representation"]
    assert table[2] == ["Big \\| Co (2)", "1", "9", "z"]
    assert table[3] == ["Big \\| Co (2)", "0", "4", "x_y"]
    assert len(table) == 4  # one firm, two topics, no outlier row, not the smaller firm


def test_largest_topics_table_is_empty_without_topics():
    rows = [{"firm_id": "1", "firm_name": "A", "topic_id": -1, "representation": "", "n_sentences": 3}]
    assert largest_topics_markdown(rows) == ""


def test_firm_topics_metadata_has_counts_stages_and_the_table(tmp_path):
    store, commit = _commit(tmp_path, sample_batches()["000"])
    summary = summarize_commit(store, commit, ["1", "2", "3"])
    timing = WorkerTiming(process_started_at=100.0, reported_at=106.0)  # 6 s of worker
    meta = firm_topics_metadata(summary, commit, store, {"embed": 1.234, "fit": 2.0}, timing)
    assert (meta["firms"], meta["topics"], meta["sentences"], meta["firms_failed"]) == (3, 5, 27, 0)
    assert meta["embed_s"] == 1.23 and meta["fit_s"] == 2.0
    assert meta["firms_per_s"] == 0.5
    assert meta["largest_topics"]["type"] == "md"
    assert cells(meta["largest_topics"]["raw_value"].splitlines()[2])[:3] == ["Beta \\| Inc (2)", "0", "9"]
    assert meta["path"]["raw_value"].endswith("intermediate/firm-topics/quarter=2024Q4")
    assert meta["embedding_model"] == "test-model"


def test_firm_topics_metadata_says_how_many_sentences_were_embedded_or_reused(tmp_path):
    store, commit = _commit(tmp_path, sample_batches()["000"])
    summary = summarize_commit(store, commit, ["1", "2", "3"])
    timing = WorkerTiming(process_started_at=100.0, reported_at=106.0)
    assert "sentences_reused" not in firm_topics_metadata(summary, commit, store, {}, timing)  # store off
    counts = {**commit.counts, "sentences_embedded": 120, "sentences_reused": 880}
    meta = firm_topics_metadata(summary, replace(commit, counts=counts), store, {}, timing)
    assert (meta["sentences_embedded"], meta["sentences_reused"]) == (120, 880)


def test_firm_topics_metadata_times_the_whole_worker_process(tmp_path):
    """Wall time from the process's start (imports, model load included), so Dagster's share is the rest."""
    store, commit = _commit(tmp_path, sample_batches()["000"])
    summary = summarize_commit(store, commit, ["1", "2", "3"])
    timing = WorkerTiming(process_started_at=1000.0, batch_started_at=1001.25,
                          reported_at=1010.0)  # fmt: skip
    meta = firm_topics_metadata(summary, commit, store, {"total": 8.0}, timing)
    assert meta["worker_started_at"] == {"raw_value": 1000.0, "type": "timestamp"}
    assert meta["worker_wall_s"] == 10.0 and meta["worker_startup_s"] == 1.25
    assert meta["total_s"] == 8.0
    assert meta["firms_per_s"] == round(3 / 10.0, 3)  # over the whole process, as worker_wall_s
    assert not [k for k in meta if "seconds" in k]  # one naming scheme: seconds end in _s


def test_worker_timing_leaves_out_milestones_not_reached():
    meta = WorkerTiming(process_started_at=5.0).metadata()
    assert set(meta) == {"worker_started_at"}


def test_failures_metadata_and_checks(tmp_path):
    """A failed firm counts towards the failure rate; a skipped one (too little text) is reported apart."""
    firms = sample_batches()["001"][:2] + [Firm("6", "Zeta", error_class="InsufficientText"),
                                           Firm("7", "Theta", error_class="ValueError")]
    store, commit = _commit(tmp_path, firms)
    summary = summarize_commit(store, commit, ["4", "5", "6", "7"])
    assert (summary.firms_failed, summary.firms_skipped) == (1, 1)
    meta = failures_metadata(summary, commit, store)
    assert meta["failures"] == 1 and meta["failure_rate"] == 1 / 3  # of the 3 attempted: the skipped one is not
    assert meta["skipped"] == 1 and meta["skip_rate"] == 0.25
    assert meta["path"]["raw_value"].endswith("failures/quarter=2024Q4/batch_000_tok.parquet")

    cfg = WorkerConfig("2024Q4", "000", str(tmp_path), "r", policy=FailurePolicy(max_failure_rate=0.5))
    checks = {c["check_name"]: c for c in check_results(cfg, summary)}
    assert checks[C.CHECK_FAILURE_RATE]["passed"] is True
    assert checks[C.CHECK_ALL_FIRMS]["passed"] is True
    assert checks[C.CHECK_FIRMS_HAVE_TOPICS]["passed"] is True
    strict = WorkerConfig("2024Q4", "000", str(tmp_path), "r", policy=FailurePolicy(max_failure_rate=0.05))
    failed = {c["check_name"]: c for c in check_results(strict, summary)}[C.CHECK_FAILURE_RATE]
    assert failed["passed"] is False and "1 of 3 firms failed" in failed["metadata"]["verdict"]
    assert failed["metadata"]["firms_skipped"] == 1


def test_skipped_firms_alone_never_fail_the_rate_check(tmp_path):
    """A batch of stub transcripts (all skipped) passes the failure-rate check: the data, not a fault."""
    firms = [Firm(str(i), f"Stub {i}", error_class="InsufficientText") for i in range(4)]
    store, commit = _commit(tmp_path, firms + [Firm("9", "Real", {0: ["margins grew"] * 5})])
    summary = summarize_commit(store, commit, [f.firm_id for f in firms] + ["9"])
    check = {c["check_name"]: c for c in check_results(WorkerConfig("2024Q4", "000", "x", "r"), summary)}
    assert check[C.CHECK_FAILURE_RATE]["passed"] is True
    assert check[C.CHECK_FAILURE_RATE]["metadata"]["failure_rate"] == 0.0
    assert check[C.CHECK_ALL_FIRMS]["passed"] is True


def test_all_firms_check_names_a_firm_missing_from_the_output(tmp_path):
    store, commit = _commit(tmp_path, sample_batches()["001"])
    summary = summarize_commit(store, commit, ["4", "5", "6", "7"])
    check = {c["check_name"]: c for c in check_results(WorkerConfig("2024Q4", "000", "x", "r"), summary)}
    all_firms = check[C.CHECK_ALL_FIRMS]
    assert all_firms["passed"] is False
    assert all_firms["metadata"]["problems"]["raw_value"]["missing_firms"] == ["7"]


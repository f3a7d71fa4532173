"""A small demo quarter end to end through Dagster with the real worker (real model, real BERTopic):
outputs, schema, metadata, failures for bad firms, checks, sentence lookup, and re-materialization."""

import io
import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from ftm_assets import constants as C
from ftm_assets.readers import commit_records, read_failures, read_firm_topics, read_sentences, read_topic_sentences
from ftm_assets.schema import FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA
from ftm_assets.storage import open_storage
from ftm_assets.storage.manifest import read_batch
from ftm_assets_tests.support.pipeline import DemoWithBadFirms, build_test_definitions, run_quarter

QUARTER = "2024Q2"
BATCH_TAG = "dagster/partition/batch"  # the run tag Dagster sets for the batch dimension
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_quarter(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    env = {"FTM_STORAGE_ROOT": str(root), "FTM_LAST_QUARTER": "2024Q4", "FTM_BATCH_COUNT": "2"}
    defs, settings = build_test_definitions(env, DemoWithBadFirms(n_firms=4))
    with dg.DagsterInstance.ephemeral() as instance:
        run_quarter(defs, settings, QUARTER, instance)
        # The batch runs of this materialization, so a test can tell its events from those later tests add.
        batch_runs = {r.run_id: r.tags[BATCH_TAG] for r in instance.get_runs() if BATCH_TAG in r.tags}
        yield {"root": str(root), "defs": defs, "settings": settings, "instance": instance, "batch_runs": batch_runs}


def test_every_batch_committed_with_the_contract_schema(demo_quarter):
    root = demo_quarter["root"]
    records = commit_records(root, QUARTER)
    assert sorted(r.batch for r in records) == ["000", "001"]
    store = open_storage(root)
    for record in records:
        for key in record.firm_topics_parts:
            assert key.startswith(f"intermediate/firm-topics/quarter={QUARTER}/batch_{record.batch}_")
            parquet = pq.ParquetFile(io.BytesIO(store.read_bytes(key)))
            schema = parquet.schema_arrow
            assert schema.names == FIRM_TOPICS_SCHEMA.names and len(schema.names) == 14  # + centroid, stability
            assert schema.remove_metadata().equals(FIRM_TOPICS_SCHEMA.remove_metadata())
            meta = {k.decode(): v.decode() for k, v in schema.metadata.items() if k.startswith(b"ftm.")}
            assert "all-MiniLM-L6-v2" in meta["ftm.embedding_model"].replace("_", "-") or "minilm" in meta[
                "ftm.embedding_model"
            ].lower()
            assert json.loads(meta["ftm.params"])["random_seed"] == C.RANDOM_SEED
            assert meta["ftm.topic_method"] == C.TOPIC_METHOD
            assert "bertopic" in json.loads(meta["ftm.versions"])


def test_good_firms_have_topics_bad_firms_have_reasons(demo_quarter):
    topics = read_firm_topics(demo_quarter["root"], QUARTER)
    failures = read_failures(demo_quarter["root"], QUARTER)
    good = sorted(topics.firm_id.unique())
    assert good == ["18749", "19691", "21835", "24937"]  # the first four real Capital IQ ids of the demo
    real_topics = topics[topics.topic_id >= 0].groupby("firm_id").size()
    assert (real_topics >= 3).all(), real_topics
    assert topics.groupby(["firm_id", "topic_id"]).size().max() == 1  # one row per (firm, topic)
    assert (topics.quarter == QUARTER).all() and topics.processing_timestamp.notna().all()
    assert (topics.n_sentences == topics.sentence_ids.map(len)).all()
    reasons = dict(zip(failures.firm_id, failures.error_class))
    assert reasons == {"BAD-EMPTY": "EmptyTranscript", "BAD-SHORT": "InsufficientText"}
    short = failures.set_index("firm_id").loc["BAD-SHORT"]
    assert "at least 20" in short.message and short.n_sentences < 20


def test_sentence_ids_resolve_to_text(demo_quarter):
    resolved = read_topic_sentences(demo_quarter["root"], QUARTER)
    assert len(resolved) > 0 and resolved.text.notna().all()
    topics = read_firm_topics(demo_quarter["root"], QUARTER)
    assert len(resolved) == topics.n_sentences.sum()


def test_every_sentence_carries_its_tone(demo_quarter):
    """The worker fills the LM counts and the procedural flag of every sentence; tone_model is null (unset)."""
    root = demo_quarter["root"]
    store = open_storage(root)
    for record in commit_records(root, QUARTER):
        for key in record.sentences_parts:
            schema = pq.ParquetFile(io.BytesIO(store.read_bytes(key))).schema_arrow
            assert schema.remove_metadata().equals(SENTENCES_SCHEMA.remove_metadata())
    sentences = read_sentences(root, QUARTER)
    lm = ["procedural", "n_words", "lm_positive", "lm_negative", "lm_uncertainty"]
    assert sentences[lm].notna().all().all() and sentences.tone_model.isna().all()
    assert (sentences.n_words > 0).mean() > 0.99 and (sentences.lm_positive + sentences.lm_negative).sum() > 0
    assert 0 < sentences.procedural.mean() < 0.5


def _firm_topics_checks(instance: dg.DagsterInstance, batch_runs: dict[str, str]) -> dict[tuple[str, str], list]:
    """Check evaluations on firm_topics from ``batch_runs`` only, by (check name, batch).

    Checks reported through Pipes carry no partition: the run they came from says which batch.
    """
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=True
    )
    by_check: dict[tuple[str, str], list] = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if record.run_id in batch_runs and evaluation.asset_key == dg.AssetKey("firm_topics"):
            by_check.setdefault((evaluation.check_name, batch_runs[record.run_id]), []).append(evaluation)
    return by_check


def test_checks_report_the_failure_rate(demo_quarter):
    store = open_storage(demo_quarter["root"])
    by_check = _firm_topics_checks(demo_quarter["instance"], demo_quarter["batch_runs"])
    names = (C.CHECK_FAILURE_RATE, C.CHECK_ALL_FIRMS, C.CHECK_FIRMS_HAVE_TOPICS)
    assert sorted(by_check) == sorted((name, batch) for name in names for batch in ("000", "001"))
    assert all(len(evaluations) == 1 for evaluations in by_check.values())  # one per check and batch
    failures = read_failures(store, QUARTER)
    # BAD-EMPTY and BAD-SHORT have too little text: skipped, not failed, so no batch's failure rate moves.
    assert sorted(failures.firm_id) == ["BAD-EMPTY", "BAD-SHORT"] and set(failures.outcome) == {"skipped"}
    for batch in ("000", "001"):
        firms = read_batch(store, QUARTER, batch).firm_ids
        failed = int(((failures.batch == batch) & (failures.outcome == "failed")).sum())
        skipped = int(((failures.batch == batch) & (failures.outcome == "skipped")).sum())
        rate_check = by_check[(C.CHECK_FAILURE_RATE, batch)][0]
        assert rate_check.metadata["firms_failed"].value == failed
        assert rate_check.metadata["firms_skipped"].value == skipped
        assert rate_check.metadata["firms_processed"].value == len(firms) - skipped
        assert rate_check.metadata["failure_rate"].value == failed / (len(firms) - skipped)
        assert rate_check.passed == (failed / (len(firms) - skipped) <= C.MAX_FAILURE_RATE)
        assert rate_check.metadata["verdict"].value.startswith(f"{failed} of {len(firms) - skipped} firms failed")
        assert by_check[(C.CHECK_ALL_FIRMS, batch)][0].passed


def test_rematerializing_a_partition_replaces_its_output(demo_quarter):
    root, defs, instance = demo_quarter["root"], demo_quarter["defs"], demo_quarter["instance"]
    before = read_firm_topics(root, QUARTER).sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
    old_runs = {r.batch: r.run_id for r in commit_records(root, QUARTER)}
    job = defs.resolve_implicit_global_asset_job_def()
    key = dg.MultiPartitionKey({"quarter": QUARTER, "batch": "000"})
    result = job.execute_in_process(
        instance=instance, partition_key=key,
        asset_selection=[dg.AssetKey("firm_topics"), dg.AssetKey("firm_topic_failures")],
    )
    assert result.success
    after = read_firm_topics(root, QUARTER).sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
    new_runs = {r.batch: r.run_id for r in commit_records(root, QUARTER)}
    assert new_runs["000"] != old_runs["000"] and new_runs["001"] == old_runs["001"]
    assert len(after) == len(before)  # replaced, not appended
    cols = ["firm_id", "topic_id", "keywords", "sentence_ids"]
    assert after[cols].astype(str).equals(before[cols].astype(str))  # same input and seed, same topics
    parts = open_storage(root).list(f"intermediate/firm-topics/quarter={QUARTER}/")
    assert len(parts) == sum(len(r.firm_topics_parts) for r in commit_records(root, QUARTER))

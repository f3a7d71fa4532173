"""Stored embeddings through the real worker (model, run_batch, local root): a re-run with a new minimum topic
size embeds nothing and gives the topics of a run without the store; a failed run's embeddings serve the next
run although its checkpoint is discarded; a corrupt file is embedded again with a warning; the store off
neither reads nor keeps; and the files follow the commit discipline (named by the commit, the rest deleted)."""

import copy
import json
import logging
import threading

import pytest

from ftm_assets.readers import read_firm_topics
from ftm_assets.storage import LocalStorage, StorageError, layout
from ftm_assets.storage.commit import load_commit
from ftm_assets.transcripts.demo import demo_transcripts
from ftm_assets.worker.batch import run_batch
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.processor import FirmProcessor
from ftm_assets_tests.support.staging import stage_quarter

pytestmark = pytest.mark.slow
Q = "2024Q1"
LOG = logging.getLogger("test-embedding-reuse")
NEW_MIN_TOPIC_SIZE = 12  # FTM_MIN_TOPIC_SIZE: a topic setting, so a new inputs fingerprint and a full redo


@pytest.fixture(scope="module")
def model():
    """One processor (the model loaded once); each run gets a copy with its own settings."""
    return FirmProcessor(_cfg("/unused", "load"), LOG)


def _cfg(root, run_id, store=None, **topics) -> WorkerConfig:
    return WorkerConfig.from_extras({
        "quarter": Q, "batch": "000", "storage_root": str(root), "run_id": run_id, "checkpoint_every": 2,
        "topics": topics, "embedding": {"device": "cpu", "store": store},
    })


def _processor(model: FirmProcessor, fail_at: int | None = None):
    """A factory: the loaded model with the run's settings; ``fail_at``: a storage error on that firm."""
    def make(cfg, log):
        proc = copy.copy(model)
        proc.cfg, proc.log, proc.timings, proc._timings_lock = cfg, log, {}, threading.Lock()
        if fail_at is not None:
            def results(firms, quarter):
                for i, (firm, result) in enumerate(FirmProcessor.results(proc, firms, quarter)):
                    yield firm, (StorageError("the bucket went away") if i == fail_at else result)
                    if i == fail_at:
                        return
            proc.results = results
        return proc
    return make


def _root(tmp_path, name):
    store = LocalStorage(tmp_path / name)
    stage_quarter(store, Q, demo_transcripts(Q, n_firms=4))
    return store


def _run(store, model, run_id, fail_at=None, store_on=None, **topics):
    return run_batch(_cfg(store.root, run_id, store_on, **topics), store, LOG, _processor(model, fail_at))


def _topics(store) -> str:
    """Every column of firm_topics but the timestamp (centroids and stability included) as exact text."""
    frame = read_firm_topics(str(store.root), Q).drop(columns="processing_timestamp")
    frame = frame.sort_values(["firm_id", "topic_id"]).reset_index(drop=True)
    return json.dumps(frame.map(lambda v: v.tolist() if hasattr(v, "tolist") else v).to_dict("records"), default=str)


def _stored(store):
    return sorted(store.list(layout.embeddings_prefix(Q)))


def test_new_min_topic_size_reuses_every_vector_and_matches_a_run_without_the_store(tmp_path, model):
    store = _root(tmp_path, "with-store")
    first = _run(store, model, "first").commit
    assert first.counts["sentences_embedded"] == first.counts["sentences"] > 500
    assert first.counts["sentences_reused"] == 0
    assert len(first.embedding_parts) == 2 and _stored(store) == sorted(first.embedding_parts)
    before = _topics(store)

    again = _run(store, model, "again", hdbscan_min_cluster_size=NEW_MIN_TOPIC_SIZE).commit
    assert again.inputs_fingerprint != first.inputs_fingerprint  # a full redo of the topics...
    assert again.counts["sentences_embedded"] == 0  # ...without embedding a sentence
    assert again.counts["sentences_reused"] == first.counts["sentences"]
    assert "embed" not in again.seconds and again.embedding_parts == first.embedding_parts
    assert _stored(store) == sorted(first.embedding_parts)  # still named, so not deleted

    plain = _root(tmp_path, "without-store")
    fresh = _run(plain, model, "fresh", store_on=False, hdbscan_min_cluster_size=NEW_MIN_TOPIC_SIZE).commit
    assert fresh.embedding_parts == [] and _stored(plain) == [] and "sentences_embedded" not in fresh.counts
    assert _topics(store) != before  # the new setting changed the topics
    assert _topics(store) == _topics(plain)  # bit for bit, centroids included


def test_a_failed_runs_embeddings_serve_the_next_run_with_other_settings(tmp_path, model, caplog):
    store = _root(tmp_path, "root")
    broken = _run(store, model, "broken", fail_at=2)
    assert broken.error is not None and load_commit(store, Q, "000") is None
    checkpointed = broken.state.embedding_parts
    assert len(checkpointed) == 1 and broken.state.counts["sentences_embedded"] > 0

    with caplog.at_level(logging.INFO):
        after = _run(store, model, "after", hdbscan_min_cluster_size=NEW_MIN_TOPIC_SIZE).commit
    assert "Discarding the checkpoint of run broken" in caplog.text
    assert after.counts["sentences_reused"] == broken.state.counts["sentences_embedded"]  # the two firms done
    assert after.counts["sentences_embedded"] == after.counts["sentences"] - after.counts["sentences_reused"]
    assert after.embedding_parts[0] == checkpointed[0] and len(after.embedding_parts) == 2
    assert _stored(store) == sorted(after.embedding_parts)  # the failed run's file is kept: the commit names it


def test_a_corrupt_file_is_embedded_again_and_the_store_off_keeps_nothing(tmp_path, model, caplog):
    store = _root(tmp_path, "root")
    first = _run(store, model, "first").commit
    bad = first.embedding_parts[0]
    store.write_bytes(bad, store.read_bytes(bad)[:100])

    with caplog.at_level(logging.WARNING):
        again = _run(store, model, "again").commit
    assert store.uri(bad) in caplog.text and "embedded again" in caplog.text
    assert 0 < again.counts["sentences_embedded"] < again.counts["sentences"]
    assert bad not in again.embedding_parts and not store.exists(bad)  # unnamed, so deleted after the commit
    assert _topics(store) == _topics_of_run(tmp_path, model)

    off = _run(store, model, "off", store_on=False).commit
    assert off.embedding_parts == [] and _stored(store) == [] and "sentences_reused" not in off.counts


def _topics_of_run(tmp_path, model):
    """The same quarter on a fresh root without the store."""
    plain = _root(tmp_path, "plain")
    _run(plain, model, "plain", store_on=False)
    return _topics(plain)

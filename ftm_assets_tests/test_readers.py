"""Quarter-level readers: only committed batches, sentence_ids resolved to text, part URIs for duckdb."""

import pyarrow.parquet as pq
import pytest

from ftm_assets.readers import (
    committed_parts,
    read_failures,
    read_firm_topics,
    read_sentences,
    read_topic_sentences,
)
from ftm_assets.storage import LocalStorage
from ftm_assets_tests.support.committed_batches import sample_batches, write_batch

Q = "2024Q4"


@pytest.fixture()
def root(tmp_path):
    store = LocalStorage(tmp_path)
    batches = sample_batches()
    write_batch(store, Q, "000", batches["000"])
    write_batch(store, Q, "001", batches["001"])
    return str(tmp_path)


def test_a_quarter_reads_every_committed_batch(root):
    topics = read_firm_topics(root, Q)
    assert sorted(topics.firm_id.unique()) == ["1", "2", "3", "4", "5"]
    assert len(topics) == 3 + 3 + 1 + 1 + 2
    assert list(read_failures(root, Q).firm_id) == ["6"]
    assert len(read_sentences(root, Q)) == topics.n_sentences.sum()


def test_an_uncommitted_batch_is_not_read(tmp_path):
    store = LocalStorage(tmp_path)
    batches = sample_batches()
    write_batch(store, Q, "000", batches["000"])
    write_batch(store, Q, "001", batches["001"], commit=False)  # parts on disk, no commit record
    assert sorted(read_firm_topics(store, Q).firm_id.unique()) == ["1", "2", "3"]
    assert read_failures(store, Q).empty


def test_with_text_resolves_sentence_ids_in_order(root):
    topics = read_firm_topics(root, Q, with_text=True)
    beta = topics[(topics.firm_id == "2") & (topics.topic_id == 1)].iloc[0]
    assert list(beta.sentence_ids) == [9, 10, 11, 12]
    assert beta.sentences == ["pricing held"] * 4


def test_topic_sentences_has_one_row_per_sentence(root):
    rows = read_topic_sentences(root, Q)
    assert len(rows) == read_firm_topics(root, Q).n_sentences.sum()
    alpha_capex = rows[(rows.firm_id == "1") & (rows.topic_id == 1)]
    assert set(alpha_capex.text) == {"capex is up"} and len(alpha_capex) == 3


def test_committed_parts_are_readable_paths(root):
    parts = committed_parts(root, Q)
    assert len(parts) == 2 and all(p.startswith(root) for p in parts)
    assert sum(pq.read_metadata(p).num_rows for p in parts) == len(read_firm_topics(root, Q))
    assert [p.rsplit("/", 1)[-1] for p in committed_parts(root, Q, "failures")] == ["batch_000.parquet",
                                                                                     "batch_001.parquet"]
    with pytest.raises(ValueError, match="Unknown output 'topics'"):
        committed_parts(root, Q, "topics")  # type: ignore[arg-type]


def test_an_empty_quarter_reads_as_empty_frames_with_columns(tmp_path):
    topics = read_firm_topics(str(tmp_path), "2023Q1", with_text=True)
    assert topics.empty and "sentence_ids" in topics.columns and "sentences" in topics.columns

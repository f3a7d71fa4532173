"""Quarter-level readers: only committed batches that match the manifest, quarters as ranges or lists,
strict mode naming missing or stale batches, sentence_ids resolved to text, part URIs for duckdb."""

import json
import warnings

import pyarrow.parquet as pq
import pytest

from ftm_assets.readers import (
    IncompleteOutputError,
    IncompleteOutputWarning,
    commit_records,
    committed_parts,
    quarter_commits,
    read_failures,
    read_firm_topics,
    read_sentences,
    read_topic_sentences,
    stale_commits,
)
from ftm_assets.storage import LocalStorage
from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets_tests.support.committed_batches import Firm, sample_batches, write_batch, write_manifest_for

Q = "2024Q4"


def _write_quarter(store, quarter, batches, commit=("000", "001")):
    write_manifest_for(store, quarter, batches)
    for batch, firms in batches.items():
        write_batch(store, quarter, batch, firms, commit=batch in commit, batch_count=len(batches))


@pytest.fixture()
def root(tmp_path):
    _write_quarter(LocalStorage(tmp_path), Q, sample_batches())
    return str(tmp_path)


def test_a_quarter_reads_every_committed_batch(root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete quarter reads without a warning
        topics = read_firm_topics(root, Q)
        failures = read_failures(root, Q)
    assert sorted(topics.firm_id.unique()) == ["1", "2", "3", "4", "5"]
    assert len(topics) == 3 + 3 + 1 + 1 + 2
    assert list(failures.firm_id) == ["6"] and list(failures.outcome) == ["failed"]
    assert len(read_sentences(root, Q)) == topics.n_sentences.sum()
    assert [r.batch for r in commit_records(root, Q)] == ["000", "001"]


def test_an_uncommitted_batch_is_not_read_and_is_named(tmp_path):
    store = LocalStorage(tmp_path)
    _write_quarter(store, Q, sample_batches(), commit=("000",))  # 001: parts on disk, no commit record
    with pytest.warns(IncompleteOutputWarning, match=f"{Q} batch 001: not materialized"):
        topics = read_firm_topics(store, Q)
    assert sorted(topics.firm_id.unique()) == ["1", "2", "3"]
    with pytest.raises(IncompleteOutputError, match=f"{Q} batch 001: not materialized"):
        read_failures(store, Q, strict=True)


def test_a_range_of_quarters_reads_each_quarter_once(tmp_path):
    store = LocalStorage(tmp_path)
    for quarter in ("2024Q2", "2024Q3", "2024Q4"):
        _write_quarter(store, quarter, sample_batches())
    topics = read_firm_topics(store, "2024Q2:2024Q4", with_text=True)
    assert topics.groupby("quarter").firm_id.nunique().to_dict() == {"2024Q2": 5, "2024Q3": 5, "2024Q4": 5}
    assert topics.sentences.map(lambda texts: None not in texts).all()
    same = read_firm_topics(store, ["2024Q4", "2024Q2", "2024Q3"])
    assert len(same) == len(topics)
    with pytest.raises(IncompleteOutputError, match="2025Q1: no firm manifest"):
        read_firm_topics(store, "2024Q4:2025Q1", strict=True)


def test_commits_of_another_batch_count_are_stale_and_not_read(tmp_path):
    """2 -> 3 batches, only the new batch 002 materialized: no firm twice, 000 and 001 named as stale."""
    store = LocalStorage(tmp_path)
    _write_quarter(store, Q, sample_batches())
    firms = [f for fs in sample_batches().values() for f in fs]
    entries = assign_batches(Q, [f.firm_id for f in firms], 3)
    write_manifest(store, Q, entries)
    new = next(e for e in entries if e.batch == "002")
    write_batch(store, Q, "002", [f for f in firms if f.firm_id in new.firm_ids], batch_count=3)
    with pytest.warns(IncompleteOutputWarning, match="stale") as caught:
        topics = read_firm_topics(store, Q)
    assert not topics.duplicated(["firm_id", "topic_id"]).any()
    assert set(topics.firm_id) == set(new.firm_ids) - {"6"}
    message = str(caught[0].message)
    assert "batch 000" in message and "batch 001" in message and "made for 2 batches" in message
    state = quarter_commits(store, Q)
    assert [r.batch for r in state.current] == ["002"] and not state.complete
    assert sorted(s.record.batch for s in stale_commits(store, Q)) == ["000", "001"]
    with pytest.raises(IncompleteOutputError, match="stale"):
        read_firm_topics(store, Q, strict=True)


def test_a_commit_for_another_firm_list_is_stale(tmp_path):
    store = LocalStorage(tmp_path)
    batches = sample_batches()
    _write_quarter(store, Q, batches)
    batches["000"].append(Firm("7", "Eta", {0: ["new firm"] * 3}))
    write_manifest_for(store, Q, batches)  # same count, batch 000 gained a firm
    (stale,) = stale_commits(store, Q)
    assert stale.record.batch == "000" and "firm list differs" in stale.reason


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
    assert [p.rsplit("/", 1)[-1] for p in committed_parts(root, Q, "failures")] == ["batch_000_tok.parquet",
                                                                                     "batch_001_tok.parquet"]
    with pytest.raises(ValueError, match="Unknown output 'topics'"):
        committed_parts(root, Q, "topics")  # type: ignore[arg-type]


def test_an_empty_quarter_reads_as_empty_frames_with_columns(tmp_path):
    with pytest.warns(IncompleteOutputWarning, match="no firm manifest"):
        topics = read_firm_topics(str(tmp_path), "2023Q1", with_text=True)
    assert topics.empty and "sentence_ids" in topics.columns and "sentences" in topics.columns


def test_a_record_from_before_manifest_fingerprints_is_stale(root):
    """A commit record written by an older version (no batch count, no fingerprint) is named, not read."""
    store = LocalStorage(root)
    key = "progress/2024Q4/batch_000_commit.json"
    old = json.loads(store.read_text(key))
    for field in ("batch_count", "manifest_fingerprint", "inputs_fingerprint", "token"):
        old.pop(field)
    store.write_text(key, json.dumps(old))
    (stale,) = stale_commits(root, Q)
    assert stale.record.batch == "000" and "predates manifest fingerprints" in stale.reason
    with pytest.warns(IncompleteOutputWarning, match="batch 000"):
        assert set(read_firm_topics(root, Q).firm_id) == {"4", "5"}


def test_the_package_keeps_every_public_reader_name():
    """``ftm_assets.readers`` is a package of lower modules; users' ``from ftm_assets.readers import …`` still
    works for every reader, themes included, and each name is the lower module's own object."""
    import ftm_assets.readers as readers
    from ftm_assets.readers import themes, topics

    public = {"read_firm_topics", "read_firm_topics_table", "read_sentences", "read_topic_sentences", "read_failures",
              "commit_records", "committed_parts", "quarter_commits", "stale_commits", "IncompleteOutputError",
              "IncompleteOutputWarning", "read_themes", "read_theme_exposure", "read_sentence_themes",
              "ThemesNotMaterialized"}
    assert set(readers.__all__) == public
    for name in public:
        home = themes if hasattr(themes, name) else topics
        assert getattr(readers, name) is getattr(home, name), name


def test_sentences_written_before_the_tone_columns_read_back_with_nulls(tmp_path):
    """A sentences part from before the tone columns (only the first 7) reads with them null, beside a new part."""
    store = LocalStorage(tmp_path)
    _write_quarter(store, Q, sample_batches())
    old, new = committed_parts(store, Q, "sentences")
    table = pq.read_table(old)
    pq.write_table(table.select(table.column_names[:7]), old)  # "text" is the last column of the old layout
    sentences = read_sentences(store, Q)
    tone = ["procedural", "n_words", "lm_positive", "lm_negative", "lm_uncertainty", "tone_model"]
    assert set(tone) <= set(sentences.columns)
    n_old = pq.read_table(old).num_rows
    assert n_old and sentences[tone].iloc[:n_old].isna().all().all()
    assert len(sentences) == n_old + pq.read_table(new).num_rows

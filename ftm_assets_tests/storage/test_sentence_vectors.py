"""Stored sentence embeddings found from the sentences table: by the firm's call key, in sentence_id order;
firms without a stored span are reported missing, a file that is gone raises."""

import numpy as np
import pandas as pd
import pytest

from ftm_assets.storage import LocalStorage, StorageError
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.storage.embeddings import EmbeddingIdentity, FirmVectors, call_key, encode_file, text_hash
from ftm_assets.storage.sentence_vectors import batch_vectors

IDENTITY = EmbeddingIdentity("m", "0", "test", "fp16", "cpu", 1, "{}")


def _firm(texts, seed):
    hashes = [text_hash(t) for t in texts]
    return FirmVectors(call_key(hashes), hashes, np.random.default_rng(seed).normal(size=(len(texts), 4)).astype(np.float16))


def _record(parts):
    return CommitRecord("run", "2024Q1", "000", "now", [], [], "f", 2, embedding_parts=parts)


def _sentences(firm, texts):
    return pd.DataFrame({"firm_id": firm, "sentence_id": range(len(texts)), "text": texts})


def test_vectors_follow_the_sentences_table_order_and_unknown_firms_are_missing(tmp_path):
    store = LocalStorage(tmp_path)
    a, b = ["one a", "two a", "three a"], ["one b", "two b"]
    fa, fb = _firm(a, 1), _firm(b, 2)
    store.write_bytes("e1.parquet", encode_file([fb], IDENTITY))
    store.write_bytes("e2.parquet", encode_file([fa], IDENTITY))
    store.write_bytes("bad.parquet", b"not parquet")  # not an embeddings file: counts as absent
    rows = pd.concat([_sentences("B", b), _sentences("A", a), _sentences("C", ["other text"])]).sample(frac=1, random_state=0)
    out = batch_vectors(store, _record(["bad.parquet", "e1.parquet", "e2.parquet"]), rows)
    assert out.sentences[["firm_id", "sentence_id"]].values.tolist() == [["A", 0], ["A", 1], ["A", 2], ["B", 0], ["B", 1]]
    np.testing.assert_array_equal(out.vectors, np.concatenate([fa.vectors, fb.vectors]).astype(np.float32))
    assert out.missing_firms == ["C"]


def test_a_changed_sentence_list_is_missing_not_misread(tmp_path):
    store = LocalStorage(tmp_path)
    store.write_bytes("e.parquet", encode_file([_firm(["one", "two"], 1)], IDENTITY))
    out = batch_vectors(store, _record(["e.parquet"]), _sentences("A", ["one", "two", "three"]))
    assert out.missing_firms == ["A"] and len(out.sentences) == 0


def test_a_file_deleted_by_a_newer_commit_raises(tmp_path):
    with pytest.raises(StorageError):
        batch_vectors(LocalStorage(tmp_path), _record(["gone.parquet"]), _sentences("A", ["one"]))

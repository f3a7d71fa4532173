"""Stored embeddings without a model: the file round trip, the keys, the identity, the lookup's refusals
(another identity, another sentence list, a missing or corrupt file) and commit records without the field."""

import json
import logging
import shutil
from dataclasses import replace

import numpy as np
import pytest

from ftm_assets.storage import LocalStorage, layout
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.storage.embeddings import (
    EmbeddingFileError,
    EmbeddingIdentity,
    FirmVectors,
    call_key,
    decode_file,
    encode_file,
    model_fingerprint,
    text_hash,
)
from ftm_assets.worker.embedding_store import EmbeddingStore, candidate_files
from ftm_assets.worker.model.embed import resolve_model_path
from ftm_assets.worker.outputs import BatchState

Q = "2024Q1"
LOG = logging.getLogger("test-embeddings")
IDENTITY = EmbeddingIdentity("all-MiniLM-L6-v2", "abc", "onnx", "fp32", "cpu", 64, '{"onnxruntime": "1"}')


def _firm(texts: list[str], seed: int) -> FirmVectors:
    hashes = [text_hash(t) for t in texts]
    vectors = np.random.default_rng(seed).standard_normal((len(texts), 8)).astype(np.float16)
    return FirmVectors(call_key(hashes), hashes, vectors)


def _keys(firm: FirmVectors) -> tuple[bytes, list[bytes]]:
    """What a lookup is asked with: the call key and the sentence keys."""
    return firm.call, firm.sentences


@pytest.fixture
def stored(tmp_path):
    """Two files of one partition: firms a, b in part 0, firm c (a repeated sentence) in part 1."""
    store = LocalStorage(tmp_path)
    firms = {"a": _firm(["one", "two", "three"], 1), "b": _firm(["four", "five"], 2),
             "c": _firm(["six", "six", "seven"], 3)}
    keys = [layout.embeddings_part(Q, "000", "tok", i) for i in range(2)]
    store.write_bytes(keys[0], encode_file([firms["a"], firms["b"]], IDENTITY))
    store.write_bytes(keys[1], encode_file([firms["c"]], IDENTITY))
    return store, firms, keys


def test_file_round_trip_keeps_every_bit():
    firms = [_firm(["x", "y"], 5), _firm(["z"], 6)]
    back = decode_file(encode_file(firms, IDENTITY))
    assert back.identity == IDENTITY
    assert back.vectors.dtype == np.float16 and back.vectors.tobytes() == b"".join(f.vectors.tobytes() for f in firms)
    assert back.spans() == {firms[0].call: (0, 2), firms[1].call: (2, 1)}
    assert decode_file(encode_file(firms, IDENTITY), keys_only=True).vectors is None


def test_keys_follow_text_and_order():
    assert text_hash("Revenue grew.") != text_hash("Revenue grew!") and len(text_hash("a")) == 16
    a, b = text_hash("a"), text_hash("b")
    assert call_key([a, b]) != call_key([b, a]) and call_key([a, b]) == call_key([a, b])


def test_fingerprint_changes_with_config_and_weights(tmp_path):
    model = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(resolve_model_path(None), model)
    first = model_fingerprint(str(model))
    assert first == model_fingerprint(resolve_model_path(None))  # where the folder lies does not matter
    (model / "config.json").write_text((model / "config.json").read_text().replace("}", ' , "x": 1}', 1))
    second = model_fingerprint(str(model))
    weights = bytearray((model / "model.safetensors").read_bytes())
    weights[-100] ^= 1  # same size, past the first MB: not seen (cheap by design); the first MB is
    weights[5000] ^= 1
    (model / "model.safetensors").write_bytes(bytes(weights))
    assert len({first, second, model_fingerprint(str(model))}) == 3


def test_lookup_gives_a_firms_exact_vectors_and_their_file(stored):
    store, firms, keys = stored
    lookups = EmbeddingStore(store, keys, LOG)
    hit = lookups.lookup(IDENTITY, *_keys(firms["c"]))
    assert hit.source == keys[1] and hit.vectors.tobytes() == firms["c"].vectors.tobytes()
    assert lookups.lookup(IDENTITY, *_keys(firms["a"])).source == keys[0]
    changed = _firm(["one", "two", "three", "four"], 1)  # one sentence more: a new list, embedded whole
    assert lookups.lookup(IDENTITY, *_keys(changed)) is None


@pytest.mark.parametrize("field,value", [("model", "other-model"), ("fingerprint", "def"), ("backend", "torch"),
                                         ("precision", "int8"), ("device", "cuda"), ("batch_size", 32),
                                         ("runtimes", '{"onnxruntime": "2"}'), ("batching", "tokens<=2048")])
def test_another_identity_is_never_reused(stored, caplog, field, value):
    store, firms, keys = stored
    with caplog.at_level(logging.INFO):
        assert EmbeddingStore(store, keys, LOG).lookup(replace(IDENTITY, **{field: value}), *_keys(firms["a"])) is None
    assert "made by another model or embedder" in caplog.text


def test_a_call_key_with_other_sentences_is_not_trusted(tmp_path):
    store = LocalStorage(tmp_path)
    firm = _firm(["one", "two"], 1)
    forged = FirmVectors(firm.call, [text_hash("uno"), text_hash("dos")], firm.vectors)
    key = layout.embeddings_part(Q, "000", "tok", 0)
    store.write_bytes(key, encode_file([forged], IDENTITY))
    assert EmbeddingStore(store, [key], LOG).lookup(IDENTITY, *_keys(firm)) is None


def test_missing_or_corrupt_files_warn_and_miss(stored, caplog):
    store, firms, keys = stored
    store.write_bytes(keys[0], store.read_bytes(keys[0])[:200])  # truncated
    gone = layout.embeddings_part(Q, "000", "gone", 0)
    with caplog.at_level(logging.WARNING):
        lookups = EmbeddingStore(store, [gone, *keys], LOG)
        assert lookups.lookup(IDENTITY, *_keys(firms["a"])) is None
        assert lookups.lookup(IDENTITY, *_keys(firms["c"])).source == keys[1]  # the good file still serves
    assert store.uri(keys[0]) in caplog.text and store.uri(gone) in caplog.text
    with pytest.raises(EmbeddingFileError):
        decode_file(b"not parquet")


def test_vectors_read_after_the_keys_can_fail_too(stored, caplog):
    """A file that vanishes between the key scan and the firm that needs it: a miss and a warning."""
    store, firms, keys = stored
    lookups = EmbeddingStore(store, keys, LOG)
    assert lookups.lookup(IDENTITY, *_keys(firms["c"])) is not None  # keys of both files read
    store.delete(keys[0])
    with caplog.at_level(logging.WARNING):
        assert lookups.lookup(IDENTITY, *_keys(firms["a"])) is None
        assert lookups.lookup(IDENTITY, *_keys(firms["b"])) is None  # the file is forgotten, not re-read
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and store.uri(keys[0]) in warnings[0]


def test_candidates_are_the_checkpoints_then_the_commits():
    state = BatchState("r", Q, "000", embedding_parts=["p1"], embedding_carried=["c1", "p1"])
    record = CommitRecord("r0", Q, "000", "t", [], [], "f", 0, embedding_parts=["old", "c1"])
    assert candidate_files(record, state) == ["p1", "c1", "old"]
    assert candidate_files(None, None) == []


def test_commit_records_without_embeddings_still_load():
    data = json.loads(CommitRecord("r", Q, "000", "t", ["a"], ["b"], "f", 1).to_json())
    del data["embedding_parts"]  # a record written before stored embeddings
    record = CommitRecord.from_json(json.dumps(data))
    assert record.embedding_parts == [] and record.files == ["a", "b", "f"]


def test_an_identity_recorded_before_the_batching_field_reads_as_count_batches():
    old = json.loads(IDENTITY.to_json())
    del old["batching"]
    assert EmbeddingIdentity.from_json(json.dumps(old)) == IDENTITY
    assert IDENTITY.batching == "count"

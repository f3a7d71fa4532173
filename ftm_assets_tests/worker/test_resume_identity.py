"""What a checkpoint and stored embeddings are tied to (issue 26, scenarios 7, 8, 10): a new package or library
version, or a model edited without changing any file's size, never resumes next to old parts; pooling or
sequence-length edits and the GPU model change the embedding identity; an identical re-upload of the raw
transcripts (a new mtime, the same bytes) keeps the checkpoint."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import ftm_assets.versions as versions_module
from ftm_assets.storage import LocalStorage, StorageError, layout
from ftm_assets.storage.embeddings import EmbeddingIdentity
from ftm_assets.worker.batch import BatchInputs, run_batch
from ftm_assets.worker.model.embed import device_name
from ftm_assets.worker_config import WorkerConfig
from ftm_assets_tests.support.scripted_processor import scripted
from ftm_assets_tests.support.staging import firm_rows, rows_table, stage_quarter

Q = "2024Q1"
FIRMS = [f"f{i}" for i in range(1, 7)]
LOG = logging.getLogger("test-resume-identity")
POOLING_MEAN = {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}
POOLING_CLS = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}


def _model(folder: Path, pooling: dict, max_seq_length: int) -> str:
    """A sentence-transformers-shaped model folder (the weights are bytes: only their identity matters)."""
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 384}))
    (folder / "model.safetensors").write_bytes(b"\0" * 4096)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    return str(folder)


@pytest.fixture
def staged(tmp_path, monkeypatch):
    monkeypatch.setenv("FTM_HASH_CACHE", str(tmp_path / "hashes.json"))
    store = LocalStorage(tmp_path / "root")
    stage_quarter(store, Q, rows_table([r for f in FIRMS for r in firm_rows(Q, f, [f"Words of {f}."])]))
    return store


def _cfg(store, run_id, model: str | None = None, tone_model: str | None = None):
    extras = {"quarter": Q, "batch": "000", "storage_root": store.root, "run_id": run_id, "checkpoint_every": 1,
              "policy": {"max_consecutive_failures": 99, "min_processed_for_rate": 10_000}}
    embedding = {k: v for k, v in (("model", model), ("tone_model", tone_model)) if v}
    if embedding:
        extras["embedding"] = embedding
    return WorkerConfig.from_extras(extras)


def _fail_after_two(store, cfg) -> None:
    outcome = run_batch(cfg, store, LOG, scripted({"f3": StorageError("down")}))
    assert outcome.error is not None and outcome.state.firms_done == ["f1", "f2"]


def test_a_new_library_version_does_not_resume_old_parts(staged, monkeypatch):
    """Scenario 7: a fixed image (another torch) starts over instead of committing old-version parts beside new."""
    _fail_after_two(staged, _cfg(staged, "run-1"))
    real = versions_module.importlib_metadata.version
    monkeypatch.setattr(versions_module.importlib_metadata, "version",
                        lambda dist: "99.0" if dist == "torch" else real(dist))
    second = scripted()
    outcome = run_batch(_cfg(staged, "run-2"), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS


def test_a_model_edited_without_changing_file_sizes_does_not_resume(staged, tmp_path):
    model = _model(tmp_path / "model", POOLING_MEAN, 256)
    _fail_after_two(staged, _cfg(staged, "run-1", model))
    _model(tmp_path / "model", POOLING_CLS, 128)  # same sizes, other vectors
    second = scripted()
    outcome = run_batch(_cfg(staged, "run-2", model), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS


def test_setting_or_editing_the_tone_model_does_not_resume(staged, tmp_path):
    """FTM_TONE_MODEL fills tone_model: a run with it set, or with its weights edited, starts over."""
    tone = tmp_path / "tone"
    tone.mkdir()
    (tone / "config.json").write_text(json.dumps({"id2label": {"0": "positive", "1": "negative"}}))
    (tone / "model.safetensors").write_bytes(b"\0" * 64)
    _fail_after_two(staged, _cfg(staged, "run-1"))
    set_now = scripted({"f3": StorageError("down")})
    run_batch(_cfg(staged, "run-2", tone_model=str(tone)), staged, LOG, set_now)
    assert set_now.seen == FIRMS[:3]  # not resumed after f2: started over at f1
    (tone / "model.safetensors").write_bytes(b"\1" * 64)  # same size, other weights
    edited = scripted()
    outcome = run_batch(_cfg(staged, "run-3", tone_model=str(tone)), staged, LOG, edited)
    assert outcome.error is None and edited.seen == FIRMS


def test_pooling_and_sequence_length_change_the_embedding_identity(tmp_path, monkeypatch):
    """Scenario 8: mean -> CLS pooling and max_seq_length 256 -> 128 keep every file's size."""
    monkeypatch.setenv("FTM_HASH_CACHE", str(tmp_path / "hashes.json"))
    model = _model(tmp_path / "model", POOLING_MEAN, 256)
    before = EmbeddingIdentity.of(model, "torch", "fp32", "cpu", 64)
    _model(tmp_path / "model", POOLING_CLS, 128)
    after = EmbeddingIdentity.of(model, "torch", "fp32", "cpu", 64)
    assert before != after


def test_two_gpu_models_do_not_share_stored_vectors(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    model = _model(tmp_path / "model", POOLING_MEAN, 256)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    t4 = EmbeddingIdentity.of(model, "torch", "fp16", device_name("cuda"), 64)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA A10G")
    a10g = EmbeddingIdentity.of(model, "torch", "fp16", device_name("cuda"), 64)
    assert t4 != a10g and "A10G" in a10g.device


def test_an_identical_re_upload_of_the_raw_transcripts_keeps_the_checkpoint(staged):
    """Scenario 10: `make run` uploads the raw transcripts again (same bytes, new mtime); the run resumes."""
    _fail_after_two(staged, _cfg(staged, "run-1"))
    before = BatchInputs.read(staged, _cfg(staged, "run-1")).fingerprint
    key = layout.raw_transcripts_part(Q)
    data = staged.read_bytes(key)
    staged.write_bytes(key, data)
    later = time.time() + 60
    os.utime(staged.uri(key), (later, later))
    assert BatchInputs.read(staged, _cfg(staged, "run-1")).fingerprint == before
    second = scripted()
    outcome = run_batch(_cfg(staged, "run-2"), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS[2:]


def test_changed_raw_transcripts_still_start_over(staged):
    _fail_after_two(staged, _cfg(staged, "run-1"))
    key = layout.raw_transcripts_part(Q)
    table = pq.read_table(io.BytesIO(staged.read_bytes(key)))
    stage_quarter(staged, Q, table.slice(0, table.num_rows - 1))  # one firm fewer: other content
    second = scripted()
    outcome = run_batch(_cfg(staged, "run-2"), staged, LOG, second)
    assert outcome.error is None and second.seen == FIRMS[:-1]

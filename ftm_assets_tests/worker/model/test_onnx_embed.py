"""The ONNX embedder started from a warm cache: no torch or sentence-transformers imported, the folder's
tokenizer gives transformers' token ids, and the embeddings equal those of the torch-loaded encoder bit for bit
(demo firms and real Earnings-22 calls); thread counts and device detection without torch."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftm_assets.worker.model import onnx_embed
from ftm_assets.worker.model.embed import Embedder, resolve_model_path
from ftm_assets_tests.support.earnings22 import requires_earnings22

pytestmark = pytest.mark.skipif(not onnx_embed.available(), reason="onnxruntime/onnx not installed")

REAL_CALLS = 6


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder holding the packaged model's export (made once, by the torch path)."""
    folder = tmp_path_factory.mktemp("onnx")
    Embedder(resolve_model_path(None), "cpu", batch_size=32, backend="onnx", onnx_cache_dir=str(folder))
    return folder


@pytest.fixture(scope="module")
def st_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model_path(None), device="cpu")


def _sentences(firms) -> list[str]:
    from ftm_assets.worker.segment import segment

    return [s.text for f in firms for s in segment(f.components, min_words=4)]


def test_folder_model_reads_what_sentence_transformers_loads(st_model):
    folder = onnx_embed.FolderModel.read(resolve_model_path(None))
    assert folder is not None
    assert folder.max_seq_length == st_model.max_seq_length == 256
    assert folder.dim == st_model.get_embedding_dimension() == 384


def test_folder_model_refuses_what_it_cannot_reproduce(tmp_path):
    import json
    import shutil

    assert onnx_embed.FolderModel.read(str(tmp_path / "missing")) is None
    copy = tmp_path / "model"
    shutil.copytree(resolve_model_path(None), copy, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert onnx_embed.FolderModel.read(str(copy)) is None  # CLS pooling: the torch path handles it
    pooling.write_text(json.dumps(config))
    assert onnx_embed.FolderModel.read(str(copy)) is not None
    (copy / "tokenizer.json").unlink()
    assert onnx_embed.FolderModel.read(str(copy)) is None


def test_cold_cache_gives_no_encoder(tmp_path):
    assert onnx_embed.OnnxEncoder.from_cache(resolve_model_path(None), 32, cache_dir=tmp_path) is None


def _compare(sentences: list[str], st_model, warm_cache) -> None:
    """The cached encoder as the worker starts it vs the same graph fed by transformers' tokenizer."""
    path = resolve_model_path(None)
    light = Embedder(path, "cpu", batch_size=32, backend="onnx", onnx_cache_dir=str(warm_cache))
    assert light.model is None and isinstance(light.onnx.tokenizer, onnx_embed.FolderTokenizer)
    reference = onnx_embed.OnnxEncoder.from_cache(path, 32, threads=light.onnx.session.get_session_options()
                                                  .intra_op_num_threads, cache_dir=warm_cache)  # fmt: skip
    reference.tokenizer = st_model.tokenizer  # what OnnxEncoder tokenised with before
    for start in range(0, len(sentences), 32):
        batch = sentences[start : start + 32]
        ours, theirs = light.onnx.feeds(batch), reference.feeds(batch)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert np.array_equal(ours[key], theirs[key]), (key, batch)
    assert np.array_equal(light.encode(sentences), reference.encode(sentences))


@pytest.mark.slow
def test_embeddings_equal_on_demo_firms(st_model, warm_cache):
    from benchmarks.corpora import demo_firms

    sentences = _sentences(demo_firms(6))
    sentences += ["", "   ", "Ünïcödé — “quotes” and émojis 🚀 in 2024’s Q4.", "word " * 400]  # edge cases:
    # empty, blank, non-ASCII, and a sentence longer than max_seq_length (truncated)
    _compare(sentences, st_model, warm_cache)


@pytest.mark.slow
@requires_earnings22
def test_embeddings_equal_on_real_calls(st_model, warm_cache):
    from benchmarks.corpora import real_firms

    _compare(_sentences(real_firms(limit=REAL_CALLS)), st_model, warm_cache)


def test_thread_count_changes_no_number(warm_cache):
    from benchmarks.corpora import demo_firms

    sentences = _sentences(demo_firms(2))[:200]
    path = resolve_model_path(None)
    one = onnx_embed.OnnxEncoder.from_cache(path, 32, threads=1, cache_dir=warm_cache).encode(sentences)
    two = onnx_embed.OnnxEncoder.from_cache(path, 32, threads=2, cache_dir=warm_cache).encode(sentences)
    assert np.array_equal(one, two)


def test_warm_start_imports_no_torch(warm_cache):
    """The worker's ONNX path on a warm cache, device detection included: no torch, sentence-transformers or
    transformers."""
    code = textwrap.dedent(
        f"""
        import sys
        from ftm_assets.worker.model.embed import (
            Embedder, choose_backend, gpu_driver_present, resolve_device, resolve_model_path,
        )

        device = "cpu" if gpu_driver_present() else resolve_device("auto")  # auto: no torch to find no GPU
        backend, precision = choose_backend("onnx", None, device)
        emb = Embedder(resolve_model_path(None), device, 32, precision, backend, onnx_cache_dir={str(warm_cache)!r})
        out = emb.encode(["Revenue grew eleven percent.", "Margins widened on lower costs."])
        assert out.shape == (2, 384), out.shape
        print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_default_threads_follow_the_environment_then_physical_cores(tmp_path):
    assert onnx_embed.default_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert onnx_embed.default_threads({"OMP_NUM_THREADS": "", "MKL_NUM_THREADS": "5"}) == 5
    cpuinfo = tmp_path / "cpuinfo"
    blocks = [f"processor\t: {i}\nphysical id\t: {i // 4}\ncore id\t\t: {(i % 4) // 2}\n" for i in range(8)]
    cpuinfo.write_text("\n".join(blocks))
    assert onnx_embed.physical_cores(cpuinfo) == 4  # 2 packages x 2 cores x 2 hyperthreads
    assert onnx_embed.physical_cores(tmp_path / "absent") is None


def test_threads_match_torchs_default():
    """Where no thread variable is set, the count torch would have handed ONNX Runtime before."""
    import torch

    if any(os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        pytest.skip("a thread variable is set: both follow it")
    assert onnx_embed.default_threads() == torch.get_num_threads()


def test_token_budget_batches_give_each_sentence_its_own_vector(warm_cache):
    """Issue 29: batches cut at a token budget within the call change only padding, so only the last bits."""
    from benchmarks.corpora import demo_firms

    sentences = _sentences(demo_firms(1))[:120] + ["word " * 400]  # one longer than max_seq_length
    path = resolve_model_path(None)
    by_count = Embedder(path, "cpu", batch_size=32, backend="onnx", onnx_cache_dir=str(warm_cache))
    by_tokens = Embedder(path, "cpu", batch_size=32, backend="onnx", onnx_cache_dir=str(warm_cache), token_budget=512)
    assert (by_count.batching, by_tokens.batching) == ("count", "tokens<=512")
    lengths = by_tokens.token_lengths(sentences)
    assert lengths[-1] == by_tokens.onnx.max_length and min(lengths) >= 3
    a, b = by_count.encode(sentences), by_tokens.encode(sentences)
    assert a.shape == b.shape and (a * b).sum(axis=1).min() > 0.99999
    assert np.array_equal(b, by_tokens.encode(sentences))  # the same call, the same numbers

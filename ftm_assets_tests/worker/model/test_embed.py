"""Embedding precision choice per machine, and the real model's output contract (unit fp32 rows)."""

import numpy as np
import pytest

from ftm_assets.worker.model import onnx_embed
from ftm_assets.worker.model.embed import (
    Embedder, choose_backend, cpu_has_native_bf16, resolve_device, resolve_model_path, resolve_precision,
)


def test_auto_precision_follows_the_hardware():
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision(None, "cpu", native_bf16=True) == "bf16"
    assert resolve_precision("auto", "cpu", native_bf16=False) == "fp32"
    assert resolve_precision(" FP32 ", "cpu", native_bf16=True) == "fp32"
    assert resolve_precision("bf16", "cpu", native_bf16=False) == "bf16"  # explicit wins, even if slow


def test_bad_precisions_say_what_is_allowed():
    with pytest.raises(ValueError, match="auto, fp32, bf16, fp16, int8"):
        resolve_precision("int4", "cpu")
    with pytest.raises(ValueError, match="int8 runs on ONNX Runtime"):
        resolve_precision("int8", "cpu")  # torch's own int8 is too lossy: int8 means ONNX Runtime
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_precision("fp16", "cpu")


def test_unknown_device_names_the_variable():
    with pytest.raises(ValueError, match="FTM_DEVICE='gpu' is not one of auto, cpu, cuda"):
        resolve_device("gpu")
    assert resolve_device("cpu") == "cpu"


def test_native_bf16_detected_from_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_native_bf16(info)
    info.write_text("processor: 0\nflags\t\t: fpu sse avx2\n")
    assert not cpu_has_native_bf16(info)
    assert not cpu_has_native_bf16(tmp_path / "missing")


@pytest.mark.slow
def test_real_model_gives_unit_fp32_rows_and_bf16_stays_close():
    sentences = [
        "Cloud revenue grew thirty percent this quarter.",
        "Our data center business saw record demand.",
        "We expect gross margin to improve next year.",
    ]
    fp32 = Embedder(resolve_model_path(None), "cpu", batch_size=8, precision="fp32")
    a = fp32.encode(sentences)
    assert a.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, fp32.encode(sentences))  # deterministic
    b = Embedder(resolve_model_path(None), "cpu", batch_size=8, precision="bf16").encode(sentences)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.99


def test_backend_choice_is_the_fastest_that_keeps_quality():
    cpu = {"onnx_ok": True, "native_bf16": False}
    assert choose_backend(None, None, "cpu", **cpu) == ("onnx", "fp32")  # AVX2: int8 misses the topic bar
    assert choose_backend(None, None, "cpu", onnx_ok=True, native_bf16=True) == ("torch", "bf16")
    assert choose_backend("auto", "auto", "cpu", onnx_ok=False, native_bf16=True) == ("torch", "bf16")
    assert choose_backend("auto", "auto", "cpu", onnx_ok=False, native_bf16=False) == ("torch", "fp32")
    assert choose_backend("auto", "fp32", "cpu", **cpu) == ("torch", "fp32")  # the reference, asked for
    assert choose_backend("auto", "bf16", "cpu", **cpu) == ("torch", "bf16")  # asked for bf16: torch
    assert choose_backend("auto", "int8", "cpu", onnx_ok=True, native_bf16=True) == ("onnx", "int8")
    assert choose_backend("onnx", None, "cpu", **cpu) == ("onnx", "fp32")
    assert choose_backend(None, "int8", "cpu", **cpu) == ("onnx", "int8")  # speed over topics, asked for
    assert choose_backend("onnx", "fp32", "cpu", **cpu) == ("onnx", "fp32")
    assert choose_backend("torch", None, "cpu", **cpu) == ("torch", "fp32")
    assert choose_backend("auto", None, "cuda", **cpu) == ("torch", "fp16")


def test_impossible_backend_requests_say_why():
    with pytest.raises(ValueError, match="needs the packages onnxruntime and onnx"):
        choose_backend("onnx", None, "cpu", onnx_ok=False)
    with pytest.raises(ValueError, match="needs the packages onnxruntime and onnx"):
        choose_backend("auto", "int8", "cpu", onnx_ok=False, native_bf16=False)
    with pytest.raises(ValueError, match="runs fp32 or int8 weights"):
        choose_backend("onnx", "bf16", "cpu", onnx_ok=True)
    with pytest.raises(ValueError, match="CPU only"):
        choose_backend("onnx", None, "cuda", onnx_ok=True)
    with pytest.raises(ValueError, match="runs on ONNX Runtime on CPU"):
        choose_backend("torch", "int8", "cpu", onnx_ok=True)
    with pytest.raises(ValueError, match="runs on ONNX Runtime on CPU"):
        choose_backend("auto", "int8", "cuda", onnx_ok=True)
    with pytest.raises(ValueError, match="auto, torch, onnx"):
        choose_backend("tensorrt", None, "cpu")
    with pytest.raises(ValueError, match="auto, fp32, bf16, fp16, int8"):
        choose_backend("auto", "int4", "cpu")


@pytest.mark.slow
@pytest.mark.skipif(not onnx_embed.available(), reason="onnxruntime/onnx not installed (`make install` installs them)")
def test_onnx_matches_torch_fp32_and_exports_once(tmp_path):
    sentences = [f"Segment {i} revenue grew {i} percent on strong demand for our cloud services." for i in range(70)]
    sentences += ["Short one here.", "We expect margins to expand next year as costs fall."]
    path = resolve_model_path(None)
    ref = Embedder(path, "cpu", batch_size=32, precision="fp32").encode(sentences)
    fast = Embedder(path, "cpu", batch_size=32, precision="fp32", backend="onnx", onnx_cache_dir=tmp_path)
    loaded_with = Embedder(path, "cpu", batch_size=32).model[0].auto_model.config._attn_implementation
    out = fast.encode(sentences)
    assert out.shape == ref.shape and out.dtype == np.float32
    assert float((ref * out).sum(axis=1).min()) > 0.9999  # same weights, fused kernels: lossless
    exported = list(tmp_path.glob("*.onnx"))
    assert len(exported) == 1 and not list(tmp_path.glob("*.tmp"))
    import onnx

    ops = [node.op_type for node in onnx.load(str(exported[0])).graph.node]
    # Eager attention: a softmax per layer, and none of SDPA's per-layer NaN guards (Where on IsNaN).
    assert ops.count("Softmax") == 6 and "IsNaN" not in ops and ops.count("Where") < 6  # mask set-up only
    assert fast.model[0].auto_model.config._attn_implementation == loaded_with  # torch's own model untouched
    mtime = exported[0].stat().st_mtime_ns
    Embedder(path, "cpu", batch_size=32, precision="fp32", backend="onnx", onnx_cache_dir=tmp_path)  # reused
    assert exported[0].stat().st_mtime_ns == mtime and len(list(tmp_path.glob("*.onnx"))) == 1


@pytest.mark.slow
@pytest.mark.skipif(not onnx_embed.available(), reason="onnxruntime/onnx not installed (`make install` installs them)")
def test_onnx_int8_is_quantized_and_close_to_fp32_on_real_sentences(tmp_path):
    """int8 weights: cosine mean >= 0.99 against torch fp32 on real call sentences, built once per machine."""
    from benchmarks.corpora import real_firms, demo_firms
    from ftm_assets.worker.segment import segment

    firms = real_firms(limit=2) or demo_firms(3)
    sentences = [s.text for f in firms for s in segment(f.components, min_words=4)][:400]
    path = resolve_model_path(None)
    ref = Embedder(path, "cpu", batch_size=32, precision="fp32").encode(sentences)
    int8 = Embedder(path, "cpu", batch_size=32, precision="int8", backend="onnx", onnx_cache_dir=tmp_path)
    out = int8.encode(sentences)
    cosine = (ref * out).sum(axis=1)
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert cosine.mean() >= 0.992 and cosine.min() > 0.9, (cosine.mean(), cosine.min())
    assert cosine.mean() < 0.99999  # really quantized, not the fp32 graph under another name
    quantized = list(tmp_path.glob("*-int8-*.onnx"))
    assert len(quantized) == 1 and len(list(tmp_path.glob("*.onnx"))) == 2  # beside the fp32 export
    fp32_file = [p for p in tmp_path.glob("*.onnx") if p != quantized[0]][0]
    # The 47 MB word-embedding table stays fp32; all 36 weight matrices (but 8 channels each FFN) shrink four-fold.
    assert quantized[0].stat().st_size < 0.8 * fp32_file.stat().st_size
    mtime = quantized[0].stat().st_mtime_ns
    Embedder(path, "cpu", batch_size=32, precision="int8", backend="onnx", onnx_cache_dir=tmp_path)  # reused
    assert quantized[0].stat().st_mtime_ns == mtime and not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
@pytest.mark.skipif(not onnx_embed.available(), reason="onnxruntime/onnx not installed (`make install` installs them)")
def test_two_jobs_quantizing_at_once_both_get_the_model(tmp_path):
    """Batch jobs start together on a fresh machine: neither may trip over the other's temporary files."""
    from concurrent.futures import ThreadPoolExecutor

    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(None)
    model = SentenceTransformer(path, device="cpu")
    fp32 = onnx_embed.export(model, path, folder=tmp_path)

    def tokenize(sentences):
        return {k: v.astype(np.int64) for k, v in model.tokenizer(sentences, padding=True, return_tensors="np").items()}

    with ThreadPoolExecutor(max_workers=2) as pool:
        made = list(pool.map(lambda _: onnx_embed.quantize(fp32, tokenize), range(2)))
    assert made[0] == made[1] and made[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fp32.name, made[0].name])  # nothing left over

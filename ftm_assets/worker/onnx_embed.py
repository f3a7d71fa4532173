"""The sentence-transformer run by ONNX Runtime, in fp32 or with int8 weights (``embed.choose_backend``).

fp32: the same weights, embeddings equal to torch's to cosine >= 0.9999, ~1.15-1.2x torch's speed on a
2-core AVX2 EPYC. int8: the weight matrices quantized per output channel, activations quantized per batch
at run time (ONNX Runtime's dynamic quantization, no calibration data), except each layer's feed-forward
output projection (the GELU outputs it reads have outliers a per-tensor int8 scale cannot hold): ~1.45x
torch fp32 at cosine mean 0.994, and topics that agree with the fp32 reference as well as fp32 ONNX's do
(per-firm ARI 0.61 vs 0.62 on 12 real calls, against a seed-to-seed floor of 0.67). Quantizing those
projections too is ~1.7-1.85x but drifts further (cosine 0.990-0.992, ARI 0.51), below the floor.
Both models are built once per machine into ``FTM_ONNX_CACHE_DIR`` (default ``~/.cache/ftm/onnx``),
keyed by the model folder and the library versions, and reused by every later job. Needs ``onnxruntime``
to run and ``onnx`` to export; without them the worker stays on torch (``available()`` says so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
ONNX_PRECISIONS = ("fp32", "int8")
# Weight MatMuls left unquantized (see above): each layer's FFN output, not the attention's output dense.
KEPT_IN_FP32 = re.compile(r"/layer\.\d+/output/dense/MatMul$")


def available() -> bool:
    """onnxruntime to run, onnx for torch's exporter."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir() -> Path:
    return Path(os.environ.get("FTM_ONNX_CACHE_DIR") or Path.home() / ".cache" / "ftm" / "onnx")


def supports(st_model) -> bool:
    """Only the shape we reproduce exactly: a BERT-like transformer, mean pooling, optional normalisation."""
    names = [type(m).__name__ for m in st_model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    return getattr(st_model[1], "pooling_mode", "mean") == "mean"


def _model_key(model_path: str) -> str:
    versions = [importlib_metadata.version(d) for d in ("torch", "transformers", "onnx", "onnxruntime")]
    stamp = [model_path, *versions, str(OPSET)]
    weights = sorted(Path(model_path).glob("*.safetensors")) + sorted(Path(model_path).glob("*.bin"))
    stamp += [f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]


def export(st_model, model_path: str, folder: Path | None = None) -> Path:
    """The model's ONNX file, exported on first use (atomically: a crashed export leaves nothing)."""
    import torch

    folder = folder or cache_dir()
    target = folder / f"{Path(model_path).name or 'model'}-{_model_key(model_path)}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    bert = st_model[0].auto_model.float().eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = st_model.tokenizer(["a short sample sentence", "another"], padding=True, return_tensors="pt")
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on branches that are constant for an encoder's mask
            torch.onnx.export(
                LastHidden(bert),
                tuple(sample[k] for k in INPUTS),
                tmp,
                dynamo=False,
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "last_hidden_state")},
                opset_version=OPSET,
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def quantize(fp32_path: Path) -> Path:
    """The int8 model beside the fp32 one, made on first use (atomically, like ``export``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = hashlib.sha256(KEPT_IN_FP32.pattern.encode()).hexdigest()[:8]  # a new recipe, a new file
    target = fp32_path.with_name(f"{fp32_path.stem}-int8-{recipe}.onnx")
    if target.exists():
        return target
    # Handed over in memory: given a path, the quantizer writes its shape-inferred copy beside it under a
    # fixed name, and two jobs quantizing at once on one machine delete each other's copy.
    model = onnx.load(str(fp32_path))
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    kept = [
        n.name for n in graph.node
        if n.op_type == "MatMul" and KEPT_IN_FP32.search(n.name) and set(n.input) & weights
    ]  # fmt: skip
    fd, tmp = tempfile.mkstemp(dir=fp32_path.parent, suffix=".onnx.tmp")
    os.close(fd)
    hint = _DropMessages("pre-processing before quantization")  # advice for static quantization, not ours
    logging.getLogger().addFilter(hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                model, tmp, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul"], nodes_to_exclude=kept, extra_options={"MatMulConstBOnly": True},
            )  # fmt: skip
        os.replace(tmp, target)
    finally:
        logging.getLogger().removeFilter(hint)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


class _DropMessages(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


class OnnxEncoder:
    """Tokenise with the model's own tokenizer, run the exported graph, mean-pool, normalise."""

    def __init__(
        self, st_model, model_path: str, batch_size: int, threads: int | None = None, precision: str = "fp32"
    ):
        import onnxruntime as ort

        if not supports(st_model):
            raise ValueError(f"{model_path}: only transformer + mean pooling models run on ONNX here.")
        if precision not in ONNX_PRECISIONS:
            raise ValueError(f"ONNX precision {precision!r} is not one of {', '.join(ONNX_PRECISIONS)}.")
        self.path = export(st_model, model_path)
        if precision == "int8":
            self.path = quantize(self.path)
        self.precision = precision
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = st_model.tokenizer
        self.max_length = st_model.max_seq_length
        self.batch_size = batch_size
        dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
        self.dim = dim()

    def encode(self, sentences: list[str]) -> np.ndarray:
        """Longest first, as sentence-transformers does, so each batch pads to similar lengths."""
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        for start in range(0, len(sentences), self.batch_size):
            idx = order[start : start + self.batch_size]
            tok = self.tokenizer(
                [sentences[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                return_tensors="np",
            )  # fmt: skip
            feeds = {k: tok[k].astype(np.int64) for k in INPUTS if k in tok}
            if "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            hidden = self.session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

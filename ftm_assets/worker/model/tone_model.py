"""The optional tone classifier (``FTM_TONE_MODEL``): a local Hugging Face sequence-classification model, e.g.
FinBERT saved with ``save_pretrained``, scoring each sentence P(positive) - P(negative) in [-1, 1].

It runs in the worker beside the embedder, on the same device (GPU when present), batched, in eval mode and
without gradients. Which output is positive and which negative is read from the model's own ``id2label`` by
name (case-insensitive: "positive"/"Positive"), never by position, since FinBERT releases order their labels
differently; a third label (neutral) takes the remaining probability. The folder must exist (the worker never
downloads a model); its content fingerprint joins the batch's resume identity and the files' metadata, as the
embedder's does, so another model refits instead of resuming beside the old one's scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ftm_assets.worker.env import apply_process_defaults

BATCH_SIZE = 32  # sentences per forward pass (earnings-call sentences are short: ~25 tokens)
MAX_LENGTH = 128  # tokens: longer sentences are truncated (FinBERT was trained on sentences of this size)


class ToneModelError(RuntimeError):
    """FTM_TONE_MODEL is set but unusable (missing folder, no positive/negative label): fails the job at start."""


def resolve_tone_model(configured: str | None) -> str | None:
    """The tone model's folder, or None when FTM_TONE_MODEL is unset; a missing folder fails here, naming it."""
    if not configured:
        return None
    if not Path(configured).is_dir():
        raise ToneModelError(
            f"Tone model folder {configured} does not exist (FTM_TONE_MODEL): set it to a local folder holding a "
            "Hugging Face sequence-classification model saved with save_pretrained, or unset it for LM tone only."
        )
    return configured


def tone_model_fingerprint(path: str | None) -> str:
    """The model folder's content fingerprint (as the embedder's), or "none" when no classifier is set."""
    from ftm_assets.storage.embeddings import model_fingerprint

    return "none" if path is None else model_fingerprint(path)


def label_indices(id2label: dict) -> tuple[int, int]:
    """``(positive, negative)`` output indices, found by label name; an error names the labels found."""
    by_name = {str(label).strip().lower(): int(index) for index, label in id2label.items()}
    if "positive" not in by_name or "negative" not in by_name:
        raise ToneModelError(
            f"The tone model's labels are {sorted(str(v) for v in id2label.values())}: it needs a 'positive' and "
            "a 'negative' label (case-insensitive) in its config's id2label."
        )
    return by_name["positive"], by_name["negative"]


class ToneClassifier:
    """Loads the model once per job; ``score(texts)`` returns P(positive) - P(negative) per text (float32)."""

    def __init__(self, path: str, device: str, batch_size: int = BATCH_SIZE, max_length: int = MAX_LENGTH):
        apply_process_defaults()  # never download: the folder is all there is
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.path = path
        self.device = device
        self.batch_size = batch_size
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ToneModelError(f"Tone model folder {path} (FTM_TONE_MODEL) could not be loaded: {exc}") from exc
        self.positive, self.negative = label_indices(self.model.config.id2label)
        # Truncate to what the model can take as well: a smaller model's position table ends before MAX_LENGTH.
        limits = (getattr(self.model.config, "max_position_embeddings", None), self.tokenizer.model_max_length)
        self.max_length = min([max_length, *(n for n in limits if isinstance(n, int) and n > 0)])
        self.model.to(device).eval()
        self._torch = torch

    def score(self, texts: list[str]) -> np.ndarray:
        """P(positive) - P(negative) per text, in input order, each in [-1, 1]."""
        torch = self._torch
        out = np.empty(len(texts), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start:start + self.batch_size]
                encoded = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                         return_tensors="pt").to(self.device)
                probs = torch.softmax(self.model(**encoded).logits.float(), dim=-1)
                out[start:start + len(chunk)] = (probs[:, self.positive] - probs[:, self.negative]).cpu().numpy()
        return out

"""The naive baseline the worker is measured against: per firm, encode in fp32, then fit, as the seed did.

The same segmentation and the same topic method and parameters as the worker (``fit_topics(lean=False)``: for
the UMAP method, plain BERTopic as the seed ran it), so the scheduling, the embedder and the lean fit are what
differ. It also refits with other seeds, to measure the reference's own noise, and with the seed's UMAP
method, to report the old floor beside the new.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ftm_assets.worker_config import TopicParams
from ftm_assets.worker.model.embed import resolve_model_path
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.segment import segment
from ftm_assets.worker.model.topic_model import fit_topics


def assignments(topics, n: int) -> np.ndarray:
    """Per-sentence topic id from a list of ``Topic`` (or topic rows)."""
    out = np.full(n, -2, dtype=int)
    for t in topics:
        tid, ids = (t["topic_id"], t["sentence_ids"]) if isinstance(t, dict) else (t.topic_id, t.sentence_ids)
        out[list(ids)] = tid
    return out


@dataclass
class NaiveRun:
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    assignments: dict[str, np.ndarray] = field(default_factory=dict)


class NaiveBaseline:
    """A bare fp32 ``SentenceTransformer`` and BERTopic, one firm after the other."""

    def __init__(self, params: TopicParams, model_path: str | None = None, device: str = "cpu"):
        import torch
        from sentence_transformers import SentenceTransformer

        self.params = params
        # fp32 whatever the weights were saved in (the GPU bundle ships them in fp16): the seed's precision
        self.model = SentenceTransformer(resolve_model_path(model_path), device=device).to(torch.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=self.params.embedding_batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    def run(self, firms: list[FirmInput], into: NaiveRun) -> None:
        for firm in firms:
            t0 = time.perf_counter()
            sentences = segment(firm.components, min_words=self.params.min_sentence_words)
            texts = [s.text for s in sentences]
            if len(texts) < self.params.min_sentences:
                continue
            t_e = time.perf_counter()
            emb = self.encode(texts)
            into.embed_seconds += time.perf_counter() - t_e
            topics = fit_topics(texts, emb, self.params, use_gpu=False, lean=False, groups=_groups(sentences))
            into.seconds += time.perf_counter() - t0
            into.embeddings[firm.firm_id] = emb
            into.assignments[firm.firm_id] = assignments(topics, len(texts))

    def refit_with_seed(
        self, firm: FirmInput, emb: np.ndarray, seed: int, *, lean: bool = False, method: str | None = None
    ) -> np.ndarray:
        """The topic fit of ``emb`` with another seed (and optionally another method): the reference's or ours."""
        sentences = segment(firm.components, min_words=self.params.min_sentence_words)
        texts = [s.text for s in sentences]
        params = dataclasses.replace(self.params, random_seed=seed, topic_method=method or self.params.topic_method)
        topics = fit_topics(texts, emb, params, use_gpu=False, lean=lean, groups=_groups(sentences))
        return assignments(topics, len(texts))


def _groups(sentences) -> list[tuple]:
    """Each sentence's component, as the worker's processor passes it to ``fit_topics``."""
    return [(s.call_id, s.component_order) for s in sentences]

"""Turns firms into topic and sentence rows: loads the models once per job, then one firm at a time.

``FirmProcessor.results(firms)`` yields ``(firm, FirmResult | Exception)`` in input order; the batch
loop only consumes it, so how the work is scheduled (overlapping embedding and fitting, say) stays here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata as importlib_metadata

from ftm_assets import __version__
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.embed import Embedder, resolve_device, resolve_model_path
from ftm_assets.worker.failures import EmptyTranscript, InsufficientText
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.outputs import now_utc
from ftm_assets.worker.segment import segment
from ftm_assets.worker.topic_model import fit_topics, gpu_backend_available


def library_versions() -> dict[str, str]:
    out = {"ftm_assets": __version__}
    for dist in ("bertopic", "sentence-transformers", "umap-learn", "hdbscan", "torch", "scikit-learn", "cuml-cu11"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class FirmResult:
    topic_rows: list[dict]
    sentence_rows: list[dict]
    n_sentences: int


class FirmProcessor:
    """Loads the model once per job, then turns one firm's components into topic and sentence rows."""

    def __init__(self, cfg: WorkerConfig, log: logging.Logger):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.model_path = resolve_model_path(cfg.embedding_model)
        self.use_gpu = self.device == "cuda" and gpu_backend_available()
        log.info(
            f"Loading embedding model {self.model_path} on {self.device}; "
            f"topic model on {'GPU (cuML)' if self.use_gpu else 'CPU (umap-learn + hdbscan)'}."
        )
        self.embedder = Embedder(self.model_path, self.device, cfg.topics.embedding_batch_size)
        self.timings: dict[str, float] = {}

    def file_metadata(self) -> dict[str, str]:
        return {
            "ftm.embedding_model": self.model_path,
            "ftm.device": self.device,
            "ftm.topic_backend": "cuml" if self.use_gpu else "umap-learn+hdbscan",
            "ftm.random_seed": str(self.cfg.topics.random_seed),
            "ftm.params": json.dumps(self.cfg.topics.__dict__, sort_keys=True),
            "ftm.versions": json.dumps(library_versions(), sort_keys=True),
        }

    def _timed(self, stage: str, fn: Callable, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def process(self, firm: FirmInput, quarter: str) -> FirmResult:
        params = self.cfg.topics
        if not any((c.text or "").strip() for c in firm.components):
            raise EmptyTranscript(f"Firm {firm.firm_id} has no transcript text in {quarter}.")
        sentences = self._timed("segment", segment, firm.components, min_words=params.min_sentence_words)
        if len(sentences) < params.min_sentences:
            raise InsufficientText(
                f"Firm {firm.firm_id} has {len(sentences)} usable sentences in {quarter} (after dropping operator "
                f"lines and sentences under {params.min_sentence_words} words); at least {params.min_sentences} "
                "are needed to fit a topic model.",
                n_sentences=len(sentences),
            )
        texts = [s.text for s in sentences]
        embeddings = self._timed("embed", self.embedder.encode, texts)
        topics = self._timed("fit", lambda: fit_topics(texts, embeddings, params, use_gpu=self.use_gpu))
        stamp = now_utc()
        topic_rows = [
            {
                "firm_id": firm.firm_id,
                "firm_name": firm.firm_name,
                "quarter": quarter,
                "permno": firm.permno,
                "gvkey": firm.gvkey,
                "earnings_call_date": firm.earnings_call_date,
                "topic_id": t.topic_id,
                "representation": t.representation,
                "keywords": t.keywords,
                "n_sentences": len(t.sentence_ids),
                "sentence_ids": t.sentence_ids,
                "processing_timestamp": stamp,
            }
            for t in topics
        ]
        sentence_rows = [
            {
                "quarter": quarter,
                "firm_id": firm.firm_id,
                "sentence_id": s.sentence_id,
                "call_id": s.call_id,
                "component_order": s.component_order,
                "speaker_type": s.speaker_type,
                "text": s.text,
            }
            for s in sentences
        ]
        return FirmResult(topic_rows, sentence_rows, len(sentences))

    def results(self, firms: Iterable[FirmInput], quarter: str) -> Iterator[tuple[FirmInput, FirmResult | Exception]]:
        """Each firm with its result, or with the exception that stopped it (the caller classifies it)."""
        for firm in firms:
            try:
                yield firm, self.process(firm, quarter)
            except Exception as exc:
                yield firm, exc

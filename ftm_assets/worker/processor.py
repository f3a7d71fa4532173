"""Turns firms into topic and sentence rows: loads the models once per job, then streams the firms.

``FirmProcessor.results(firms)`` yields ``(firm, FirmResult | Exception)`` in input order; the batch loop
only consumes it. How the work is scheduled stays here: segmenting and embedding the next firm run in a
background thread while this firm's topic model fits (``prefetch``), which roughly hides the fit
behind the embedding on a multi-core CPU. ``cfg.embedding.pipeline_depth`` (``FTM_PIPELINE_DEPTH``, default
1; 0 = one firm at a time) sets how many firms are prepared ahead; each holds only its sentences and their
embeddings (~0.5 MB).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata as importlib_metadata

import numpy as np

from ftm_assets import __version__
from ftm_assets import constants as C
from ftm_assets.storage.embeddings import EmbeddingIdentity, FirmVectors, call_key, text_hash
from ftm_assets.worker.config import WorkerConfig
from ftm_assets.worker.embedding_store import EmbeddingStore, EmbeddingUse
from ftm_assets.worker.model.embed import Embedder, choose_backend, resolve_device, resolve_model_path
from ftm_assets.worker.failures import EmptyTranscript, InsufficientText
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.outputs import now_utc
from ftm_assets.worker.prefetch import prefetch
from ftm_assets.worker.segment import Sentence, segment
from ftm_assets.worker.model.topic_model import fit_topics, gpu_backend_available


def library_versions() -> dict[str, str]:
    out = {"ftm_assets": __version__}
    dists = ("bertopic", "sentence-transformers", "umap-learn", "hdbscan", "torch", "scikit-learn", "onnxruntime", "cuml-cu11")
    for dist in dists:
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


def topic_backend(method: str, use_gpu: bool) -> str:
    """What fits the topics: scipy's Ward on CPU (the default, also on GPU machines), or UMAP + HDBSCAN."""
    if method == "ward":
        return "scipy-ward"
    return "cuml" if use_gpu else "umap-learn+hdbscan"


@dataclass
class FirmResult:
    topic_rows: list[dict]
    sentence_rows: list[dict]
    n_sentences: int
    embedding_use: EmbeddingUse | None = None  # PreparedFirm's, passed through: what the batch stores/names


@dataclass
class PreparedFirm:
    """A firm's sentences and their embeddings: what the background thread hands to the fit."""

    sentences: list[Sentence]
    embeddings: np.ndarray  # fp16-rounded, as float32: the same numbers whether embedded now or stored
    embedding_use: EmbeddingUse | None = None  # embedded or reused, and what to store (None: no store)


def topic_centroids(embeddings: np.ndarray, topics) -> dict[int, list[float]]:
    """Each topic's L2-normalised mean sentence embedding (none for -1), so themes never re-embed."""
    out: dict[int, list[float]] = {}
    for t in topics:
        if t.topic_id < 0 or not t.sentence_ids:
            continue
        mean = embeddings[np.asarray(t.sentence_ids)].astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(mean)
        out[t.topic_id] = (mean / norm if norm > 0 else mean).astype(np.float32).tolist()
    return out


class FirmProcessor:
    """Loads the models once per job, then turns firms' components into topic and sentence rows."""

    def __init__(self, cfg: WorkerConfig, log: logging.Logger):
        self.cfg = cfg
        self.log = log
        settings = cfg.embedding  # None: the default in constants
        self.device = resolve_device(settings.device or C.DEVICE)
        self.model_path = resolve_model_path(settings.model)
        self.backend, self.precision = choose_backend(settings.backend, settings.precision, self.device)
        self.pipeline_depth = C.PIPELINE_DEPTH if settings.pipeline_depth is None else settings.pipeline_depth
        # cuML is looked for only on CUDA; umap (and its JIT cache) only where a fit uses it (topic_model).
        self.use_gpu = self.device == "cuda" and gpu_backend_available()
        log.info(
            f"Loading embedding model {self.model_path} on {self.device} ({self.backend}, {self.precision}); "
            f"topic model: {topic_backend(cfg.topics.topic_method, self.use_gpu)}; "
            f"{self.pipeline_depth} firm(s) embedded ahead of the fit."
        )
        self.embedder = Embedder(
            self.model_path, self.device, cfg.topics.embedding_batch_size, self.precision, self.backend,
            onnx_cache_dir=settings.onnx_cache_dir,
        )
        self.timings: dict[str, float] = {}
        self._timings_lock = threading.Lock()
        self.embedding_store: EmbeddingStore | None = None  # set by the batch loop unless FTM_EMBEDDING_STORE=off

    def file_metadata(self) -> dict[str, str]:
        return {
            "ftm.embedding_model": self.model_path,
            "ftm.embedding_precision": self.precision,
            "ftm.embedding_backend": self.backend,
            "ftm.device": self.device,
            "ftm.topic_backend": topic_backend(self.cfg.topics.topic_method, self.use_gpu),
            "ftm.random_seed": str(self.cfg.topics.random_seed),
            "ftm.params": json.dumps(self.cfg.topics.__dict__, sort_keys=True),
            "ftm.pipeline_depth": str(self.pipeline_depth),
            "ftm.versions": json.dumps(library_versions(), sort_keys=True),
        }

    def _timed(self, stage: str, fn: Callable, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - t0
            with self._timings_lock:  # stages run in two threads
                self.timings[stage] = self.timings.get(stage, 0.0) + elapsed

    def prepare(self, firm: FirmInput, quarter: str) -> PreparedFirm:
        """Segment and embed one firm (the part that runs ahead, in the background thread)."""
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
        embeddings, use = self.embed([s.text for s in sentences])
        return PreparedFirm(sentences, embeddings, use)

    @cached_property
    def embedding_identity(self) -> EmbeddingIdentity:
        """What stored vectors must have been made with to be reused here."""
        return EmbeddingIdentity.of(self.model_path, self.backend, self.precision, self.device,
                                    self.cfg.topics.embedding_batch_size)

    def embed(self, texts: list[str]) -> tuple[np.ndarray, EmbeddingUse | None]:
        """The firm's embeddings rounded to fp16 (from the store when this exact sentence list is there).

        Every fit sees fp16-rounded vectors, so a firm's topics are the same whether its vectors were
        computed now or read back from the store.
        """
        store = self.embedding_store
        if store is not None:
            hashes = [text_hash(t) for t in texts]
            call = call_key(hashes)
            hit = self._timed("embed_lookup", store.lookup, self.embedding_identity, call, hashes)
            if hit is not None:
                return hit.vectors.astype(np.float32), EmbeddingUse(None, hit.source, 0, len(texts))
        rounded = self._timed("embed", self.embedder.encode, texts).astype(np.float16)
        if store is None:
            return rounded.astype(np.float32), None
        new = FirmVectors(call, hashes, rounded)
        return rounded.astype(np.float32), EmbeddingUse(new, None, len(texts), 0, self.embedding_identity)

    def finish(self, firm: FirmInput, quarter: str, prepared: PreparedFirm) -> FirmResult:
        """Fit the firm's topic model and build its output rows."""
        sentences = prepared.sentences
        texts = [s.text for s in sentences]
        topics = self._timed(
            "fit",
            lambda: fit_topics(
                texts, prepared.embeddings, self.cfg.topics, use_gpu=self.use_gpu,
                groups=[(s.call_id, s.component_order) for s in sentences],
            ),
        )  # fmt: skip
        stamp = now_utc()
        centroids = topic_centroids(prepared.embeddings, topics)
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
                "centroid": centroids.get(t.topic_id),
                "processing_timestamp": stamp,
                "stability": t.stability,
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
        return FirmResult(topic_rows, sentence_rows, len(sentences), prepared.embedding_use)

    def results(self, firms: Iterable[FirmInput], quarter: str) -> Iterator[tuple[FirmInput, FirmResult | Exception]]:
        """Each firm with its result, or with the exception that stopped it (the caller classifies it)."""
        ahead = prefetch(firms, lambda firm: self.prepare(firm, quarter), depth=self.pipeline_depth)
        try:
            for firm, prepared in ahead:
                if isinstance(prepared, Exception):
                    yield firm, prepared
                    continue
                try:
                    result: FirmResult | Exception = self.finish(firm, quarter, prepared)
                except Exception as exc:
                    result = exc
                yield firm, result
        finally:
            ahead.close()  # stops the background thread when the consumer stops early or raises

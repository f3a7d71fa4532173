"""What every worker of a deployment is told: failure policy, checkpoint cadence, topic-model parameters.

``worker_config`` builds the ``WorkerConfig`` that travels to the worker in the Pipes extras, so the checks in
Dagster and the worker use the same numbers. Each field's default and bounds are those declared on the
``WorkerConfig`` field of the same name (``worker_config.bounded``), validated here by pydantic when the
code location loads.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import dagster as dg
from pydantic import Field, field_validator

from ftm_assets.worker_config import (
    EmbeddingSettings,
    FailurePolicy,
    TopicParams,
    WorkerConfig,
    WorkerConfigError,
    bounds,
    check_topic_method,
)


def _like(section: type, name: str) -> Any:
    """A pydantic field with the default and bounds of ``section``'s field ``name``."""
    f = next(f for f in fields(section) if f.name == name)
    ge, le = bounds(f)
    return Field(default=f.default, ge=ge, le=le)


class WorkerSettings(dg.ConfigurableResource):
    max_failure_rate: float = _like(FailurePolicy, "max_failure_rate")
    max_consecutive_failures: int = _like(FailurePolicy, "max_consecutive_failures")
    min_processed_for_rate: int = _like(FailurePolicy, "min_processed_for_rate")
    allow_failures: bool = _like(FailurePolicy, "allow_failures")
    checkpoint_every: int = _like(WorkerConfig, "checkpoint_every")
    random_seed: int = _like(TopicParams, "random_seed")
    min_sentences: int = _like(TopicParams, "min_sentences")
    hdbscan_min_cluster_size: int = _like(TopicParams, "hdbscan_min_cluster_size")
    topic_method: str = _like(TopicParams, "topic_method")  # ward or umap (topic_model.py)
    umap_n_neighbors: int = _like(TopicParams, "umap_n_neighbors")  # umap only
    sentences_per_topic: int = _like(TopicParams, "sentences_per_topic")  # ward only, as the next four
    max_topics: int = _like(TopicParams, "max_topics")
    context_window: int = _like(TopicParams, "context_window")
    context_decay: float = _like(TopicParams, "context_decay")
    context_gate: float = _like(TopicParams, "context_gate")
    context_gate_scale: float = _like(TopicParams, "context_gate_scale")
    stability_members: int = _like(TopicParams, "stability_members")
    embedding_model: str | None = None  # None: the worker's FTM_EMBEDDING_MODEL or the packaged model
    device: str | None = None  # None: the worker's FTM_DEVICE, else auto
    fit_workers: int | None = _like(EmbeddingSettings, "fit_workers")  # None: the worker's FTM_FIT_WORKERS or its cores
    embedding_store: bool | None = None  # None: the worker's FTM_EMBEDDING_STORE, else on
    tone_model: str | None = None  # None: the worker's FTM_TONE_MODEL, else no classifier (a folder in the worker)

    @field_validator("topic_method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        try:
            return check_topic_method(value.strip().lower())
        except WorkerConfigError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("tone_model")
    @classmethod
    def _folder_named(cls, value: str | None) -> str | None:
        """A blank FTM_TONE_MODEL is unset; the folder itself is checked by the worker, on whose disk it is."""
        return (value or "").strip() or None

    def worker_config(self, *, quarter: str, batch: str, storage_root: str, run_id: str) -> WorkerConfig:
        """The worker's instructions for one (quarter, batch) partition; send them with ``to_extras()``."""
        return WorkerConfig(
            quarter=quarter,
            batch=batch,
            storage_root=storage_root,
            run_id=run_id,
            checkpoint_every=self.checkpoint_every,
            policy=FailurePolicy(**self._section(FailurePolicy)),
            topics=TopicParams(**self._section(TopicParams)),
            embedding=EmbeddingSettings(model=self.embedding_model, device=self.device, fit_workers=self.fit_workers,
                                        store=self.embedding_store, tone_model=self.tone_model),
        )

    def _section(self, section: type) -> dict[str, Any]:
        """This resource's values for ``section``'s fields (the others keep their defaults)."""
        return {f.name: getattr(self, f.name) for f in fields(section) if f.name in type(self).model_fields}

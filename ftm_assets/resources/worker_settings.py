"""What every worker of a deployment is told: failure policy, checkpoint cadence, topic-model parameters.

They travel to the worker in the Pipes extras, so the checks in Dagster and the worker use the same numbers.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from ftm_assets import constants as C


class WorkerSettings(dg.ConfigurableResource):
    max_failure_rate: float = C.MAX_FAILURE_RATE
    max_consecutive_failures: int = C.MAX_CONSECUTIVE_FAILURES
    min_processed_for_rate: int = C.MIN_PROCESSED_FOR_RATE
    allow_failures: bool = C.ALLOW_FAILURES
    checkpoint_every: int = C.CHECKPOINT_EVERY
    random_seed: int = C.RANDOM_SEED
    min_sentences: int = C.MIN_SENTENCES
    hdbscan_min_cluster_size: int = C.HDBSCAN_MIN_CLUSTER_SIZE
    umap_n_neighbors: int = C.UMAP_N_NEIGHBORS
    embedding_model: str | None = None  # None: the worker's FTM_EMBEDDING_MODEL or the packaged model
    device: str | None = None  # None: the worker's FTM_DEVICE, else auto

    def extras(self, *, quarter: str, batch: str, storage_root: str, run_id: str) -> dict[str, Any]:
        return {
            "quarter": quarter,
            "batch": batch,
            "storage_root": storage_root,
            "run_id": run_id,
            "checkpoint_every": self.checkpoint_every,
            "policy": {
                "max_failure_rate": self.max_failure_rate,
                "max_consecutive_failures": self.max_consecutive_failures,
                "min_processed_for_rate": self.min_processed_for_rate,
                "allow_failures": self.allow_failures,
            },
            "topics": {
                "random_seed": self.random_seed,
                "min_sentences": self.min_sentences,
                "hdbscan_min_cluster_size": self.hdbscan_min_cluster_size,
                "umap_n_neighbors": self.umap_n_neighbors,
            },
            "embedding_model": self.embedding_model,
            "device": self.device,
        }

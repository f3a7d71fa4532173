"""The firm manifest: which firms of a quarter go to which batch (JSONL, one line per batch).

Shared by the Dagster asset that writes it and the worker that reads it (no Dagster import).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ftm_assets.batching import batch_keys, batch_of
from ftm_assets.storage import Storage, StorageError
from ftm_assets.storage import layout


@dataclass(frozen=True)
class BatchEntry:
    quarter: str
    batch: str
    firm_ids: list[str]

    def to_json(self) -> str:
        return json.dumps(
            {"quarter": self.quarter, "batch": self.batch, "n_firms": len(self.firm_ids), "firm_ids": self.firm_ids}
        )


def assign_batches(quarter: str, firm_ids: list[str], batch_count: int) -> list[BatchEntry]:
    """Every batch of the quarter (empty ones too), firms sorted within each."""
    by_batch: dict[str, list[str]] = {key: [] for key in batch_keys(batch_count)}
    for firm_id in sorted(set(firm_ids)):
        by_batch[batch_of(firm_id, batch_count)].append(firm_id)
    return [BatchEntry(quarter, key, ids) for key, ids in by_batch.items()]


def write_manifest(storage: Storage, quarter: str, entries: list[BatchEntry]) -> str:
    key = layout.manifest(quarter)
    storage.write_text(key, "".join(entry.to_json() + "\n" for entry in entries))
    return key


def read_batch(storage: Storage, quarter: str, batch: str) -> BatchEntry:
    key = layout.manifest(quarter)
    if not storage.exists(key):
        raise StorageError(
            f"No firm manifest for {quarter} at {storage.uri(key)}: materialize firm_manifest for {quarter} first."
        )
    for line in storage.read_text(key).splitlines():
        if line.strip():
            row = json.loads(line)
            if row["batch"] == batch:
                return BatchEntry(row["quarter"], row["batch"], list(row["firm_ids"]))
    raise StorageError(
        f"Batch {batch} is not in the manifest {storage.uri(key)}; it was written for another batch count. "
        f"Re-materialize firm_manifest for {quarter}."
    )

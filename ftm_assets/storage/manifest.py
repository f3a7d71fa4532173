"""The firm manifest: which firms of a quarter go to which batch (JSONL, one line per batch).

Shared by the Dagster asset that writes it and the worker that reads it (no Dagster import).
"""

from __future__ import annotations

import hashlib
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

    @property
    def fingerprint(self) -> str:
        """Identity of the batch's firm list: a commit made for another list is stale."""
        text = json.dumps([self.quarter, self.batch, sorted(self.firm_ids)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def read_manifest(storage: Storage, quarter: str) -> list[BatchEntry] | None:
    """Every batch of the quarter's manifest, or None when the quarter has none yet."""
    key = layout.manifest(quarter)
    if not storage.exists(key):
        return None
    rows = [json.loads(line) for line in storage.read_text(key).splitlines() if line.strip()]
    return [BatchEntry(row["quarter"], row["batch"], list(row["firm_ids"])) for row in rows]


def read_batch(storage: Storage, quarter: str, batch: str) -> BatchEntry:
    entry, _ = read_batch_and_count(storage, quarter, batch)
    return entry


def read_batch_and_count(storage: Storage, quarter: str, batch: str) -> tuple[BatchEntry, int]:
    """The batch's entry and the manifest's batch count (both go into the commit record)."""
    key = layout.manifest(quarter)
    entries = read_manifest(storage, quarter)
    if entries is None:
        raise StorageError(
            f"No firm manifest for {quarter} at {storage.uri(key)}: materialize firm_manifest for {quarter} first."
        )
    for entry in entries:
        if entry.batch == batch:
            return entry, len(entries)
    raise StorageError(
        f"Batch {batch} is not in the manifest {storage.uri(key)}; it was written for another batch count. "
        f"Re-materialize firm_manifest for {quarter}."
    )

"""A firm's batch: a stable function of its firm id, the same on every run and every machine."""

from __future__ import annotations

import hashlib


def batch_keys(batch_count: int) -> list[str]:
    """Batch partition keys ``000``, ``001``, ... for a fixed batch count."""
    if batch_count < 1 or batch_count > 999:
        raise ValueError(f"Batch count must be between 1 and 999, got {batch_count}.")
    return [f"{i:03d}" for i in range(batch_count)]


def batch_of(firm_id: str, batch_count: int) -> str:
    """Batch key of ``firm_id``: sha256 of the id modulo the batch count (Python's hash() is salted)."""
    digest = hashlib.sha256(str(firm_id).strip().encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:8], 'big') % batch_count:03d}"

"""Partitions: quarters (``2023Q1``) and, for the batch assets, quarter x batch (``000``, ``001``, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ftm_assets.batching import batch_keys
from ftm_assets.quarters import quarter_keys

QUARTER_DIM = "quarter"
BATCH_DIM = "batch"


def quarter_partitions(first: str, last: str) -> dg.StaticPartitionsDefinition:
    """Every quarter from ``first`` to ``last``, inclusive."""
    return dg.StaticPartitionsDefinition(quarter_keys(first, last))


def partitions_of_quarters(keys: Sequence[str]) -> dg.StaticPartitionsDefinition:
    """Exactly these quarters (the files source's: only quarters its files hold, gaps left out)."""
    return dg.StaticPartitionsDefinition(list(keys))


def quarter_batch_partitions(quarters: dg.StaticPartitionsDefinition, batch_count: int) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {QUARTER_DIM: quarters, BATCH_DIM: dg.StaticPartitionsDefinition(batch_keys(batch_count))}
    )


def quarter_and_batch(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    return keys[QUARTER_DIM], keys[BATCH_DIM]

"""Partitions: quarters (``2023Q1``) and, for the batch assets, quarter x batch (``000``, ``001``, ...).

Quarters are time that grows: a ``DynamicPartitionsDefinition`` named ``quarter`` whose keys live on the
Dagster instance, not in the code. The calendar sensor (``ftm_assets.automation.calendar``) adds each quarter
once it has ended (the files source: once a file holds it), so a running deployment shows a new quarter
without a restart. Why not a time-window definition: its keys come from ``strftime``, which has no quarter
directive, and every storage path and reader uses ``YYYYQn``; a ``PartitionsDefinition`` subclass is not
shown by the webserver (it only serializes static, time-window, multi and dynamic definitions). A dynamic
dimension works inside the quarter x batch ``MultiPartitionsDefinition``, and the UI backfills it like any
other partition set. ``register_quarters`` adds keys wherever a run starts without the sensor (``make run``,
tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

from ftm_assets.batching import batch_keys
from ftm_assets.quarters import Quarter, quarter_keys

QUARTER_DIM = "quarter"
BATCH_DIM = "batch"

# The one quarter partitions definition of the code location (keys on the instance, in calendar order).
QUARTERS = dg.DynamicPartitionsDefinition(name=QUARTER_DIM)


def quarter_partitions(first: str, last: str) -> dg.StaticPartitionsDefinition:
    """Every quarter from ``first`` to ``last``, inclusive, fixed in code (tests of one asset use it)."""
    return dg.StaticPartitionsDefinition(quarter_keys(first, last))


def partitions_of_quarters(keys: Sequence[str]) -> dg.StaticPartitionsDefinition:
    """Exactly these quarters, fixed in code (tests of one asset use it)."""
    return dg.StaticPartitionsDefinition(list(keys))


def quarter_batch_partitions(quarters: dg.PartitionsDefinition, batch_count: int) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {QUARTER_DIM: quarters, BATCH_DIM: dg.StaticPartitionsDefinition(batch_keys(batch_count))}
    )


def quarter_and_batch(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    return keys[QUARTER_DIM], keys[BATCH_DIM]


def missing_quarters(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[str]:
    """Of ``keys``, those not yet quarter partitions on ``instance``, in calendar order."""
    have = set(instance.get_dynamic_partitions(QUARTER_DIM))
    return sorted({k for k in keys if k not in have}, key=lambda k: Quarter.parse(k).index)


def register_quarters(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[str]:
    """Add ``keys`` as quarter partitions on ``instance`` (those it lacks, in calendar order); returns them."""
    new = missing_quarters(instance, keys)
    if new:
        instance.add_dynamic_partitions(QUARTER_DIM, new)
    return new


def known_quarters(instance: dg.DagsterInstance) -> list[str]:
    """The quarter partitions on ``instance``, in calendar order (the UI lists them as they were added)."""
    return sorted(instance.get_dynamic_partitions(QUARTER_DIM), key=lambda k: Quarter.parse(k).index)

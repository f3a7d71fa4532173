"""What one partition's compute cost, as a record every launcher writes and the quarter summary sums.

The record goes to ``costs/quarter=<q>/batch_<b>.json`` in the storage root (one per partition, replaced by
the partition's latest launch, successful or not: a failed job cost money too) and, flattened, into the
partition's materialization metadata. AWS Batch jobs report, per attempt, seconds queued and running,
instance type, Spot or not, and an estimated price; local runs report the worker's CPU-seconds.
Unknown values are ``null``, never a guessed number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ftm_assets.storage import Storage, layout, open_storage


@dataclass(frozen=True)
class AttemptCost:
    job_id: str
    attempt: int
    queued_s: float | None
    running_s: float | None
    instance_type: str | None
    spot: bool | None
    price_per_hour_usd: float | None
    cost_usd: float | None


@dataclass(frozen=True)
class CostRecord:
    quarter: str
    batch: str
    launcher: Literal["aws", "local"]
    attempts: list[AttemptCost] = field(default_factory=list)
    gpu_hours: float | None = None  # GPUs requested x hours running, summed over attempts (0 locally)
    cpu_seconds: float | None = None  # CPU time of the worker process (local only: Batch does not report it)
    cost_usd: float | None = None  # sum of the attempts' estimates; None when no attempt could be priced

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> CostRecord:
        """The record ``to_json`` wrote; ValueError says what is wrong with one that is not."""
        try:
            data = json.loads(text)
            attempts = [AttemptCost(**a) for a in data.pop("attempts", [])]
            return cls(**data, attempts=attempts)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"Not a cost record ({exc}); it should hold {', '.join(f.name for f in fields(cls))}.") from exc

    @classmethod
    def combined(cls, records: Sequence[CostRecord]) -> CostRecord:
        """What ``records`` (the batches of one quarter) cost together: a field is None where no record gave it."""
        if not records:
            raise ValueError("CostRecord.combined needs at least one record.")
        first = records[0]
        return cls(
            quarter=first.quarter,
            batch=",".join(r.batch for r in records),
            launcher=first.launcher,
            attempts=[a for r in records for a in r.attempts],
            **{name: _total(getattr(r, name) for r in records) for name in ("gpu_hours", "cpu_seconds", "cost_usd")},
        )

    def metadata(self) -> dict[str, Any]:
        """The record as Dagster metadata (``cost_*`` keys; unknown values left out)."""
        values: dict[str, Any] = {
            "cost_launcher": self.launcher,
            "cost_gpu_hours": self.gpu_hours,
            "cost_cpu_seconds": self.cpu_seconds,
            "cost_usd_estimate": self.cost_usd,
        }
        if self.attempts:
            last = self.attempts[-1]
            values.update(
                cost_instance_type=last.instance_type,
                cost_spot=last.spot,
                cost_price_per_hour_usd=last.price_per_hour_usd,
                cost_queued_s=_total((a.queued_s for a in self.attempts), 3),
                cost_running_s=_total((a.running_s for a in self.attempts), 3),
                cost_attempts=[asdict(a) for a in self.attempts],
            )
        return {k: v for k, v in values.items() if v is not None}


def _total(values: Iterable[float | None], ndigits: int | None = None) -> float | None:
    """The sum of the known values (rounded to ``ndigits`` if given), None when none is known: an unknown
    cost is never a zero."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return sum(known) if ndigits is None else round(sum(known), ndigits)


def read_cost_records(store: Storage, quarter: str) -> dict[str, CostRecord]:
    """The quarter's cost record of each batch that has one (empty when there are none)."""
    records: dict[str, CostRecord] = {}
    for key in store.list(layout.costs_prefix(quarter)):
        if key.endswith(".json"):
            try:
                record = CostRecord.from_json(store.read_text(key))
            except ValueError as exc:
                raise ValueError(f"Cost record {store.uri(key)}: {exc}") from exc
            records[record.batch] = record
    return records


def write_cost_record(storage_root: str, record: CostRecord) -> str:
    """Write ``record`` (one atomic write) and return where it went."""
    storage = open_storage(storage_root)
    key = layout.cost_record(record.quarter, record.batch)
    storage.write_text(key, record.to_json())
    return storage.uri(key)

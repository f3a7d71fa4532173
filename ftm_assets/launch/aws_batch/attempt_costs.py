"""A Batch job's cost record: per attempt, seconds queued and running, where it ran, and an estimated price.

Queued time of attempt 1 runs from the job's creation to its start; of a later attempt, from the previous
attempt's stop (the retry's wait for a new host). The price is the table's hourly price for the attempt's
instance type (Spot or On-Demand, by its compute environment) times its running hours; an attempt whose
instance Batch did not report stays unpriced.
"""

from __future__ import annotations

from ftm_assets.launch.aws_batch.compute import Placement
from ftm_assets.launch.aws_batch.job_state import JobSnapshot
from ftm_assets.launch.aws_batch.prices import PriceTable
from ftm_assets.launch.cost import AttemptCost, CostRecord


def batch_cost_record(
    job: JobSnapshot,
    *,
    quarter: str,
    batch: str,
    placements: dict[str, Placement],
    prices: PriceTable,
    gpus_requested: int,
) -> CostRecord:
    attempts: list[AttemptCost] = []
    previous_stop = job.created_at
    for attempt in job.attempts:
        queued = (
            max((attempt.started_at - previous_stop).total_seconds(), 0.0)
            if attempt.started_at and previous_stop
            else None
        )
        previous_stop = attempt.stopped_at or previous_stop
        placement = placements.get(attempt.container_instance_arn or "", Placement(None, None, None))
        price = prices.per_hour(placement.instance_type, placement.spot)
        running = _round(attempt.running_s)
        attempts.append(
            AttemptCost(
                job_id=job.job_id,
                attempt=attempt.number,
                queued_s=_round(queued),
                running_s=running,
                instance_type=placement.instance_type,
                spot=placement.spot,
                price_per_hour_usd=price,
                cost_usd=round(price * running / 3600, 8) if price is not None and running is not None else None,
            )
        )
    gpus = job.gpus if job.gpus is not None else gpus_requested
    running_total = sum(a.running_s or 0.0 for a in attempts)
    priced = [a.cost_usd for a in attempts if a.cost_usd is not None]
    return CostRecord(
        quarter=quarter,
        batch=batch,
        launcher="aws",
        attempts=attempts,
        gpu_hours=round(gpus * running_total / 3600, 8),
        cpu_seconds=None,
        cost_usd=round(sum(priced), 8) if priced else None,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

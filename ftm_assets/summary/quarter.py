"""What happened to each firm and each batch of a quarter, read from committed output (no Dagster here).

The manifest says which firms a quarter has and which batch each is in; every batch's commit record, its
topics and failures say what became of them. Inputs that only some deployments write are read when present
and left out when not: the failures' ``outcome`` column (``failed`` | ``skipped``; without it every failure
counts as failed), the launchers' cost records (``costs/quarter=<q>/batch_<b>.json``) and a per-topic
``stability`` column on firm_topics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ftm_assets.launch.cost import CostRecord, read_cost_records
from ftm_assets.outcomes import FAILED, SKIPPED, failure_rate, firm_stability
from ftm_assets.readers import commit_records, read_failures, read_firm_topics_table
from ftm_assets.schema import SUMMARY_SCHEMA
from ftm_assets.storage import Storage, layout
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.storage.manifest import read_manifest


class ManifestMissing(LookupError):
    """The quarter has no firm manifest, so there is nothing to summarize yet."""


@dataclass(frozen=True)
class BatchRow:
    batch: str
    firms: int
    failed: int
    committed: bool
    seconds: float
    skipped: int = 0
    cost: CostRecord | None = None  # None: no cost record for this batch
    modelled: int = 0  # firms with topic rows

    @property
    def attempted(self) -> int:
        """The failure rate's denominator: firms modelled or failed (skipped and not-yet-run ones are not)."""
        return self.modelled + self.failed

    @property
    def failure_rate(self) -> float:
        """``outcomes.failure_rate``: failed over modelled and failed firms (0 for a batch not committed)."""
        return failure_rate(self.failed, self.modelled)

    @property
    def skip_rate(self) -> float:
        return self.skipped / self.firms if self.firms else 0.0


@dataclass(frozen=True)
class QuarterSummary:
    firms: pa.Table  # SUMMARY_SCHEMA
    batches: list[BatchRow]
    stage_seconds: dict[str, float]

    @property
    def total(self) -> BatchRow:
        """Every batch added up as one row (batch ``all``): its counts and rates are the quarter's."""
        def add(name: str) -> Any:
            return sum(getattr(b, name) for b in self.batches)

        return BatchRow(batch="all", firms=add("firms"), failed=add("failed"), skipped=add("skipped"),
                        modelled=add("modelled"), seconds=add("seconds"), cost=self.cost,
                        committed=all(b.committed for b in self.batches))

    @property
    def cost(self) -> CostRecord | None:
        """The quarter's cost over every batch with a cost record; None when no batch has one."""
        costs = [b.cost for b in self.batches if b.cost is not None]
        return CostRecord.combined(costs) if costs else None

    @property
    def costed_firms(self) -> int:
        """Firms of the batches that have a cost record: the denominator of a cost per firm."""
        return sum(b.firms for b in self.batches if b.cost is not None)


def record_facts(record: CommitRecord) -> tuple[str, dict[str, float]]:
    """(batch, seconds per stage) of a commit record."""
    return record.batch, dict(record.seconds)


def _manifest(store: Storage, quarter: str) -> dict[str, list[str]]:
    """Firm ids per batch of the quarter's manifest; ManifestMissing when there is none yet."""
    entries = read_manifest(store, quarter)
    if entries is None:
        raise ManifestMissing(
            f"No firm manifest for {quarter} at {store.uri(layout.manifest(quarter))}: materialize firm_manifest "
            f"and the firm_topics batches of {quarter} first."
        )
    return {entry.batch: entry.firm_ids for entry in entries}


def _per_firm_topics(topics: pa.Table) -> dict[str, dict[str, Any]]:
    """Topics, sentences, outlier sentences and stability per firm (None without the column).

    A firm's stability is the worker's own measure (``outcomes.firm_stability``): its topics' stability
    weighted by their sentences, outliers left out, so the summary and the batch metadata agree.
    """
    has_stability = "stability" in topics.column_names
    columns = ["firm_id", "firm_name", "topic_id", "n_sentences"] + (["stability"] if has_stability else [])
    rows = topics.select(columns).to_pylist()
    per_firm: dict[str, dict[str, Any]] = {}
    for row in rows:
        firm = per_firm.setdefault(row["firm_id"], {"name": row["firm_name"], "topics": 0, "sent": 0, "out": 0})
        firm["sent"] += row["n_sentences"]
        if row["topic_id"] >= 0:
            firm["topics"] += 1
        else:
            firm["out"] += row["n_sentences"]
    stability = firm_stability(rows)
    for firm_id, firm in per_firm.items():
        firm["stability"] = stability.get(firm_id)
    return per_firm


def _status(committed: bool, outcome: str | None, topics: int) -> str:
    if not committed:
        return "missing"
    if outcome is not None:
        return outcome
    return "ok" if topics else "no_topics"


def summarize_quarter(store: Storage, quarter: str) -> QuarterSummary:
    """Join the manifest with every committed batch: what happened to each firm, and to each batch."""
    manifest = _manifest(store, quarter)
    records = dict(record_facts(rec) for rec in commit_records(store, quarter))
    per_firm = _per_firm_topics(read_firm_topics_table(store, quarter))
    failures = {r["firm_id"]: r for r in read_failures(store, quarter).to_dict("records")}
    outcomes = {f: (r.get("outcome") or FAILED) for f, r in failures.items()}
    costs = read_cost_records(store, quarter)

    rows, batches, stages = [], [], Counter()
    for batch, firm_ids in sorted(manifest.items()):
        committed = batch in records
        for firm_id in firm_ids:
            firm, failure = per_firm.get(firm_id), failures.get(firm_id)
            rows.append(
                {
                    "quarter": quarter,
                    "batch": batch,
                    "firm_id": firm_id,
                    "firm_name": (firm or {}).get("name") or (failure or {}).get("firm_name"),
                    "status": _status(committed, outcomes.get(firm_id), firm["topics"] if firm else 0),
                    "topics": firm["topics"] if firm else 0,
                    "sentences": firm["sent"] if firm else 0,
                    "outlier_sentences": firm["out"] if firm else 0,
                    "error_class": failure["error_class"] if failure else None,
                    "stability": firm["stability"] if firm else None,
                }
            )
        seconds = records.get(batch, {})
        stages.update(seconds)
        batches.append(
            BatchRow(
                batch=batch,
                firms=len(firm_ids),
                failed=sum(1 for f in firm_ids if outcomes.get(f) == FAILED),
                skipped=sum(1 for f in firm_ids if outcomes.get(f) == SKIPPED),
                modelled=sum(1 for f in firm_ids if committed and f in per_firm),
                committed=committed,
                seconds=float(seconds.get("total", 0.0)),
                cost=costs.get(batch),
            )
        )
    return QuarterSummary(pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA), batches, dict(stages))

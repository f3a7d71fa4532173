"""What became of a firm, and the measures both sides compute from it: one home for each (no Dagster, no worker).

A firm of a batch either has topic rows (*modelled*), or a failure row whose ``outcome`` is ``failed`` (an
error) or ``skipped`` (too little text to model: a property of the data, not a fault). The worker's circuit
breaker and checks, its materialization metadata and the quarter summary all use the same failure rate and
the same per-firm stability, from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FAILED = "failed"
SKIPPED = "skipped"


def failure_rate(failed: int, modelled: int) -> float:
    """Failed firms over the firms that were attempted: ``failed / (failed + modelled)``.

    The one denominator: skipped firms (too little text) count in neither part, nor do firms not run yet
    (a batch that has not committed); 0.0 when nothing was attempted.
    """
    attempted = failed + modelled
    return failed / attempted if attempted else 0.0


def firm_stability(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Per firm with topics: its topics' stability, weighted by their sentences (outliers left out).

    ``rows`` are firm_topics rows (``firm_id``, ``topic_id``, ``n_sentences``, ``stability``); rows without a
    stability (files written before the column) are left out.
    """
    weight: dict[str, float] = {}
    total: dict[str, float] = {}
    for row in rows:
        if row["topic_id"] < 0 or row.get("stability") is None:
            continue
        n = float(row["n_sentences"] or 0)
        weight[row["firm_id"]] = weight.get(row["firm_id"], 0.0) + n
        total[row["firm_id"]] = total.get(row["firm_id"], 0.0) + n * float(row["stability"])
    return {f: round(total[f] / weight[f], 4) for f in sorted(weight) if weight[f] > 0}

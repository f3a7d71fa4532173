"""Test and benchmark helper: real Earnings-22 calls placed in three quarters for the theme figures.

Quarter 1 holds the calls as they are, quarter 2 the same calls with 15% of each call's components dropped
(a fixed draw per call), quarter 3 an exact copy of quarter 1. Every call keeps its firm id across the three
quarters and carries a made-up gvkey/permno, so the panel's identifiers can be checked end to end.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from ftm_assets.quarters import Quarter
from ftm_assets_tests.support.earnings22_calls import call_rows, firm_ids, read_calls

QUARTERS = ("2023Q1", "2023Q2", "2023Q3")
DROP_SHARE = 0.15


def gvkey_of(index: int) -> str:
    return f"{100_001 + index:06d}"


def permno_of(index: int) -> int:
    return 90_001 + index


def drop_components(rows: list[dict], index: int, share: float = DROP_SHARE) -> list[dict]:
    """``rows`` without ``round(share * len(rows))`` components, drawn with a seed of the call's index."""
    rng = np.random.default_rng(10_000 + index)
    n_drop = int(round(share * len(rows)))
    dropped = set(rng.choice(len(rows), size=n_drop, replace=False).tolist()) if n_drop else set()
    return [row for i, row in enumerate(rows) if i not in dropped]


def quarter_rows(calls: list[dict], quarter: str, variant: str) -> list[dict]:
    """Component rows of every call in ``quarter``; ``variant`` is ``as_is`` or ``dropped``."""
    q = Quarter.parse(quarter)
    out = []
    for index, (call, firm_id) in enumerate(zip(calls, firm_ids(calls))):
        rows = call_rows(call, firm_id, index, q)
        for row in rows:
            row["quarter"] = quarter
            row["gvkey"] = gvkey_of(index)
            row["permno"] = permno_of(index)
        out.extend(drop_components(rows, index) if variant == "dropped" else rows)
    return out


def write_three_quarters(dest: Path, limit: int | None = None) -> Path:
    """``files``-source JSONL for the three quarters (as is, 15% dropped, copy of the first) under ``dest``."""
    calls = read_calls(limit)
    dest.mkdir(parents=True, exist_ok=True)
    for quarter, variant in zip(QUARTERS, ("as_is", "dropped", "as_is")):
        with gzip.open(dest / f"calls-{quarter}.jsonl.gz", "wt", encoding="utf-8") as handle:
            for row in quarter_rows(calls, quarter, variant):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dest

"""Test helper: the 125 real Earnings-22 calls, converted into the ``files`` source format on the fly.

The data lives above the checkout (``shared/data/earnings22/calls.jsonl.gz``, CC BY-SA 4.0) or where
``FTM_EARNINGS22`` points, and is never copied into the repository: tests write the converted files under
``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path

from ftm_assets.quarters import Quarter

SHARED_CALLS = Path("shared/data/earnings22/calls.jsonl.gz")


def find_earnings22() -> Path:
    """``FTM_EARNINGS22``, else ``shared/data/earnings22/calls.jsonl.gz`` in the nearest folder above the checkout.

    Searching upward (rather than one fixed ``..``) finds the data from a git worktree nested deeper than the
    main checkout; the nearest candidate is returned even when absent, so the skip reason names a real place.
    """
    if os.environ.get("FTM_EARNINGS22"):
        return Path(os.environ["FTM_EARNINGS22"])
    checkout = Path(__file__).resolve().parents[2]
    candidates = [folder / SHARED_CALLS for folder in checkout.parents]
    return next((path for path in candidates if path.exists()), candidates[0])


EARNINGS22 = find_earnings22()
N_CALLS = 125

MISSING_REASON = (
    f"Earnings-22 calls not found at {EARNINGS22}: put calls.jsonl.gz in shared/data/earnings22/ in a folder "
    "above the checkout, or set FTM_EARNINGS22 to its path."
)


def read_calls(limit: int | None = None) -> list[dict]:
    """The raw calls, in file order (one dict per call with ``ticker``, ``file_id``, ``turns``)."""
    calls = []
    with gzip.open(EARNINGS22, "rt", encoding="utf-8") as handle:
        for line in handle:
            calls.append(json.loads(line))
            if limit is not None and len(calls) >= limit:
                break
    return calls


def firm_ids(calls: list[dict]) -> list[str]:
    """``E22-<TICKER>-<k>``: the k-th call of a ticker in file order, so that each call is its own firm."""
    seen: Counter[str] = Counter()
    ids = []
    for call in calls:
        ticker = re.sub(r"[^A-Za-z0-9.]+", "_", call["ticker"])
        seen[ticker] += 1
        ids.append(f"E22-{ticker}-{seen[ticker]}")
    return ids


def _speaker_roles(turns: list[dict]) -> dict[int, str]:
    """Speaker 0 hosts; speakers heard before the first question are executives, the others analysts.

    The first question is the first turn by a non-host speaker ending in ``?``. A heuristic: the corpus
    has no roles, and executives who ask a question back are already known as presenters by then.
    """
    first_question = next(
        (i for i, t in enumerate(turns) if t["speaker"] != 0 and t["text"].rstrip().endswith("?")), len(turns)
    )
    presenters = {t["speaker"] for t in turns[:first_question]}
    return {
        t["speaker"]: "Operator" if t["speaker"] == 0 else "Executives" if t["speaker"] in presenters else "Analysts"
        for t in turns
    }


def call_rows(call: dict, firm_id: str, call_index: int, quarter: Quarter) -> list[dict]:
    """One call as component rows; every other call leaves ``quarter`` out so the date decides it."""
    days = (quarter.end - quarter.start).days + 1
    date = quarter.start + dt.timedelta(days=(call_index * 37) % days)
    roles = _speaker_roles(call["turns"])
    rows, in_qa = [], False
    for order, turn in enumerate(call["turns"]):
        role = roles[turn["speaker"]]
        in_qa = in_qa or role == "Analysts"
        if role == "Operator":
            component_type = "Question and Answer Operator Message" if in_qa else "Presentation Operator Message"
        elif role == "Analysts":
            component_type = "Question"
        else:
            component_type = "Answer" if in_qa else "Presenter Speech"
        row = {
            "firm_id": firm_id,
            "firm_name": call["ticker"],
            "call_id": 22_000_000 + call_index,
            "transcript_id": 22_000_000 + call_index,
            "earnings_call_date": date.isoformat(),
            "component_order": order,
            "component_type": component_type,
            "speaker_type": role,
            "text": turn["text"],
            "country": call.get("country"),  # an extra column: the reader ignores it
        }
        if call_index % 2 == 0:
            row["quarter"] = quarter.key
        rows.append(row)
    return rows


def write_earnings22_files(dest: Path, quarter: str, limit: int | None = None) -> Path:
    """Write the calls (the first ``limit``, or all) as ``files`` source JSONL under ``dest``; return ``dest``.

    One gzipped file per region in a subfolder, so that readers also meet recursion and several files.
    """
    q = Quarter.parse(quarter)
    calls = read_calls(limit)
    by_region: dict[str, list[dict]] = {}
    for index, (call, firm_id) in enumerate(zip(calls, firm_ids(calls))):
        region = re.sub(r"[^a-z0-9]+", "-", str(call.get("region") or "unknown").lower()).strip("-")
        by_region.setdefault(region, []).extend(call_rows(call, firm_id, index, q))
    folder = dest / "earnings22"
    folder.mkdir(parents=True, exist_ok=True)
    for region, rows in sorted(by_region.items()):
        with gzip.open(folder / f"{region}.jsonl.gz", "wt", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dest

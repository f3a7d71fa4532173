"""What the worker tells Dagster: materialization metadata and the asset checks, read from the outputs.

The checks read the files the worker committed (not in-memory counters), so what Dagster shows is what a
researcher will read.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq

from ftm_assets import constants as C
from ftm_assets.storage import Storage
from ftm_assets.worker.config import WorkerConfig


def _read(storage: Storage, key: str, columns: list[str]):
    return pq.read_table(io.BytesIO(storage.read_bytes(key)), columns=columns)


def summarize_commit(storage: Storage, commit: dict[str, Any], manifest_firms: list[str]) -> dict[str, Any]:
    """Counts recomputed from the committed parts and the failures file."""
    topic_firms: list[str] = []
    topic_ids_by_firm: dict[str, set[int]] = {}
    rows = 0
    for key in commit["firm_topics_parts"]:
        table = _read(storage, key, ["firm_id", "topic_id"])
        rows += table.num_rows
        for firm_id, topic_id in zip(table.column("firm_id").to_pylist(), table.column("topic_id").to_pylist()):
            topic_ids_by_firm.setdefault(firm_id, set()).add(topic_id)
    topic_firms = sorted(topic_ids_by_firm)
    failures = _read(storage, commit["failures"], ["firm_id", "error_class"])
    failed_firms = failures.column("firm_id").to_pylist()
    error_classes: dict[str, int] = {}
    for name in failures.column("error_class").to_pylist():
        error_classes[name] = error_classes.get(name, 0) + 1
    accounted = set(topic_firms) | set(failed_firms)
    return {
        "firms_in_manifest": len(manifest_firms),
        "firms_with_rows": len(topic_firms),
        "firms_failed": len(failed_firms),
        "firms_with_topics": sum(1 for ids in topic_ids_by_firm.values() if any(i >= 0 for i in ids)),
        "topics": sum(sum(1 for i in ids if i >= 0) for ids in topic_ids_by_firm.values()),
        "rows": rows,
        "missing_firms": sorted(set(manifest_firms) - accounted),
        "unexpected_firms": sorted(accounted - set(manifest_firms)),
        "firms_both_ok_and_failed": sorted(set(topic_firms) & set(failed_firms)),
        "duplicate_failures": len(failed_firms) - len(set(failed_firms)),
        "error_classes": error_classes,
    }


def check_results(cfg: WorkerConfig, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Keyword arguments for ``report_asset_check``, one dict per check."""
    processed = summary["firms_with_rows"] + summary["firms_failed"]
    rate = summary["firms_failed"] / processed if processed else 0.0
    max_rate = cfg.policy.max_failure_rate
    ok_firms = summary["firms_with_rows"]
    share_topics = summary["firms_with_topics"] / ok_firms if ok_firms else 1.0
    problems = {
        k: summary[k]
        for k in ("missing_firms", "unexpected_firms", "firms_both_ok_and_failed")
        if summary[k]
    }
    return [
        {
            "asset_key": "firm_topics",
            "check_name": C.CHECK_FAILURE_RATE,
            "passed": rate <= max_rate,
            "severity": "ERROR",
            "metadata": {
                "failure_rate": rate,
                "max_failure_rate": max_rate,
                "firms_failed": summary["firms_failed"],
                "firms_processed": processed,
                "error_classes": {"raw_value": summary["error_classes"], "type": "json"},
                "verdict": f"{summary['firms_failed']} of {processed} firms failed ({rate:.1%}); "
                f"the limit is {max_rate:.1%}.",
            },
        },
        {
            "asset_key": "firm_topics",
            "check_name": C.CHECK_ALL_FIRMS,
            "passed": not problems and summary["duplicate_failures"] == 0,
            "severity": "ERROR",
            "metadata": {
                "firms_in_manifest": summary["firms_in_manifest"],
                "firms_with_topics_rows": summary["firms_with_rows"],
                "firms_failed": summary["firms_failed"],
                "problems": {"raw_value": {**problems, "duplicate_failures": summary["duplicate_failures"]},
                             "type": "json"},
                "verdict": "Every manifest firm has topic rows or a failure row, never both."
                if not problems
                else f"Output and manifest disagree: {', '.join(problems)}.",
            },
        },
        {
            "asset_key": "firm_topics",
            "check_name": C.CHECK_FIRMS_HAVE_TOPICS,
            "passed": share_topics >= C.MIN_SHARE_FIRMS_WITH_TOPICS,
            "severity": "WARN",
            "metadata": {
                "share_with_topics": share_topics,
                "min_share": C.MIN_SHARE_FIRMS_WITH_TOPICS,
                "firms_with_topics": summary["firms_with_topics"],
                "firms_modelled": ok_firms,
                "verdict": f"{summary['firms_with_topics']} of {ok_firms} modelled firms got at least one topic "
                "(the rest had only outlier sentences).",
            },
        },
    ]

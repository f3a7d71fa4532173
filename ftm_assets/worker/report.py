"""What the worker tells Dagster: materialization metadata and the asset checks, read from the outputs.

The checks and counts read the files the worker committed (not in-memory counters), so what Dagster shows
is what a researcher will read. Metadata values are plain Pipes dicts (``{"raw_value", "type"}``): the worker
never imports ``dagster``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets import constants as C
from ftm_assets.markdown import markdown_table
from ftm_assets.outcomes import FAILED, SKIPPED, failure_rate, firm_stability
from ftm_assets.storage import Storage
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.worker_config import WorkerConfig

TOP_FIRMS = 3  # firms shown in the largest-topics table (those with the most modelled sentences)
TOP_TOPICS = 3  # topics shown per firm
_TOPIC_COLUMNS = ["firm_id", "firm_name", "topic_id", "representation", "n_sentences", "stability"]


@dataclass
class WorkerTiming:
    """Unix times of the worker's milestones, so Dagster's share of a partition can be told from the worker's.

    The wall time spans the whole process (start-up, imports, model load, ``run_batch``, reading the commit
    back), since all of that happens wherever the worker runs; what a partition takes beyond it is Dagster's.
    """

    process_started_at: float
    batch_started_at: float | None = None
    reported_at: float | None = None

    def metadata(self) -> dict[str, Any]:
        """``worker_started_at`` plus the seconds known so far (those of unset milestones are left out)."""
        out: dict[str, Any] = {"worker_started_at": {"raw_value": self.process_started_at, "type": "timestamp"}}
        if self.batch_started_at is not None:
            out["worker_startup_s"] = round(self.batch_started_at - self.process_started_at, 3)
        if self.reported_at is not None:
            out["worker_wall_s"] = round(self.reported_at - self.process_started_at, 3)
        return out


def _read(storage: Storage, key: str, columns: list[str]) -> pa.Table:
    return pq.read_table(io.BytesIO(storage.read_bytes(key)), columns=columns)


def largest_topics_markdown(rows: list[dict[str, Any]], n_firms: int = TOP_FIRMS, n_topics: int = TOP_TOPICS) -> str:
    """A small table of the largest topics (by sentences) of the firms with the most modelled sentences.

    ``rows`` are firm_topics rows (at least ``_TOPIC_COLUMNS``); outlier rows (topic -1) count towards a
    firm's size but are not shown. Empty string when no firm has a topic.
    """
    size: dict[str, int] = {}
    topics: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        size[row["firm_id"]] = size.get(row["firm_id"], 0) + int(row["n_sentences"] or 0)
        if row["topic_id"] >= 0:
            topics.setdefault(row["firm_id"], []).append(row)
    firms = sorted(topics, key=lambda f: (-size[f], f))[:n_firms]
    if not firms:
        return ""
    table = [
        {"firm": f"{row['firm_name'] or ''} ({firm_id})".strip(), "topic": row["topic_id"],
         "sentences": row["n_sentences"], "representation": row["representation"]}
        for firm_id in firms
        for row in sorted(topics[firm_id], key=lambda r: (-int(r["n_sentences"]), r["topic_id"]))[:n_topics]
    ]
    return markdown_table(table, ["firm", "topic", "sentences", "representation"], right=["topic", "sentences"])


def _failure_rows(storage: Storage, key: str) -> list[dict[str, Any]]:
    """firm_id, error_class and outcome of each failure row (files older than ``outcome``: all failed)."""
    table = pq.read_table(io.BytesIO(storage.read_bytes(key)))
    rows = table.select([c for c in ("firm_id", "error_class", "outcome") if c in table.column_names]).to_pylist()
    return [{**r, "outcome": r.get("outcome") or FAILED} for r in rows]


@dataclass(frozen=True)
class CommitSummary:
    """Counts of one committed batch, recomputed from its parts and failures file (not in-memory counters).

    ``firms_failed`` counts errors; ``firms_skipped`` counts firms with too little text to model (a property
    of the data): both have a failure row, only the first counts towards the failure rate.
    """

    firms_in_manifest: int
    firms_with_rows: int  # firms with topic rows: the modelled ones
    firms_failed: int
    firms_skipped: int
    firms_with_topics: int  # modelled firms with at least one topic besides the outliers
    topics: int
    topics_per_firm_max: int
    rows: int
    sentences_modelled: int
    outlier_sentences: int
    largest_topics_md: str
    error_classes: dict[str, int] = field(default_factory=dict)
    firm_stability: dict[str, float] = field(default_factory=dict)
    missing_firms: list[str] = field(default_factory=list)
    unexpected_firms: list[str] = field(default_factory=list)
    firms_both_ok_and_failed: list[str] = field(default_factory=list)
    duplicate_failures: int = 0

    @property
    def failure_rate(self) -> float:
        """``outcomes.failure_rate``: failed firms over the modelled and failed ones."""
        return failure_rate(self.firms_failed, self.firms_with_rows)

    @property
    def firms_attempted(self) -> int:
        """The failure rate's denominator: modelled or failed (skipped firms count in neither)."""
        return self.firms_with_rows + self.firms_failed

    @property
    def problems(self) -> dict[str, list[str]]:
        """Disagreements of the output with the manifest, by kind (empty when every firm is accounted once)."""
        found = {"missing_firms": self.missing_firms, "unexpected_firms": self.unexpected_firms,
                 "firms_both_ok_and_failed": self.firms_both_ok_and_failed}
        return {k: v for k, v in found.items() if v}


def summarize_commit(storage: Storage, commit: CommitRecord, manifest_firms: list[str]) -> CommitSummary:
    """Counts recomputed from the committed parts and the failures file."""
    topic_ids_by_firm: dict[str, set[int]] = {}
    topic_rows: list[dict[str, Any]] = []
    for key in commit.firm_topics_parts:
        topic_rows.extend(_read(storage, key, _TOPIC_COLUMNS).to_pylist())
    for row in topic_rows:
        topic_ids_by_firm.setdefault(row["firm_id"], set()).add(row["topic_id"])
    topic_firms = sorted(topic_ids_by_firm)
    failure_rows = _failure_rows(storage, commit.failures)
    failed_firms = [r["firm_id"] for r in failure_rows]
    error_classes: dict[str, int] = {}
    for row in failure_rows:
        error_classes[row["error_class"]] = error_classes.get(row["error_class"], 0) + 1
    accounted = set(topic_firms) | set(failed_firms)
    topics_per_firm = sorted(sum(1 for i in ids if i >= 0) for ids in topic_ids_by_firm.values())
    return CommitSummary(
        firms_in_manifest=len(manifest_firms),
        firms_with_rows=len(topic_firms),
        firms_failed=sum(1 for r in failure_rows if r["outcome"] != SKIPPED),
        firms_skipped=sum(1 for r in failure_rows if r["outcome"] == SKIPPED),
        firms_with_topics=sum(1 for n in topics_per_firm if n > 0),
        topics=sum(topics_per_firm),
        topics_per_firm_max=topics_per_firm[-1] if topics_per_firm else 0,
        rows=len(topic_rows),
        sentences_modelled=sum(int(r["n_sentences"] or 0) for r in topic_rows),
        outlier_sentences=sum(int(r["n_sentences"] or 0) for r in topic_rows if r["topic_id"] < 0),
        largest_topics_md=largest_topics_markdown(topic_rows),
        error_classes=error_classes,
        firm_stability=firm_stability(topic_rows),
        missing_firms=sorted(set(manifest_firms) - accounted),
        unexpected_firms=sorted(accounted - set(manifest_firms)),
        firms_both_ok_and_failed=sorted(set(topic_firms) & set(failed_firms)),
        duplicate_failures=len(failed_firms) - len(set(failed_firms)),
    )


def firm_topics_metadata(
    summary: CommitSummary,
    commit: CommitRecord,
    storage: Storage,
    seconds: dict[str, float],
    timing: WorkerTiming,
) -> dict[str, Any]:
    """Metadata of the ``firm_topics`` materialization: counts, seconds per stage, the largest topics.

    Seconds end in ``_s``: ``<stage>_s`` for each stage of ``run_batch`` (``total_s``: all of it),
    ``worker_wall_s`` for the whole worker process up to this report, which ``firms_per_s`` divides.
    """
    if timing.reported_at is None:
        raise ValueError("firm_topics_metadata needs the timing's reported_at: set it before reporting.")
    wall_s = timing.reported_at - timing.process_started_at
    parts = commit.firm_topics_parts
    processed = summary.firms_attempted + summary.firms_skipped
    metadata: dict[str, Any] = {
        "firms": summary.firms_in_manifest,
        "firms_with_topics": summary.firms_with_topics,
        "firms_failed": summary.firms_failed,
        "firms_skipped": summary.firms_skipped,
        "topics": summary.topics,
        "topics_per_firm_max": summary.topics_per_firm_max,
        "rows": summary.rows,
        "sentences": summary.sentences_modelled,
        "outlier_sentences": summary.outlier_sentences,
        "parts": {"raw_value": parts, "type": "json"},
        "path": {"raw_value": storage.uri(parts[0].rsplit("/", 1)[0]), "type": "path"} if parts else "",
        "embedding_model": commit.metadata.get("ftm.embedding_model", ""),
        "device": commit.metadata.get("ftm.device", ""),
        "firms_per_s": round(processed / wall_s, 3) if wall_s > 0 else 0.0,
        **{f"{stage}_s": round(value, 2) for stage, value in sorted(seconds.items())},
        **{k: commit.counts[k] for k in ("sentences_embedded", "sentences_reused") if k in commit.counts},
        **timing.metadata(),
    }
    if summary.firm_stability:
        values = sorted(summary.firm_stability.values())
        metadata["firm_stability_median"] = values[len(values) // 2]
        metadata["firm_stability"] = {"raw_value": summary.firm_stability, "type": "json"}
    if summary.largest_topics_md:
        metadata["largest_topics"] = {"raw_value": summary.largest_topics_md, "type": "md"}
    return metadata


def failures_metadata(summary: CommitSummary, commit: CommitRecord, storage: Storage) -> dict[str, Any]:
    """Metadata of the ``firm_topic_failures`` materialization: failed and skipped firms, each with its rate
    (the failure rate of ``outcomes.failure_rate``; the skip rate over the manifest's firms)."""
    firms = max(summary.firms_in_manifest, 1)
    return {
        "failures": summary.firms_failed,
        "failure_rate": summary.failure_rate,
        "skipped": summary.firms_skipped,
        "skip_rate": summary.firms_skipped / firms,
        "error_classes": {"raw_value": summary.error_classes, "type": "json"},
        "path": {"raw_value": storage.uri(commit.failures), "type": "path"},
    }


def check_results(cfg: WorkerConfig, summary: CommitSummary) -> list[dict[str, Any]]:
    """Keyword arguments for ``report_asset_check``, one dict per check."""
    rate, processed = summary.failure_rate, summary.firms_attempted
    max_rate = cfg.policy.max_failure_rate
    ok_firms = summary.firms_with_rows
    share_topics = summary.firms_with_topics / ok_firms if ok_firms else 1.0
    problems = summary.problems
    return [
        {
            "asset_key": "firm_topics",
            "check_name": C.CHECK_FAILURE_RATE,
            "passed": rate <= max_rate,
            "severity": "ERROR",
            "metadata": {
                "failure_rate": rate,
                "max_failure_rate": max_rate,
                "firms_failed": summary.firms_failed,
                "firms_processed": processed,
                "firms_skipped": summary.firms_skipped,
                "error_classes": {"raw_value": summary.error_classes, "type": "json"},
                "verdict": f"{summary.firms_failed} of {processed} firms failed ({rate:.1%}); "
                f"the limit is {max_rate:.1%}. {summary.firms_skipped} firm(s) with too little text were "
                "skipped and do not count.",
            },
        },
        {
            "asset_key": "firm_topics",
            "check_name": C.CHECK_ALL_FIRMS,
            "passed": not problems and summary.duplicate_failures == 0,
            "severity": "ERROR",
            "metadata": {
                "firms_in_manifest": summary.firms_in_manifest,
                "firms_with_topics_rows": summary.firms_with_rows,
                "firms_failed": summary.firms_failed,
                "firms_skipped": summary.firms_skipped,
                "problems": {"raw_value": {**problems, "duplicate_failures": summary.duplicate_failures},
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
                "firms_with_topics": summary.firms_with_topics,
                "firms_modelled": ok_firms,
                "verdict": f"{summary.firms_with_topics} of {ok_firms} modelled firms got at least one topic "
                "(the rest had only outlier sentences).",
            },
        },
    ]

"""``quarter_topic_summary``: one row per firm of the quarter, read from every batch's committed output.

It depends on *all* batch partitions of its quarter (``MultiToSingleDimensionPartitionMapping`` on the
quarter dimension), so a backfill by quarter runs it once the quarter's batches are done. This module is the
Dagster side only: the numbers come from ``ftm_assets.summary.quarter``, the picture (topics per firm, failure
rate per batch) from ``ftm_assets.summary.chart``, shown in the materialization's metadata and written with the
firm-level Parquet under ``summaries/quarter=<q>/``.
"""

import io
import statistics
import time
from collections import Counter
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from ftm_assets.constants import CHECK_BATCHES_COMMITTED, CHECK_QUARTER_FAILURE_RATE
from ftm_assets.markdown import markdown_table, png_markdown
from ftm_assets.partitions import QUARTER_DIM
from ftm_assets.summary.quarter import BatchRow, ManifestMissing, QuarterSummary, summarize_quarter
from ftm_assets.readers import quarter_commits
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.storage import layout

__all__ = ["CHECK_BATCHES_COMMITTED", "CHECK_QUARTER_FAILURE_RATE", "batches_markdown", "build_quarter_summary"]


def _cost_cells(batch: BatchRow) -> dict[str, str]:
    cost = batch.cost
    if cost is None:
        return {"GPU-hours": "", "CPU-seconds": "", "cost (USD)": ""}
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    return {"GPU-hours": fmt(cost.gpu_hours, ".2f"), "CPU-seconds": fmt(cost.cpu_seconds, ".0f"),
            "cost (USD)": fmt(cost.cost_usd, ".2f")}


def batches_markdown(batches: list[BatchRow]) -> str:
    """One row per batch: firms, failed and skipped firms with their rates, committed, seconds, cost if known."""
    columns = ["batch", "firms", "failed", "failure rate", "skipped", "skip rate", "committed", "seconds"]
    with_cost = any(b.cost is not None for b in batches)
    rows = [
        {
            "batch": b.batch, "firms": b.firms, "failed": b.failed, "failure rate": f"{b.failure_rate:.1%}",
            "skipped": b.skipped, "skip rate": f"{b.skip_rate:.1%}", "committed": "yes" if b.committed else "NO",
            "seconds": f"{b.seconds:.1f}", **(_cost_cells(b) if with_cost else {}),
        }
        for b in batches
    ]
    if with_cost:
        columns += ["GPU-hours", "CPU-seconds", "cost (USD)"]
    return markdown_table(rows, columns, right=[c for c in columns if c not in ("batch", "committed")])


def _checks(summary: QuarterSummary, max_failure_rate: float) -> list[dg.AssetCheckResult]:
    missing = [b.batch for b in summary.batches if not b.committed]
    total = summary.total
    attempted, failed, skipped, rate = total.attempted, total.failed, total.skipped, total.failure_rate
    skipped_note = f"; {skipped} more were skipped (not counted as failures)" if skipped else ""
    return [
        dg.AssetCheckResult(
            check_name=CHECK_BATCHES_COMMITTED,
            passed=not missing,
            metadata={
                "batches": len(summary.batches),
                "missing_batches": dg.MetadataValue.json(missing),
                "verdict": "Every batch of the manifest committed its output." if not missing
                else f"Batches {', '.join(missing)} have no committed output: materialize those firm_topics "
                "partitions (or re-execute the backfill from failure), then this asset.",
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_QUARTER_FAILURE_RATE,
            passed=rate <= max_failure_rate,
            metadata={
                "failure_rate": rate,
                "skip_rate": total.skip_rate,
                "max_failure_rate": max_failure_rate,
                "verdict": f"{failed} of {attempted} firms attempted in the quarter failed ({rate:.1%}){skipped_note}; the "
                f"limit is {max_failure_rate:.1%}.",
            },
        ),
    ]


def _cost_metadata(summary: QuarterSummary) -> dict[str, Any]:
    """Quarter totals and per-firm averages of GPU-hours, CPU-seconds and USD, where cost records exist."""
    cost = summary.cost
    if cost is None:
        return {}
    out: dict[str, Any] = {"batches_with_cost": sum(1 for b in summary.batches if b.cost is not None)}
    for name, value in (("gpu_hours", cost.gpu_hours), ("cpu_seconds", cost.cpu_seconds),
                        ("cost_usd", cost.cost_usd)):
        if value is not None:
            out[name] = round(value, 4)
            out[f"{name}_per_firm"] = round(value / summary.costed_firms, 6) if summary.costed_firms else 0.0
    return out


def _stability_metadata(summary: QuarterSummary) -> dict[str, Any]:
    values = [v for v in summary.firms.column("stability").to_pylist() if v is not None]
    return {"firm_stability_median": round(statistics.median(values), 4)} if values else {}


def _metadata(summary: QuarterSummary, store_uri: str, picture_png: bytes) -> dict[str, Any]:
    firms = summary.firms
    status = Counter(firms.column("status").to_pylist())
    topics = sorted(firms.column("topics").to_pylist())
    return {
        "firms": firms.num_rows,
        "firms_ok": status.get("ok", 0),
        "firms_no_topics": status.get("no_topics", 0),
        "firms_failed": status.get("failed", 0),
        "firms_skipped": status.get("skipped", 0),
        "firms_missing": status.get("missing", 0),
        "failure_rate": round(summary.total.failure_rate, 4),
        "skip_rate": round(summary.total.skip_rate, 4),
        "topics": sum(topics),
        "topics_per_firm_median": topics[len(topics) // 2] if topics else 0,
        "sentences": sum(firms.column("sentences").to_pylist()),
        **_stability_metadata(summary),
        **_cost_metadata(summary),
        "batches": dg.MetadataValue.md(batches_markdown(summary.batches)),
        "picture": dg.MetadataValue.md(png_markdown("topics per firm and failure rate per batch", picture_png)),
        "path": dg.MetadataValue.path(store_uri),
        **{f"worker_seconds_{k}": round(v, 2) for k, v in sorted(summary.stage_seconds.items())},
    }


def build_quarter_summary(quarter_partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    all_batches = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=QUARTER_DIM)

    @dg.asset(
        name="quarter_topic_summary",
        partitions_def=quarter_partitions,
        deps=[
            dg.AssetDep("firm_topics", partition_mapping=all_batches),
            dg.AssetDep("firm_topic_failures", partition_mapping=all_batches),
        ],
        group_name="topics",
        kinds={"parquet"},
        description="One row per firm of the quarter (topics, sentences, status, error class), from every "
        "batch's committed output, with a picture of topics per firm and failure rate per batch.",
        check_specs=[
            dg.AssetCheckSpec(CHECK_BATCHES_COMMITTED, asset="quarter_topic_summary",
                              description="Every batch of the quarter's manifest has committed output."),
            dg.AssetCheckSpec(CHECK_QUARTER_FAILURE_RATE, asset="quarter_topic_summary",
                              description="Share of the quarter's firms that failed (skipped ones not counted) "
                              "is at most MAX_FAILURE_RATE."),
        ],
    )
    def quarter_topic_summary(
        context: dg.AssetExecutionContext, storage: StorageRoot, worker_settings: WorkerSettings
    ) -> dg.MaterializeResult:
        # matplotlib is imported here, not at module level: every run loads the code location, few draw.
        from ftm_assets.summary.chart import png_bytes, quarter_chart

        quarter = context.partition_key
        store = storage.store
        t0 = time.perf_counter()
        try:
            summary = summarize_quarter(store, quarter)
        except ManifestMissing as exc:
            raise dg.Failure(str(exc)) from exc
        sink = io.BytesIO()
        pq.write_table(summary.firms, sink, compression="zstd")
        store.write_bytes(layout.summary(quarter), sink.getvalue())
        picture = png_bytes(quarter_chart(summary, quarter, worker_settings.max_failure_rate))
        store.write_bytes(layout.summary_chart(quarter), picture)
        metadata = _metadata(summary, store.uri(layout.summary(quarter)), picture)
        metadata["chart_path"] = dg.MetadataValue.path(store.uri(layout.summary_chart(quarter)))
        stale = quarter_commits(store, quarter).stale
        if stale:
            context.log.warning(
                f"{len(stale)} committed batch(es) of {quarter} do not match the current manifest and are not "
                "counted: " + "; ".join(s.describe() for s in stale)
            )
        metadata["stale_batches"] = dg.MetadataValue.json(
            [{"batch": s.record.batch, "run_id": s.record.run_id, "reason": s.reason} for s in stale]
        )
        metadata["seconds"] = round(time.perf_counter() - t0, 2)
        return dg.MaterializeResult(
            metadata=metadata, check_results=_checks(summary, worker_settings.max_failure_rate)
        )

    return quarter_topic_summary

"""``quarter_topic_summary``: one row per firm of the quarter, read from every batch's committed output.

It depends on *all* batch partitions of its quarter (``MultiToSingleDimensionPartitionMapping`` on the
quarter dimension), so a backfill by quarter runs it once the quarter's batches are done. What a person
would rather look at than read (topics per firm, failure rate per batch) is drawn as a small SVG and shown
in the materialization's metadata; the same SVG and a firm-level Parquet are written under
``summaries/quarter=<q>/``.
"""

import base64
import io
import json
import time
from collections import Counter
from dataclasses import dataclass
from html import escape

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.partitions import QUARTER_DIM
from ftm_assets.readers import commit_records, read_failures, read_firm_topics_table
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.storage import Storage, layout

CHECK_BATCHES_COMMITTED = "every_batch_committed"
CHECK_QUARTER_FAILURE_RATE = "quarter_failure_rate_below_max"

# One row per manifest firm; ``status`` is ok | no_topics (only outlier sentences) | failed | missing (its
# batch has no committed output).
SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("quarter", pa.string(), nullable=False),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("firm_id", pa.string(), nullable=False),
        pa.field("firm_name", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("topics", pa.int32(), nullable=False),
        pa.field("sentences", pa.int32(), nullable=False),
        pa.field("outlier_sentences", pa.int32(), nullable=False),
        pa.field("error_class", pa.string()),
    ]
)


def summary_key(quarter: str) -> str:
    return f"summaries/quarter={quarter}/summary.parquet"


def chart_key(quarter: str) -> str:
    return f"summaries/quarter={quarter}/summary.svg"


@dataclass(frozen=True)
class BatchRow:
    batch: str
    firms: int
    failed: int
    committed: bool
    seconds: float

    @property
    def failure_rate(self) -> float:
        return self.failed / self.firms if self.firms else 0.0


@dataclass(frozen=True)
class QuarterSummary:
    firms: pa.Table  # SUMMARY_SCHEMA
    batches: list[BatchRow]
    stage_seconds: dict[str, float]


def _manifest(store: Storage, quarter: str) -> dict[str, list[str]]:
    key = layout.manifest(quarter)
    if not store.exists(key):
        raise dg.Failure(
            f"No firm manifest for {quarter} at {store.uri(key)}: materialize firm_manifest and the "
            f"firm_topics batches of {quarter} first."
        )
    rows = [json.loads(line) for line in store.read_text(key).splitlines() if line.strip()]
    return {row["batch"]: list(row["firm_ids"]) for row in rows}


def _status(committed: bool, failed: bool, topics: int) -> str:
    if not committed:
        return "missing"
    if failed:
        return "failed"
    return "ok" if topics else "no_topics"


def summarize_quarter(store: Storage, quarter: str) -> QuarterSummary:
    """Join the manifest with every committed batch: what happened to each firm, and to each batch."""
    manifest = _manifest(store, quarter)
    records = {rec["batch"]: rec for rec in commit_records(store, quarter)}
    topics = read_firm_topics_table(store, quarter).select(["firm_id", "firm_name", "topic_id", "n_sentences"])
    per_firm: dict[str, dict] = {}
    for row in topics.to_pylist():
        firm = per_firm.setdefault(row["firm_id"], {"name": row["firm_name"], "topics": 0, "sent": 0, "out": 0})
        firm["sent"] += row["n_sentences"]
        if row["topic_id"] >= 0:
            firm["topics"] += 1
        else:
            firm["out"] += row["n_sentences"]
    failures = {r["firm_id"]: r for r in read_failures(store, quarter).to_dict("records")}

    rows, batches, stages = [], [], Counter()
    for batch, firm_ids in sorted(manifest.items()):
        committed = batch in records
        for firm_id in firm_ids:
            firm, failure = per_firm.get(firm_id), failures.get(firm_id)
            status = _status(committed, failure is not None, firm["topics"] if firm else 0)
            rows.append(
                {
                    "quarter": quarter,
                    "batch": batch,
                    "firm_id": firm_id,
                    "firm_name": (firm or {}).get("name") or (failure or {}).get("firm_name"),
                    "status": status,
                    "topics": firm["topics"] if firm else 0,
                    "sentences": firm["sent"] if firm else 0,
                    "outlier_sentences": firm["out"] if firm else 0,
                    "error_class": failure["error_class"] if failure else None,
                }
            )
        record = records.get(batch, {})
        stages.update(record.get("seconds", {}))
        batches.append(
            BatchRow(
                batch=batch,
                firms=len(firm_ids),
                failed=sum(1 for f in firm_ids if f in failures),
                committed=committed,
                seconds=float(record.get("seconds", {}).get("total", 0.0)),
            )
        )
    return QuarterSummary(pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA), batches, dict(stages))


def _bars(x0: int, y0: int, w: int, h: int, title: str, labels: list[str], values: list[float],
          vmax: float, fmt: str, limit: float | None = None) -> list[str]:
    """One bar panel as SVG elements; ``limit`` draws a dashed red line at that value."""
    out = [f'<text x="{x0}" y="{y0 - 8}" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#555"/>']
    n = max(len(values), 1)
    slot = w / n
    for i, (label, value) in enumerate(zip(labels, values)):
        bh = h * value / vmax if vmax else 0
        x = x0 + i * slot + slot * 0.15
        out.append(f'<rect x="{x:.1f}" y="{y0 + h - bh:.1f}" width="{slot * 0.7:.1f}" height="{bh:.1f}" '
                   f'fill="#4f43dd"><title>{escape(label)}: {value:{fmt}}</title></rect>')
        if n <= 30:
            cx = x + slot * 0.35
            out.append(f'<text x="{cx:.1f}" y="{y0 + h + 14}" font-size="10" '
                       f'text-anchor="middle">{escape(label)}</text>')
            out.append(f'<text x="{cx:.1f}" y="{y0 + h - bh - 3:.1f}" font-size="10" '
                       f'text-anchor="middle">{value:{fmt}}</text>')
    if limit is not None and vmax:
        ly = y0 + h - h * min(limit, vmax) / vmax
        out.append(f'<line x1="{x0}" y1="{ly:.1f}" x2="{x0 + w}" y2="{ly:.1f}" stroke="#d33" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x0 + w}" y="{ly - 3:.1f}" font-size="10" fill="#d33" text-anchor="end">'
                   f'limit {limit:.0%}</text>')
    return out


def chart_svg(summary: QuarterSummary, quarter: str, max_failure_rate: float) -> str:
    """Two panels: how many firms got how many topics, and the failure rate of each batch."""
    topics, status = summary.firms.column("topics").to_pylist(), summary.firms.column("status").to_pylist()
    modelled = [t for t, s in zip(topics, status) if s in ("ok", "no_topics")]
    hist = Counter(modelled)
    topic_counts = list(range(0, max(hist, default=0) + 1))
    rates = [b.failure_rate for b in summary.batches]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="720" height="245" font-family="sans-serif">',
             '<rect width="720" height="245" fill="white"/>']
    parts += _bars(40, 60, 300, 150, f"{quarter}: firms by number of topics",
                   [str(t) for t in topic_counts], [hist.get(t, 0) for t in topic_counts],
                   max(hist.values(), default=0), "d")
    parts += _bars(400, 60, 280, 150, "failure rate per batch", [b.batch for b in summary.batches], rates,
                   max(max(rates, default=0.0), max_failure_rate * 1.25), ".0%", limit=max_failure_rate)
    parts.append("</svg>")
    return "\n".join(parts)


def _batches_markdown(batches: list[BatchRow]) -> str:
    lines = ["| batch | firms | failed | failure rate | committed | seconds |", "|---|---:|---:|---:|---|---:|"]
    lines += [f"| {b.batch} | {b.firms} | {b.failed} | {b.failure_rate:.1%} | {'yes' if b.committed else 'NO'} "
              f"| {b.seconds:.1f} |" for b in batches]
    return "\n".join(lines)


def _checks(summary: QuarterSummary, max_failure_rate: float) -> list[dg.AssetCheckResult]:
    missing = [b.batch for b in summary.batches if not b.committed]
    firms = sum(b.firms for b in summary.batches)
    failed = sum(b.failed for b in summary.batches)
    rate = failed / firms if firms else 0.0
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
                "max_failure_rate": max_failure_rate,
                "verdict": f"{failed} of {firms} firms of the quarter failed ({rate:.1%}); the limit is "
                f"{max_failure_rate:.1%}.",
            },
        ),
    ]


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
                              description="Share of the quarter's firms that failed is at most MAX_FAILURE_RATE."),
        ],
    )
    def quarter_topic_summary(
        context: dg.AssetExecutionContext, storage: StorageRoot, worker_settings: WorkerSettings
    ) -> dg.MaterializeResult:
        quarter = context.partition_key
        store = storage.store
        t0 = time.perf_counter()
        summary = summarize_quarter(store, quarter)
        sink = io.BytesIO()
        pq.write_table(summary.firms, sink, compression="zstd")
        store.write_bytes(summary_key(quarter), sink.getvalue())
        svg = chart_svg(summary, quarter, worker_settings.max_failure_rate)
        store.write_text(chart_key(quarter), svg)
        firms = summary.firms
        status = Counter(firms.column("status").to_pylist())
        topics = sorted(firms.column("topics").to_pylist())
        data_uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        return dg.MaterializeResult(
            metadata={
                "firms": firms.num_rows,
                "firms_ok": status.get("ok", 0),
                "firms_no_topics": status.get("no_topics", 0),
                "firms_failed": status.get("failed", 0),
                "firms_missing": status.get("missing", 0),
                "topics": sum(topics),
                "topics_per_firm_median": topics[len(topics) // 2] if topics else 0,
                "sentences": sum(firms.column("sentences").to_pylist()),
                "batches": dg.MetadataValue.md(_batches_markdown(summary.batches)),
                "picture": dg.MetadataValue.md(f"![topics per firm and failure rate per batch]({data_uri})"),
                "path": dg.MetadataValue.path(store.uri(summary_key(quarter))),
                "seconds": round(time.perf_counter() - t0, 2),
                **{f"worker_seconds_{k}": round(v, 2) for k, v in sorted(summary.stage_seconds.items())},
            },
            check_results=_checks(summary, worker_settings.max_failure_rate),
        )

    return quarter_topic_summary

"""The quarter summary's picture, drawn with matplotlib: axes, ticks and labels a reader can read numbers off.

Two panels: how many firms got how many topics, and the failure (and skip) rate of each batch against the
limit. Drawn on a bare ``Figure`` (Agg canvas, no pyplot): no global state, safe in any thread or process.
"""

from __future__ import annotations

import io
from collections import Counter

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ftm_assets.summary.quarter import BatchRow, QuarterSummary

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 3.8, 100  # a 1000 x 380 px PNG
MAX_UPRIGHT_BATCH_LABELS = 10  # more batches than this: their labels are turned to fit
MAX_LABELLED_BARS = 16  # more bars than this in a panel: no value on each bar (they would overlap), axes only
FAILED_COLOR, SKIPPED_COLOR, TOPICS_COLOR, LIMIT_COLOR = "#c0392b", "#e6a23c", "#4f43dd", "#333333"


def topics_histogram(summary: QuarterSummary) -> dict[int, int]:
    """Number of modelled firms (status ok or no_topics) per number of topics, every count from 0 to the max."""
    topics, status = summary.firms.column("topics").to_pylist(), summary.firms.column("status").to_pylist()
    hist = Counter(t for t, s in zip(topics, status) if s in ("ok", "no_topics"))
    return {t: hist.get(t, 0) for t in range(0, max(hist, default=0) + 1)}


def _topics_panel(ax, summary: QuarterSummary, quarter: str) -> None:
    hist = topics_histogram(summary)
    bars = ax.bar(list(hist), list(hist.values()), color=TOPICS_COLOR, width=0.8)
    if len(hist) <= MAX_LABELLED_BARS:
        ax.bar_label(bars, labels=[str(v) if v else "" for v in hist.values()], fontsize=8, padding=2)
    ax.set_title(f"{quarter}: firms by number of topics", fontsize=11)
    ax.set_xlabel("topics per firm (outliers not counted)")
    ax.set_ylabel("firms")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(max(hist.values(), default=0), 1) * 1.18)
    ax.grid(axis="y", alpha=0.3)


def _rate_label(batch: BatchRow, rate: float) -> str:
    """The value on a bar; a batch without committed output has no rate to show."""
    return f"{rate:.0%}" if batch.committed else "n/a"


def _rates_panel(ax, summary: QuarterSummary, max_failure_rate: float) -> None:
    batches = summary.batches
    with_skips = any(b.skipped for b in batches)
    width = 0.4 if with_skips else 0.7
    x = list(range(len(batches)))
    failed = ax.bar([i - width / 2 if with_skips else i for i in x], [b.failure_rate for b in batches],
                    width=width, color=FAILED_COLOR, label="failed")
    labelled = len(batches) * (2 if with_skips else 1) <= MAX_LABELLED_BARS
    if labelled:
        ax.bar_label(failed, labels=[_rate_label(b, b.failure_rate) for b in batches], fontsize=8, padding=2)
    if with_skips:
        skipped = ax.bar([i + width / 2 for i in x], [b.skip_rate for b in batches], width=width,
                         color=SKIPPED_COLOR, label="skipped")
        if labelled:
            ax.bar_label(skipped, labels=[_rate_label(b, b.skip_rate) for b in batches], fontsize=8, padding=2)
    ax.axhline(max_failure_rate, color=LIMIT_COLOR, linestyle="--", linewidth=1,
               label=f"failure limit {max_failure_rate:.0%}")
    ax.set_xticks(x, [b.batch if b.committed else f"{b.batch}\n(not committed)" for b in batches],
                  rotation=90 if len(batches) > MAX_UPRIGHT_BATCH_LABELS else 0)
    top = max([b.failure_rate for b in batches] + [b.skip_rate for b in batches] + [max_failure_rate * 1.25, 0.04])
    ax.set_ylim(0, min(top * 1.25, 1.05))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title("failure rate per batch" + (" (and skip rate)" if with_skips else ""), fontsize=11)
    ax.set_xlabel("batch")
    ax.set_ylabel("share of the batch's firms")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside, never on a bar
    ax.grid(axis="y", alpha=0.3)


def quarter_chart(summary: QuarterSummary, quarter: str, max_failure_rate: float) -> Figure:
    """Topics per firm and failure rate per batch, side by side."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    topics_ax, rates_ax = fig.subplots(1, 2, width_ratios=[3, 2])
    _topics_panel(topics_ax, summary, quarter)
    _rates_panel(rates_ax, summary, max_failure_rate)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG, at its own size and DPI."""
    sink = io.BytesIO()
    fig.savefig(sink, format="png", dpi=fig.dpi, facecolor="white")
    return sink.getvalue()

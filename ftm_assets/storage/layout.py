"""Where each output lives under the storage root (docs/design.md, Asset graph). Keys only, no I/O.

A batch's parts and failures carry the writing attempt's ``token`` in their names, so a run never
overwrites a file that the current commit names: a new output becomes visible only when its commit record
replaces the old one, and the old files are deleted only after that.
"""

from __future__ import annotations


def raw_transcripts_prefix(quarter: str) -> str:
    return f"raw/transcripts/quarter={quarter}/"


def raw_transcripts_part(quarter: str, part: int = 0) -> str:
    return f"{raw_transcripts_prefix(quarter)}part-{part:04d}.parquet"


def manifest(quarter: str) -> str:
    return f"manifests/quarter={quarter}/batches.jsonl"


def firm_topics_prefix(quarter: str) -> str:
    return f"intermediate/firm-topics/quarter={quarter}/"


def firm_topics_part(quarter: str, batch: str, token: str, part: int) -> str:
    return f"{firm_topics_prefix(quarter)}batch_{batch}_{token}_part_{part:04d}.parquet"


def sentences_prefix(quarter: str) -> str:
    return f"intermediate/sentences/quarter={quarter}/"


def sentences_part(quarter: str, batch: str, token: str, part: int) -> str:
    return f"{sentences_prefix(quarter)}batch_{batch}_{token}_part_{part:04d}.parquet"


def failures_prefix(quarter: str) -> str:
    return f"failures/quarter={quarter}/"


def failures(quarter: str, batch: str, token: str) -> str:
    return f"{failures_prefix(quarter)}batch_{batch}_{token}.parquet"


def embeddings_prefix(quarter: str) -> str:
    """Stored sentence embeddings (fp16), reused by re-runs; no reader of the outputs looks here."""
    return f"intermediate/embeddings/quarter={quarter}/"


def embeddings_part(quarter: str, batch: str, token: str, part: int) -> str:
    return f"{embeddings_prefix(quarter)}batch_{batch}_{token}_part_{part:04d}.parquet"


def batch_files(quarter: str, batch: str) -> list[tuple[str, str]]:
    """(folder prefix, file-name prefix) pairs that hold every data file of a (quarter, batch), any run."""
    return [(prefix, f"batch_{batch}_") for prefix in
            (firm_topics_prefix(quarter), sentences_prefix(quarter), failures_prefix(quarter),
             embeddings_prefix(quarter))]


def progress_prefix(quarter: str) -> str:
    return f"progress/{quarter}/"


def checkpoint(quarter: str, batch: str) -> str:
    return f"{progress_prefix(quarter)}batch_{batch}_checkpoint.json"


COMMIT_SUFFIX = "_commit.json"


def commit_record(quarter: str, batch: str) -> str:
    """The final record of a (quarter, batch): the parts that make up its output, and its counts."""
    return f"{progress_prefix(quarter)}batch_{batch}{COMMIT_SUFFIX}"


def lease(quarter: str, batch: str) -> str:
    """Who is writing the (quarter, batch) now: one writer per partition."""
    return f"{progress_prefix(quarter)}batch_{batch}_lease.json"


def poison(quarter: str, batch: str) -> str:
    """Firms of the batch whose processing hit a critical error (out of memory...), with the attempt."""
    return f"{progress_prefix(quarter)}batch_{batch}_poison.json"


def summary(quarter: str) -> str:
    """``quarter_topic_summary``'s firm table (one row per manifest firm)."""
    return f"summaries/quarter={quarter}/summary.parquet"


def summary_chart(quarter: str) -> str:
    """``quarter_topic_summary``'s picture, the PNG its metadata shows."""
    return f"summaries/quarter={quarter}/summary.png"


def costs_prefix(quarter: str) -> str:
    return f"costs/quarter={quarter}/"


def cost_record(quarter: str, batch: str) -> str:
    """What a batch's job cost (launcher, attempts, GPU-hours, CPU-seconds, USD), written by the launcher."""
    return f"{costs_prefix(quarter)}batch_{batch}.json"


# Themes (ftm_assets/themes): one folder per quarter, the registry and the cross-quarter pictures.
THEMES_PREFIX = "themes/"


def themes_quarter_prefix(quarter: str) -> str:
    return f"{THEMES_PREFIX}quarter={quarter}/"


def themes_table(quarter: str, name: str) -> str:
    """``themes.parquet``, ``members.parquet``, ``exposure.parquet``, ``outcome.json`` or a picture."""
    return f"{themes_quarter_prefix(quarter)}{name}"


def theme_registry() -> str:
    return f"{THEMES_PREFIX}registry.json"


def call_returns(quarter: str) -> str:
    """``call_returns``: one row per (firm, call) with a permno: event day, CARs, market-model fit."""
    return f"returns/quarter={quarter}/call_returns.parquet"

"""Where each output lives under the storage root (docs/design.md, Asset graph). Keys only, no I/O."""

from __future__ import annotations


def raw_transcripts_prefix(quarter: str) -> str:
    return f"raw/transcripts/quarter={quarter}/"


def raw_transcripts_part(quarter: str, part: int = 0) -> str:
    return f"{raw_transcripts_prefix(quarter)}part-{part:04d}.parquet"


def manifest(quarter: str) -> str:
    return f"manifests/quarter={quarter}/batches.jsonl"


def firm_topics_prefix(quarter: str) -> str:
    return f"intermediate/firm-topics/quarter={quarter}/"


def firm_topics_part(quarter: str, batch: str, part: int) -> str:
    return f"{firm_topics_prefix(quarter)}batch_{batch}_part_{part:04d}.parquet"


def sentences_prefix(quarter: str) -> str:
    return f"intermediate/sentences/quarter={quarter}/"


def sentences_part(quarter: str, batch: str, part: int) -> str:
    return f"{sentences_prefix(quarter)}batch_{batch}_part_{part:04d}.parquet"


def failures(quarter: str, batch: str) -> str:
    return f"failures/quarter={quarter}/batch_{batch}.parquet"


def progress_prefix(quarter: str) -> str:
    return f"progress/{quarter}/"


def checkpoint(quarter: str, batch: str) -> str:
    return f"{progress_prefix(quarter)}batch_{batch}_checkpoint.json"


COMMIT_SUFFIX = "_commit.json"


def commit_record(quarter: str, batch: str) -> str:
    """The final record of a (quarter, batch): the parts that make up its output, and its counts."""
    return f"{progress_prefix(quarter)}batch_{batch}{COMMIT_SUFFIX}"


# Themes (ftm_assets/themes): one folder per quarter, the registry and the cross-quarter pictures.
THEMES_PREFIX = "themes/"


def themes_quarter_prefix(quarter: str) -> str:
    return f"{THEMES_PREFIX}quarter={quarter}/"


def themes_table(quarter: str, name: str) -> str:
    """``themes.parquet``, ``members.parquet``, ``exposure.parquet``, ``outcome.json`` or a picture."""
    return f"{themes_quarter_prefix(quarter)}{name}"


def theme_registry() -> str:
    return f"{THEMES_PREFIX}registry.json"

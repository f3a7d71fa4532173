"""Where each Batch attempt's Pipes messages live on S3: the one rule the worker and the launcher share.

The worker writes its message chunks under ``<key_prefix>/attempt-N/<index>.json`` (``worker.pipes_io``);
the launcher's reader (``launch.aws_batch.message_reader``) lists them by attempt and keeps the last attempt's
results only. No Dagster and no ``dagster_pipes`` import: both sides import this module.
"""

from __future__ import annotations

ATTEMPT_SEGMENT = "attempt"


def attempt_key_prefix(key_prefix: str, attempt: int) -> str:
    """Where attempt ``attempt`` writes its message chunks."""
    return f"{key_prefix.rstrip('/')}/{ATTEMPT_SEGMENT}-{attempt}"


def parse_attempt_segment(segment: str) -> int | None:
    """The attempt number of an ``attempt-N`` key segment, None for anything else."""
    prefix, _, number = segment.partition("-")
    if prefix != ATTEMPT_SEGMENT or not number.isdigit():
        return None
    return int(number)

"""What a quarter's raw transcripts are now, as storage versions: the one definition that resume checkpoints,
Batch job reuse and ``call_returns``' staleness check compare (content hashes locally, ETags on S3, so an
identical re-upload keeps them)."""

from __future__ import annotations

import hashlib
import json

from ftm_assets.storage import Storage, layout


def raw_transcripts_versions(store: Storage, quarter: str) -> dict[str, str]:
    """Key -> version of every Parquet part of the quarter's raw transcripts (temp files of a killed write aside)."""
    return {k: v for k, v in store.versions(layout.raw_transcripts_prefix(quarter)).items() if k.endswith(".parquet")}


def raw_transcripts_fingerprint(store: Storage, quarter: str) -> str:
    """A short digest of ``raw_transcripts_versions``: changes when any part is rewritten with other bytes."""
    text = json.dumps(raw_transcripts_versions(store, quarter), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

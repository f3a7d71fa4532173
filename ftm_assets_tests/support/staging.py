"""Test helpers: put a quarter's raw transcripts and manifest into a storage root, as the upstream assets do,
and build raw rows for hand-made firms."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.storage.manifest import assign_batches, write_manifest
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.storage import Storage
from ftm_assets.storage import layout


def stage_quarter(storage: Storage, quarter: str, table: pa.Table, batch_count: int = 1) -> list[str]:
    """Write ``table`` as the quarter's raw transcripts and a manifest; return the firm ids in order."""
    table = conform(table, RAW_TRANSCRIPTS_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    storage.write_bytes(layout.raw_transcripts_part(quarter), sink.getvalue())
    firm_ids = sorted(set(table.column("firm_id").to_pylist()))
    write_manifest(storage, quarter, assign_batches(quarter, firm_ids, batch_count))
    return firm_ids


def firm_rows(quarter: str, firm_id: str, texts: list[str], speaker_type: str = "Executives") -> list[dict]:
    day = dt.date(int(quarter[:4]), 3 * int(quarter[-1]) - 1, 12)
    return [
        {"quarter": quarter, "firm_id": firm_id, "firm_name": f"{firm_id} (test)", "call_id": 1,
         "earnings_call_date": day, "component_order": i, "speaker_type": speaker_type, "text": text}
        for i, text in enumerate(texts)
    ]


def rows_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=RAW_TRANSCRIPTS_SCHEMA)

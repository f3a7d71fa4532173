"""Reads a batch's firms: the manifest's firm ids, then their rows of the quarter's raw transcripts."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.storage import Storage, StorageError
from ftm_assets.storage import layout
from ftm_assets.worker.segment import Component


@dataclass(frozen=True)
class FirmInput:
    firm_id: str
    firm_name: str | None
    gvkey: str | None
    permno: int | None
    earnings_call_date: dt.date | None  # the latest call of the quarter
    components: list[Component]


def read_raw_for_firms(storage: Storage, quarter: str, firm_ids: list[str]) -> pa.Table:
    """The quarter's component rows of ``firm_ids``, sorted by firm, call and component order."""
    keys = [k for k in storage.list(layout.raw_transcripts_prefix(quarter)) if k.endswith(".parquet")]
    if not keys:
        raise StorageError(
            f"No raw transcripts for {quarter} under {storage.uri(layout.raw_transcripts_prefix(quarter))}: "
            f"materialize raw_transcripts for {quarter} first."
        )
    wanted = pa.array(sorted(set(firm_ids)), pa.string())
    tables = []
    with tempfile.TemporaryDirectory(prefix="ftm-raw-") as tmp:
        for i, key in enumerate(keys):
            local = Path(tmp) / f"part-{i}.parquet"
            storage.download(key, local)
            table = pq.read_table(local, filters=pc.field("firm_id").isin(wanted))
            tables.append(conform(table, RAW_TRANSCRIPTS_SCHEMA))
    table = pa.concat_tables(tables) if tables else RAW_TRANSCRIPTS_SCHEMA.empty_table()
    return table.sort_by([("firm_id", "ascending"), ("call_id", "ascending"), ("component_order", "ascending")])


def iter_firms(table: pa.Table, firm_ids: list[str], names: dict[str, str] | None = None) -> Iterator[FirmInput]:
    """One FirmInput per manifest firm, in manifest order; a firm without rows gets no components."""
    rows_by_firm: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        rows_by_firm.setdefault(row["firm_id"], []).append(row)
    for firm_id in firm_ids:
        rows = rows_by_firm.pop(firm_id, [])
        latest_first = sorted(rows, key=lambda r: r["earnings_call_date"] or dt.date.min, reverse=True)

        def first(column: str):
            return next((r[column] for r in latest_first if r[column] is not None), None)

        yield FirmInput(
            firm_id=firm_id,
            firm_name=first("firm_name") or (names or {}).get(firm_id),
            gvkey=first("gvkey"),
            permno=first("permno"),
            earnings_call_date=first("earnings_call_date"),
            components=[
                Component(r["call_id"], r["component_order"], r["speaker_type"], r["text"]) for r in rows
            ],
        )

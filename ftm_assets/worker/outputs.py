"""Writes a batch's Parquet parts, failures, checkpoint and commit record, each atomically.

Order matters for resumability: a part is written before the checkpoint that names it, and the commit
record (the list of parts that *is* the partition's output) is written last.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.schema import FAILURES_SCHEMA, FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA
from ftm_assets.storage import Storage
from ftm_assets.storage import layout


def parquet_bytes(table: pa.Table, metadata: dict[str, str]) -> bytes:
    """Parquet with ``metadata`` as key-value metadata (what made the file)."""
    merged = dict(table.schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(merged), sink, compression="zstd")
    return sink.getvalue()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class BatchState:
    """Progress of one (quarter, batch): what the checkpoint and the commit record hold."""

    run_id: str
    quarter: str
    batch: str
    firms_total: int = 0
    firms_done: list[str] = field(default_factory=list)
    topic_parts: list[str] = field(default_factory=list)
    sentence_parts: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    checkpoint_seq: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "BatchState":
        return cls(**json.loads(text))

    def add_count(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(n)

    def add_seconds(self, name: str, s: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + s, 3)


class BatchWriter:
    def __init__(self, storage: Storage, quarter: str, batch: str, file_metadata: dict[str, str]):
        self.storage = storage
        self.quarter = quarter
        self.batch = batch
        self.file_metadata = file_metadata

    # -- parts ---------------------------------------------------------------------------------
    def write_part(self, state: BatchState, topic_rows: list[dict], sentence_rows: list[dict]) -> None:
        """Write the next pair of parts and record them in ``state`` (not yet checkpointed)."""
        index = len(state.topic_parts)
        topics_key = layout.firm_topics_part(self.quarter, self.batch, index)
        sentences_key = layout.sentences_part(self.quarter, self.batch, index)
        topics = pa.Table.from_pylist(topic_rows, schema=FIRM_TOPICS_SCHEMA)
        sentences = pa.Table.from_pylist(sentence_rows, schema=SENTENCES_SCHEMA)
        self.storage.write_bytes(topics_key, parquet_bytes(topics, self.file_metadata))
        self.storage.write_bytes(sentences_key, parquet_bytes(sentences, self.file_metadata))
        state.topic_parts.append(topics_key)
        state.sentence_parts.append(sentences_key)

    def write_failures(self, state: BatchState) -> str:
        key = layout.failures(self.quarter, self.batch)
        table = pa.Table.from_pylist(state.failures, schema=FAILURES_SCHEMA)
        self.storage.write_bytes(key, parquet_bytes(table, self.file_metadata))
        return key

    # -- checkpoint ------------------------------------------------------------------------------
    def load_checkpoint(self) -> BatchState | None:
        key = layout.checkpoint(self.quarter, self.batch)
        if not self.storage.exists(key):
            return None
        return BatchState.from_json(self.storage.read_text(key))

    def save_checkpoint(self, state: BatchState) -> None:
        state.checkpoint_seq += 1
        self.storage.write_text(layout.checkpoint(self.quarter, self.batch), state.to_json())

    def clear_checkpoint(self) -> None:
        self.storage.delete(layout.checkpoint(self.quarter, self.batch))

    # -- commit ------------------------------------------------------------------------------------
    def load_commit(self) -> dict[str, Any] | None:
        key = layout.commit_record(self.quarter, self.batch)
        return json.loads(self.storage.read_text(key)) if self.storage.exists(key) else None

    def retract_commit(self) -> None:
        """A new run of the partition starts: the previous output stops being the partition's output."""
        self.storage.delete(layout.commit_record(self.quarter, self.batch))

    def commit(self, state: BatchState, failures_key: str) -> dict[str, Any]:
        record = {
            "run_id": state.run_id,
            "quarter": self.quarter,
            "batch": self.batch,
            "committed_at": now_utc().isoformat(),
            "firm_topics_parts": state.topic_parts,
            "sentences_parts": state.sentence_parts,
            "failures": failures_key,
            "firms_total": state.firms_total,
            "counts": state.counts,
            "seconds": state.seconds,
            "metadata": self.file_metadata,
        }
        self.storage.write_text(layout.commit_record(self.quarter, self.batch), json.dumps(record, indent=1))
        self._delete_stale_parts(state)
        return record

    def _delete_stale_parts(self, state: BatchState) -> None:
        """Parts of this batch from an earlier, longer run: no commit names them, so remove them."""
        keep = set(state.topic_parts) | set(state.sentence_parts)
        for prefix in (layout.firm_topics_prefix(self.quarter), layout.sentences_prefix(self.quarter)):
            for key in self.storage.list(prefix):
                if key.rsplit("/", 1)[-1].startswith(f"batch_{self.batch}_part_") and key not in keep:
                    self.storage.delete(key)

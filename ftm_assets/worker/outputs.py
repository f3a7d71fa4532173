"""Writes a batch's Parquet parts, failures, checkpoint and commit record, each atomically.

Order matters: a part is written before the checkpoint that names it; every data file carries the writing
attempt's token in its name, so nothing the current commit names is ever overwritten; the new commit record
replaces the old one in one write, and only then are files that no record names deleted. The checkpoint and
the commit record are written on the condition that they are still the version this writer last read or
wrote under its lease: a writer that stalled while another took the partition over cannot land either.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.schema import FAILURES_SCHEMA, FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA
from ftm_assets.storage import PreconditionFailed, Storage, StorageError, layout
from ftm_assets.storage.commit import CommitRecord, load_commit_versioned, write_commit
from ftm_assets.storage.lease import LeaseLost
from ftm_assets.worker.crash import crash_point


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
    inputs_fingerprint: str = ""  # a checkpoint resumes only for the same inputs and settings
    embedding_parts: list[str] = field(default_factory=list)  # stored embeddings these firms wrote or reused
    embedding_carried: list[str] = field(default_factory=list)  # a discarded checkpoint's, still to reuse

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "BatchState":
        """A checkpoint of this version or a newer one (fields it does not know are ignored)."""
        known = set(cls.__dataclass_fields__)
        state = cls(**{k: v for k, v in json.loads(text).items() if k in known})
        for row in state.failures:  # JSON holds the timestamps as text; the failures file wants datetimes
            if isinstance(row.get("processing_timestamp"), str):
                row["processing_timestamp"] = dt.datetime.fromisoformat(row["processing_timestamp"])
        return state

    def add_count(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(n)

    def add_seconds(self, name: str, s: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + s, 3)


_UNREAD = object()


def _read_versioned_or_none(storage: Storage, key: str) -> tuple[bytes | None, str | None]:
    try:
        return storage.read_versioned(key)
    except StorageError:
        if storage.exists(key):
            raise
        return None, None


class BatchWriter:
    """The files of one (quarter, batch) written by one attempt (``token``, part of every file name)."""

    def __init__(self, storage: Storage, quarter: str, batch: str, token: str, file_metadata: dict[str, str]):
        self.storage = storage
        self.quarter = quarter
        self.batch = batch
        self.token = token
        self.file_metadata = file_metadata
        # Versions of the checkpoint and the commit record as last read or written (None: absent); the next
        # write is conditional on them. _UNREAD: never read, so the first write reads the current version.
        self.checkpoint_version: str | None | object = _UNREAD
        self.commit_version: str | None | object = _UNREAD

    # -- parts ---------------------------------------------------------------------------------
    def write_part(self, state: BatchState, topic_rows: list[dict], sentence_rows: list[dict]) -> None:
        """Write the next pair of parts and record them in ``state`` (not yet checkpointed)."""
        index = len(state.topic_parts)
        topics_key = layout.firm_topics_part(self.quarter, self.batch, self.token, index)
        sentences_key = layout.sentences_part(self.quarter, self.batch, self.token, index)
        topics = pa.Table.from_pylist(topic_rows, schema=FIRM_TOPICS_SCHEMA)
        sentences = pa.Table.from_pylist(sentence_rows, schema=SENTENCES_SCHEMA)
        self.storage.write_bytes(topics_key, parquet_bytes(topics, self.file_metadata))
        self.storage.write_bytes(sentences_key, parquet_bytes(sentences, self.file_metadata))
        state.topic_parts.append(topics_key)
        state.sentence_parts.append(sentences_key)

    def write_embeddings(self, state: BatchState, data: bytes) -> str:
        """Write the new stored embeddings of the next part (``embeddings.encode_file``) and record the file."""
        key = layout.embeddings_part(self.quarter, self.batch, self.token, len(state.topic_parts))
        self.storage.write_bytes(key, data)
        state.embedding_parts.append(key)
        return key

    def write_failures(self, state: BatchState) -> str:
        key = layout.failures(self.quarter, self.batch, self.token)
        table = pa.Table.from_pylist(state.failures, schema=FAILURES_SCHEMA)
        self.storage.write_bytes(key, parquet_bytes(table, self.file_metadata))
        return key

    # -- checkpoint ------------------------------------------------------------------------------
    def load_checkpoint(self) -> BatchState | None:
        key = layout.checkpoint(self.quarter, self.batch)
        data, self.checkpoint_version = _read_versioned_or_none(self.storage, key)
        return None if data is None else BatchState.from_json(data.decode("utf-8"))

    def save_checkpoint(self, state: BatchState) -> None:
        """Write the checkpoint if it is still the one this writer last read or wrote (LeaseLost otherwise)."""
        key = layout.checkpoint(self.quarter, self.batch)
        if self.checkpoint_version is _UNREAD:
            self.checkpoint_version = _read_versioned_or_none(self.storage, key)[1]
        state.checkpoint_seq += 1
        try:
            self.checkpoint_version = self.storage.write_if(key, state.to_json().encode("utf-8"),
                                                            self.checkpoint_version)
        except PreconditionFailed as exc:
            raise LeaseLost(f"{self.quarter} batch {self.batch}: the checkpoint {self.storage.uri(key)} was changed "
                            "or cleared by another run since this one wrote it (this run stalled past its lease); "
                            "this run must not go on.") from exc

    def clear_checkpoint(self) -> None:
        self.storage.delete(layout.checkpoint(self.quarter, self.batch))
        self.checkpoint_version = None

    def missing_parts(self, state: BatchState) -> list[str]:
        """Parts a checkpoint names that are not in storage (deleted by a later run's clean-up)."""
        return [k for k in [*state.topic_parts, *state.sentence_parts] if not self.storage.exists(k)]

    # -- commit ------------------------------------------------------------------------------------
    def load_commit(self) -> CommitRecord | None:
        record, self.commit_version = load_commit_versioned(self.storage, self.quarter, self.batch)
        return record

    def commit(self, state: BatchState, failures_key: str, batch_count: int, manifest_fingerprint: str) -> CommitRecord:
        """Replace the partition's commit record with one naming this state's files (one atomic write)."""
        record = CommitRecord(
            run_id=state.run_id,
            quarter=self.quarter,
            batch=self.batch,
            committed_at=now_utc().isoformat(),
            firm_topics_parts=list(state.topic_parts),
            sentences_parts=list(state.sentence_parts),
            failures=failures_key,
            firms_total=state.firms_total,
            counts=dict(state.counts),
            seconds=dict(state.seconds),
            metadata=dict(self.file_metadata),
            batch_count=batch_count,
            manifest_fingerprint=manifest_fingerprint,
            inputs_fingerprint=state.inputs_fingerprint,
            token=self.token,
            embedding_parts=list(state.embedding_parts),
        )
        if self.commit_version is _UNREAD:
            self.load_commit()
        try:
            self.commit_version = write_commit(self.storage, record, self.commit_version)
        except PreconditionFailed as exc:
            raise LeaseLost(f"{self.quarter} batch {self.batch}: {exc} This run stalled past its lease and must "
                            "not replace that output.") from exc
        return record

    def unnamed_files(self, record: CommitRecord) -> list[str]:
        """Data files of this (quarter, batch) that ``record`` does not name: earlier, failed or killed runs'."""
        keep = set(record.files)
        out = []
        for folder, name_prefix in layout.batch_files(self.quarter, self.batch):
            out += [k for k in self.storage.list(folder)
                    if k.rsplit("/", 1)[-1].startswith(name_prefix) and k not in keep]
        return out

    def delete_unnamed(self, record: CommitRecord, log: logging.Logger) -> int:
        """Delete every file of the partition that the commit does not name (call while holding the lease)."""
        stale = self.unnamed_files(record)
        # Temporary files of writes that a kill interrupted (locally; S3 leaves none): this batch's, any run.
        stale += [k for folder, name_prefix in layout.batch_files(self.quarter, self.batch)
                  for k in self.storage.temp_files(folder, name_prefix)]
        for i, key in enumerate(stale):
            self.storage.delete(key)
            if i == 0:
                crash_point("during-cleanup")
        if stale:
            log.info(f"Deleted {len(stale)} file(s) of {self.quarter} batch {self.batch} that no commit names.")
        return len(stale)

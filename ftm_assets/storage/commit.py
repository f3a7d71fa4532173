"""The commit record: the one object that says which files *are* a (quarter, batch)'s output.

A run writes its parts under names of its own, then replaces the previous record with one atomic write
(rename locally, one PUT on S3); readers follow records only, so they see the old output or the new one,
never a mix. A record also says which manifest it was made for (batch count and the fingerprint of its
batch's firm list): after ``FTM_BATCH_COUNT`` changes, records of the old count are *stale* and readers
skip them instead of reading a firm twice. No Dagster import: the worker, readers and assets share it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from ftm_assets.storage import PreconditionFailed, Storage, StorageError, layout
from ftm_assets.storage.manifest import BatchEntry, read_manifest


@dataclass(frozen=True)
class CommitRecord:
    """What a finished (quarter, batch) produced; keys are relative to the storage root."""

    run_id: str  # the Dagster run that committed it
    quarter: str
    batch: str
    committed_at: str  # ISO 8601, UTC
    firm_topics_parts: list[str]
    sentences_parts: list[str]
    failures: str  # the failures file (failed and skipped firms)
    firms_total: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # what made the files (model, versions, params)
    batch_count: int = 0  # of the manifest it was made for; 0: a record older than this field (stale)
    manifest_fingerprint: str = ""  # BatchEntry.fingerprint of its batch
    inputs_fingerprint: str = ""  # manifest + raw transcripts + topic settings (see worker/batch.py)
    token: str = ""  # the writing attempt's token, part of its file names
    # Stored embeddings the output's firms were embedded into or reused from (kept for re-runs; not output).
    embedding_parts: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        """Every data file the record names (kept while it is the partition's output)."""
        return [*self.firm_topics_parts, *self.sentences_parts, self.failures, *self.embedding_parts]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "CommitRecord":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def stale_reason(self, entries: list[BatchEntry] | None) -> str | None:
        """Why the record does not belong to the current manifest ``entries``; None when it does."""
        if entries is None:
            return "the quarter has no firm manifest"
        if not self.manifest_fingerprint:
            return "the record predates manifest fingerprints; re-materialize the partition"
        if self.batch_count != len(entries):
            return f"made for {self.batch_count} batches, the manifest now has {len(entries)}"
        entry = next((e for e in entries if e.batch == self.batch), None)
        if entry is None:
            return f"batch {self.batch} is not in the manifest"
        if entry.fingerprint != self.manifest_fingerprint:
            return "its firm list differs from the manifest's"
        return None


def load_commit(storage: Storage, quarter: str, batch: str) -> CommitRecord | None:
    return load_commit_versioned(storage, quarter, batch)[0]


def load_commit_versioned(storage: Storage, quarter: str, batch: str) -> tuple[CommitRecord | None, str | None]:
    """The record and its storage version (None, None when there is none): what a fenced commit replaces."""
    key = layout.commit_record(quarter, batch)
    try:
        data, version = storage.read_versioned(key)
    except StorageError:
        if storage.exists(key):
            raise
        return None, None
    return CommitRecord.from_json(data.decode("utf-8")), version


def write_commit(storage: Storage, record: CommitRecord, version: str | None) -> str:
    """Replace the (quarter, batch)'s record in one atomic write, the switch from old to new output, only if it
    is still at ``version`` (None: only if there is none); the new version. PreconditionFailed otherwise: a
    writer that stalled past its lease finds its successor's record there and must not replace it."""
    key = layout.commit_record(record.quarter, record.batch)
    try:
        return storage.write_if(key, record.to_json().encode("utf-8"), version)
    except PreconditionFailed as exc:
        raise PreconditionFailed(f"The commit record {storage.uri(key)} changed since this run read it: another "
                                 f"run committed {record.quarter} batch {record.batch} meanwhile.") from exc


@dataclass(frozen=True)
class StaleCommit:
    record: CommitRecord
    reason: str

    def describe(self) -> str:
        return f"{self.record.quarter} batch {self.record.batch} (run {self.record.run_id}): {self.reason}"


@dataclass(frozen=True)
class QuarterCommits:
    """A quarter's commit records, split by whether they match its current manifest."""

    quarter: str
    current: list[CommitRecord]
    stale: list[StaleCommit]
    missing: list[str]  # manifest batches with no record at all
    batch_count: int | None  # of the current manifest; None: no manifest
    manifest_batches: tuple[str, ...] = ()  # the current manifest's batch keys

    @property
    def complete(self) -> bool:
        """Every batch of the manifest has a current commit."""
        return self.batch_count is not None and not self.missing and len(self.current) == self.batch_count

    @property
    def stale_in_manifest(self) -> list[StaleCommit]:
        """Stale records of batches the manifest still has: those batches must be materialized again."""
        return [s for s in self.stale if self.batch_count is None or s.record.batch in self.manifest_batches]

    @property
    def outside_manifest(self) -> list[StaleCommit]:
        """Records of batches the manifest no longer has (``FTM_BATCH_COUNT`` lowered): left over, not missing;
        their firms belong to the current batches, so nothing is to be redone for them."""
        return [s for s in self.stale if s not in self.stale_in_manifest]

    def problems(self) -> list[str]:
        """One line per missing or stale batch of the manifest, for warnings and errors (leftover records of
        batches outside the manifest are reported by firm_manifest and the summary, not here)."""
        out = [f"{self.quarter} batch {b}: not materialized" for b in self.missing]
        out += [f"stale {s.describe()}" for s in self.stale_in_manifest]
        if self.batch_count is None and not self.stale:
            out.append(f"{self.quarter}: no firm manifest (nothing materialized)")
        return out


def quarter_commits(storage: Storage, quarter: str) -> QuarterCommits:
    """Every record of ``quarter`` checked against its manifest."""
    entries = read_manifest(storage, quarter)
    keys = [k for k in storage.list(layout.progress_prefix(quarter)) if k.endswith(layout.COMMIT_SUFFIX)]
    current: list[CommitRecord] = []
    stale: list[StaleCommit] = []
    for key in keys:
        try:
            record = CommitRecord.from_json(storage.read_text(key))
        except (ValueError, TypeError) as exc:
            raise StorageError(f"The commit record {storage.uri(key)} is unreadable ({exc}).") from exc
        reason = record.stale_reason(entries)
        if reason is None:
            current.append(record)
        else:
            stale.append(StaleCommit(record, reason))
    recorded = {r.batch for r in current} | {s.record.batch for s in stale}
    missing = [e.batch for e in entries or [] if e.batch not in recorded]
    return QuarterCommits(quarter, current, stale, missing, len(entries) if entries is not None else None,
                          tuple(e.batch for e in entries or []))

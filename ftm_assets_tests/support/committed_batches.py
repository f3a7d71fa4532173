"""Committed batch outputs written with the worker's own writer, for the report, summary and reader tests.

Topics and sentences are made up but laid out exactly as the worker lays them out (parts, failures file,
commit record, manifest), so readers and the summary asset read them through the real code paths.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ftm_assets.storage.manifest import BatchEntry, write_manifest
from ftm_assets.storage import Storage
from ftm_assets.storage.commit import CommitRecord
from ftm_assets.worker.outputs import BatchState, BatchWriter

SKIPPED_CLASSES = {"InsufficientText", "EmptyTranscript"}
STAMP = dt.datetime(2024, 12, 31, tzinfo=dt.timezone.utc)


@dataclass
class Firm:
    firm_id: str
    name: str
    topics: dict[int, list[str]] = field(default_factory=dict)  # topic id (-1: outliers) -> sentence texts
    error_class: str | None = None  # set: the firm failed


def write_batch(storage: Storage, quarter: str, batch: str, firms: list[Firm], *, commit: bool = True,
                batch_count: int = 2, token: str = "tok") -> CommitRecord | None:
    """Write one batch's parts, failures and (if ``commit``) its commit record; return the record.

    The record says it was made for a manifest of ``batch_count`` batches holding ``firms`` in this batch
    (``write_manifest_for`` writes the matching manifest).
    """
    state = BatchState(run_id=f"run-{batch}", quarter=quarter, batch=batch, firms_total=len(firms))
    writer = BatchWriter(storage, quarter, batch, token, file_metadata={"ftm.embedding_model": "test-model"})
    topic_rows, sentence_rows = [], []
    for firm in firms:
        if firm.error_class:
            state.failures.append(
                {"quarter": quarter, "batch": batch, "firm_id": firm.firm_id, "firm_name": firm.name,
                 "error_class": firm.error_class, "message": "made up for a test", "n_sentences": 3,
                 "processing_timestamp": STAMP,
                 "outcome": "skipped" if firm.error_class in SKIPPED_CLASSES else "failed"}
            )
            continue
        next_id = 0
        for topic_id, texts in firm.topics.items():
            ids = list(range(next_id, next_id + len(texts)))
            next_id += len(texts)
            topic_rows.append(
                {"firm_id": firm.firm_id, "firm_name": firm.name, "quarter": quarter, "permno": None, "gvkey": None,
                 "earnings_call_date": dt.date(2024, 11, 1), "topic_id": topic_id,
                 "representation": f"topic {topic_id} of {firm.name}", "keywords": ["a", "b"],
                 "n_sentences": len(texts), "sentence_ids": ids, "processing_timestamp": STAMP}
            )
            sentence_rows += [
                {"quarter": quarter, "firm_id": firm.firm_id, "sentence_id": i, "call_id": 1, "component_order": 0,
                 "speaker_type": "Executives", "text": text}
                for i, text in zip(ids, texts)
            ]
    writer.write_part(state, topic_rows, sentence_rows)
    failures_key = writer.write_failures(state)
    state.seconds = {"embed": 1.5, "fit": 2.5, "total": 4.0}
    fingerprint = BatchEntry(quarter, batch, [f.firm_id for f in firms]).fingerprint
    return writer.commit(state, failures_key, batch_count, fingerprint) if commit else None


def write_manifest_for(storage: Storage, quarter: str, batches: dict[str, list[Firm]]) -> None:
    entries = [BatchEntry(quarter, b, [f.firm_id for f in firms]) for b, firms in batches.items()]
    write_manifest(storage, quarter, entries)


def sample_batches() -> dict[str, list[Firm]]:
    """Two batches: five firms with topics, one with only outliers, one failure."""
    return {
        "000": [
            Firm("1", "Alpha Corp", {0: ["margins grew"] * 5, 1: ["capex is up"] * 3, -1: ["thanks"] * 2}),
            Firm("2", "Beta | Inc", {0: ["cloud demand"] * 9, 1: ["pricing held"] * 4, 2: ["hiring"] * 2}),
            Firm("3", "Gamma", {-1: ["hello", "okay"]}),
        ],
        "001": [
            Firm("4", "Delta", {0: ["guidance raised"] * 4}),
            Firm("5", "Epsilon", {0: ["supply chain"] * 3, 1: ["inventory"] * 2}),
            Firm("6", "Zeta", error_class="ValueError"),
        ],
    }

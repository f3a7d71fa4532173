"""Read outputs as pandas DataFrames: the committed parts of every batch that matches the current manifest.

A batch's output is what its commit record (``progress/<quarter>/batch_<b>_commit.json``) names; parts of
an unfinished, failed or superseded run are never read, so a glob over the folder is not the right reader.
A record made for another manifest (``FTM_BATCH_COUNT`` changed since) is *stale* and is not read either:
its firms now belong to other batches. Every reader takes a quarter, a list of quarters or a range
(``"2015Q1:2019Q4"``). Missing or stale batches give an ``IncompleteOutputWarning`` naming them, or, with
``strict=True``, an ``IncompleteOutputError``.

>>> from ftm_assets.readers import read_firm_topics, read_topic_sentences
>>> topics = read_firm_topics("data", "2024Q4")                    # one row per (firm, topic)
>>> topics = read_firm_topics("data", "2023Q1:2024Q4", strict=True) # a range; raise if a batch is missing
>>> topics = read_firm_topics("data", "2024Q4", with_text=True)     # + the text of every sentence_id
>>> sentences = read_topic_sentences("data", "2024Q4")              # one row per (firm, topic, sentence)
>>> uris = committed_parts("data", "2024Q4")                        # for duckdb/polars: read_parquet(uris)
>>> state = quarter_commits("data", "2024Q4")                       # current and stale commits, missing batches
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.quarters import expand_quarters
from ftm_assets.schema import FAILURES_SCHEMA, FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA, conform
from ftm_assets.storage import Storage, open_storage
from ftm_assets.storage.commit import CommitRecord, QuarterCommits, StaleCommit
from ftm_assets.storage.commit import quarter_commits as _quarter_commits

PartKind = Literal["firm_topics", "sentences", "failures"]
Quarters = str | Sequence[str]  # "2023Q1", "2015Q1:2019Q4", "2023Q1,2023Q3" or a list of these
_KINDS: tuple[str, ...] = ("firm_topics", "sentences", "failures")


class IncompleteOutputWarning(UserWarning):
    """Some batches of the quarters read are not materialized, or were made for another manifest."""


class IncompleteOutputError(RuntimeError):
    """``strict=True`` and some batches of the quarters read are missing or stale (the message names them)."""


def quarter_commits(root: str | Storage, quarter: str) -> QuarterCommits:
    """A quarter's commit records checked against its current manifest: ``current`` (read by the readers),
    ``stale`` (made for another batch count or firm list, each with its reason) and ``missing`` batches."""
    return _quarter_commits(open_storage(root), quarter)


def stale_commits(root: str | Storage, quarters: Quarters) -> list[StaleCommit]:
    """Commit records that the readers skip because the manifest changed since (with the reason)."""
    store = open_storage(root)
    return [s for q in expand_quarters(quarters) for s in _quarter_commits(store, q).stale]


def _current_records(store: Storage, quarters: Quarters, strict: bool) -> list[CommitRecord]:
    """The current records of every quarter; warn (or raise, ``strict``) about missing or stale batches."""
    records: list[CommitRecord] = []
    problems: list[str] = []
    for quarter in expand_quarters(quarters):
        state = _quarter_commits(store, quarter)
        records += sorted(state.current, key=lambda r: r.batch)
        problems += state.problems()
    if problems:
        text = f"Incomplete output under {store.root}: " + "; ".join(problems) + "."
        if strict:
            raise IncompleteOutputError(text + " Materialize those partitions (and firm_manifest first if it "
                                        "changed), or read with strict=False.")
        warnings.warn(text + " Read without them.", IncompleteOutputWarning, stacklevel=3)
    return records


def commit_records(root: str | Storage, quarters: Quarters, *, strict: bool = False) -> list[CommitRecord]:
    """The commit record of every finished batch that matches the current manifest, sorted by quarter and batch."""
    return _current_records(open_storage(root), quarters, strict)


def _part_keys(store: Storage, quarters: Quarters, kind: PartKind, strict: bool) -> list[str]:
    return _keys_of(_current_records(store, quarters, strict), kind)


def _keys_of(records: list[CommitRecord], kind: PartKind) -> list[str]:
    if kind not in _KINDS:
        raise ValueError(f"Unknown output {kind!r}: use one of {', '.join(_KINDS)}.")
    keys: list[str] = []
    for record in records:
        keys.extend({"firm_topics": record.firm_topics_parts, "sentences": record.sentences_parts,
                     "failures": [record.failures]}[kind])
    return keys


_SCHEMAS = {"firm_topics": FIRM_TOPICS_SCHEMA, "sentences": SENTENCES_SCHEMA, "failures": FAILURES_SCHEMA}


def read_records(root: str | Storage, records: list[CommitRecord], kind: PartKind) -> pd.DataFrame:
    """``kind`` of exactly these commit records (from ``commit_records``): several reads of one snapshot, so a
    commit landing in between cannot mix two runs' output."""
    store = open_storage(root)
    return _read_parts(store, _keys_of(records, kind), _SCHEMAS[kind]).to_pandas()


def committed_parts(root: str | Storage, quarters: Quarters, kind: PartKind = "firm_topics", *,
                    strict: bool = False) -> list[str]:
    """Full paths/URIs of the Parquet files that make up ``kind`` for ``quarters``, for duckdb or polars."""
    store = open_storage(root)
    return [store.uri(k) for k in _part_keys(store, quarters, kind, strict)]


def _read_parts(store: Storage, keys: list[str], schema: pa.Schema) -> pa.Table:
    tables = [_conform_old(pq.read_table(io.BytesIO(store.read_bytes(k))), schema) for k in keys]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _conform_old(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Files written before a column existed, in today's schema: failures files before ``outcome`` (every row
    there was a failure), and any other column added since as nulls (e.g. the sentences' tone columns)."""
    if "outcome" in schema.names and "outcome" not in table.column_names:
        table = table.append_column("outcome", pa.array(["failed"] * table.num_rows, pa.string()))
    if any(name not in table.column_names for name in schema.names):
        table = conform(table, schema, keep_extra=True)
    return table


def read_firm_topics_table(root: str | Storage, quarters: Quarters, *, strict: bool = False) -> pa.Table:
    store = open_storage(root)
    return _read_parts(store, _part_keys(store, quarters, "firm_topics", strict), FIRM_TOPICS_SCHEMA)


def read_firm_topics(root: str | Storage, quarters: Quarters, *, with_text: bool = False,
                     strict: bool = False) -> pd.DataFrame:
    """``firm_topics`` of every committed batch of ``quarters``.

    ``with_text=True`` adds ``sentences``: the text of each of the row's ``sentence_ids``, in the same order.
    """
    store = open_storage(root)
    records = _current_records(store, quarters, strict)  # once: topics and text from the same commits
    topics = read_records(store, records, "firm_topics")
    if not with_text:
        return topics
    text = read_records(store, records, "sentences").set_index(["quarter", "firm_id", "sentence_id"])["text"]
    lookup = text.to_dict()
    topics["sentences"] = [
        [lookup.get((quarter, firm_id, int(i))) for i in (ids if ids is not None else [])]
        for quarter, firm_id, ids in zip(topics["quarter"], topics["firm_id"], topics["sentence_ids"])
    ]
    return topics


def read_sentences(root: str | Storage, quarters: Quarters, *, strict: bool = False) -> pd.DataFrame:
    """The sentences the topic model saw, keyed by (quarter, firm_id, sentence_id)."""
    store = open_storage(root)
    return _read_parts(store, _part_keys(store, quarters, "sentences", strict), SENTENCES_SCHEMA).to_pandas()


def read_failures(root: str | Storage, quarters: Quarters, *, strict: bool = False) -> pd.DataFrame:
    """Firms of ``quarters`` without topics, one row per firm: ``outcome`` is ``failed`` (an error) or
    ``skipped`` (too little text to model), with error class and message."""
    store = open_storage(root)
    return _read_parts(store, _part_keys(store, quarters, "failures", strict), FAILURES_SCHEMA).to_pandas()


def read_topic_sentences(root: str | Storage, quarters: Quarters, *, strict: bool = False) -> pd.DataFrame:
    """One row per (firm, topic, sentence): ``sentence_ids`` resolved to the sentences' text."""
    store = open_storage(root)
    records = _current_records(store, quarters, strict)  # once: topics and sentences from the same commits
    topics = read_records(store, records, "firm_topics")
    exploded = topics[["quarter", "firm_id", "topic_id", "representation", "sentence_ids"]].explode("sentence_ids")
    exploded = exploded.dropna(subset=["sentence_ids"]).rename(columns={"sentence_ids": "sentence_id"})
    exploded["sentence_id"] = exploded["sentence_id"].astype("int32")
    sentences = read_records(store, records, "sentences")[["quarter", "firm_id", "sentence_id", "speaker_type", "text"]]
    return exploded.merge(sentences, on=["quarter", "firm_id", "sentence_id"], how="left", validate="one_to_one")


"""Read a quarter's outputs as pandas DataFrames: the committed parts of every batch, nothing stale.

>>> from ftm_assets.readers import read_firm_topics, read_topic_sentences
>>> topics = read_firm_topics("data", "2024Q4")            # one row per (firm, topic)
>>> sentences = read_topic_sentences("data", "2024Q4")      # one row per (firm, topic, sentence) with text
"""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.schema import FAILURES_SCHEMA, FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA
from ftm_assets.storage import Storage, open_storage


def _store(root: str | Storage) -> Storage:
    return root if isinstance(root, Storage) else open_storage(root)


def commit_records(root: str | Storage, quarter: str) -> list[dict[str, Any]]:
    """The commit record of every finished batch of ``quarter`` (an unfinished batch has none)."""
    store = _store(root)
    keys = [k for k in store.list(f"progress/{quarter}/") if k.endswith("_commit.json")]
    return [json.loads(store.read_text(k)) for k in keys]


def _read_parts(store: Storage, keys: list[str], schema: pa.Schema) -> pa.Table:
    tables = [pq.read_table(io.BytesIO(store.read_bytes(k))) for k in keys]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_firm_topics_table(root: str | Storage, quarter: str) -> pa.Table:
    store = _store(root)
    keys = [k for rec in commit_records(store, quarter) for k in rec["firm_topics_parts"]]
    return _read_parts(store, keys, FIRM_TOPICS_SCHEMA)


def read_firm_topics(root: str | Storage, quarter: str) -> pd.DataFrame:
    """``firm_topics`` of every committed batch of ``quarter``."""
    return read_firm_topics_table(root, quarter).to_pandas()


def read_sentences(root: str | Storage, quarter: str) -> pd.DataFrame:
    """The sentences the topic model saw, keyed by (firm_id, sentence_id)."""
    store = _store(root)
    keys = [k for rec in commit_records(store, quarter) for k in rec["sentences_parts"]]
    return _read_parts(store, keys, SENTENCES_SCHEMA).to_pandas()


def read_failures(root: str | Storage, quarter: str) -> pd.DataFrame:
    store = _store(root)
    keys = [rec["failures"] for rec in commit_records(store, quarter)]
    return _read_parts(store, keys, FAILURES_SCHEMA).to_pandas()


def read_topic_sentences(root: str | Storage, quarter: str) -> pd.DataFrame:
    """One row per (firm, topic, sentence): ``sentence_ids`` resolved to the sentences' text."""
    store = _store(root)
    topics = read_firm_topics(store, quarter)
    exploded = topics[["firm_id", "topic_id", "representation", "sentence_ids"]].explode("sentence_ids")
    exploded = exploded.dropna(subset=["sentence_ids"]).rename(columns={"sentence_ids": "sentence_id"})
    exploded["sentence_id"] = exploded["sentence_id"].astype("int32")
    sentences = read_sentences(store, quarter)[["firm_id", "sentence_id", "speaker_type", "text"]]
    return exploded.merge(sentences, on=["firm_id", "sentence_id"], how="left", validate="one_to_one")


__all__ = [
    "commit_records",
    "read_failures",
    "read_firm_topics",
    "read_firm_topics_table",
    "read_sentences",
    "read_topic_sentences",
]

"""Read a quarter's outputs as pandas DataFrames: the committed parts of every batch, nothing stale.

A batch's output is what its commit record (``progress/<quarter>/batch_<b>_commit.json``) names; parts of
an unfinished or superseded run are never read, so a glob over the folder is not the right reader.

>>> from ftm_assets.readers import read_firm_topics, read_topic_sentences
>>> topics = read_firm_topics("data", "2024Q4")                    # one row per (firm, topic)
>>> topics = read_firm_topics("data", "2024Q4", with_text=True)     # + the text of every sentence_id
>>> sentences = read_topic_sentences("data", "2024Q4")              # one row per (firm, topic, sentence)
>>> uris = committed_parts("data", "2024Q4")                        # for duckdb/polars: read_parquet(uris)
"""

from __future__ import annotations

import io
import json
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.schema import FAILURES_SCHEMA, FIRM_TOPICS_SCHEMA, SENTENCES_SCHEMA
from ftm_assets.storage import Storage, layout, open_storage

PartKind = Literal["firm_topics", "sentences", "failures"]
_RECORD_FIELD: dict[str, str] = {
    "firm_topics": "firm_topics_parts",
    "sentences": "sentences_parts",
    "failures": "failures",
}


def _store(root: str | Storage) -> Storage:
    return root if isinstance(root, Storage) else open_storage(root)


def commit_records(root: str | Storage, quarter: str) -> list[dict[str, Any]]:
    """The commit record of every finished batch of ``quarter`` (an unfinished batch has none)."""
    store = _store(root)
    keys = [k for k in store.list(layout.progress_prefix(quarter)) if k.endswith(layout.COMMIT_SUFFIX)]
    return [json.loads(store.read_text(k)) for k in keys]


def _part_keys(store: Storage, quarter: str, kind: PartKind) -> list[str]:
    if kind not in _RECORD_FIELD:
        raise ValueError(f"Unknown output {kind!r}: use one of {', '.join(_RECORD_FIELD)}.")
    field = _RECORD_FIELD[kind]
    keys: list[str] = []
    for record in commit_records(store, quarter):
        value = record[field]
        keys.extend(value if isinstance(value, list) else [value])
    return keys


def committed_parts(root: str | Storage, quarter: str, kind: PartKind = "firm_topics") -> list[str]:
    """Full paths/URIs of the Parquet files that make up ``kind`` for ``quarter``, for duckdb or polars."""
    store = _store(root)
    return [store.uri(k) for k in _part_keys(store, quarter, kind)]


def _read_parts(store: Storage, keys: list[str], schema: pa.Schema) -> pa.Table:
    tables = [pq.read_table(io.BytesIO(store.read_bytes(k))) for k in keys]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_firm_topics_table(root: str | Storage, quarter: str) -> pa.Table:
    store = _store(root)
    return _read_parts(store, _part_keys(store, quarter, "firm_topics"), FIRM_TOPICS_SCHEMA)


def read_firm_topics(root: str | Storage, quarter: str, *, with_text: bool = False) -> pd.DataFrame:
    """``firm_topics`` of every committed batch of ``quarter``.

    ``with_text=True`` adds ``sentences``: the text of each of the row's ``sentence_ids``, in the same order.
    """
    store = _store(root)
    topics = read_firm_topics_table(store, quarter).to_pandas()
    if not with_text:
        return topics
    text = read_sentences(store, quarter).set_index(["firm_id", "sentence_id"])["text"]
    lookup = text.to_dict()
    topics["sentences"] = [
        [lookup.get((firm_id, int(i))) for i in (ids if ids is not None else [])]
        for firm_id, ids in zip(topics["firm_id"], topics["sentence_ids"])
    ]
    return topics


def read_sentences(root: str | Storage, quarter: str) -> pd.DataFrame:
    """The sentences the topic model saw, keyed by (firm_id, sentence_id)."""
    store = _store(root)
    return _read_parts(store, _part_keys(store, quarter, "sentences"), SENTENCES_SCHEMA).to_pandas()


def read_failures(root: str | Storage, quarter: str) -> pd.DataFrame:
    """Firms of ``quarter`` that failed, with error class and message (one row per firm)."""
    store = _store(root)
    return _read_parts(store, _part_keys(store, quarter, "failures"), FAILURES_SCHEMA).to_pandas()


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
    "committed_parts",
    "read_failures",
    "read_firm_topics",
    "read_firm_topics_table",
    "read_sentences",
    "read_topic_sentences",
    "read_theme_exposure",
    "read_themes",
]

from ftm_assets.themes.readers import read_theme_exposure, read_themes  # noqa: E402  (themes read via readers)

"""A quarter's theme outcome in the storage root, and the calendar-order replay that makes ids order-free.

Under ``themes/quarter=<q>/``: ``themes.parquet``, ``members.parquet``, ``exposure.parquet`` and
``outcome.json`` (chain fingerprint, the quarter's theme ids, the anchors of those born in it, its events),
written last; ``themes/registry.json`` holds the registry after the latest quarter whose stored outcome is
current. Every write is a single atomic ``write_bytes``.

``resolve(store, quarter, earlier)`` replays the quarters before ``quarter`` that have committed topics, in
calendar order, from their stored outcomes, recomputing (and storing) any whose inputs or predecessors
changed, then computes ``quarter`` itself. So a quarter's ids depend on its inputs and those of the quarters
before it, never on the order in which quarters were materialized (a backfill may run them in any order).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.quarters import Quarter
from ftm_assets.readers import commit_records, quarter_commits, read_firm_topics, read_sentences
from ftm_assets.schema import THEME_EXPOSURE_SCHEMA, THEME_MEMBERS_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, layout
from ftm_assets.themes.chain import QuarterOutcome, chain_fingerprint, run_quarter
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.quarter import QuarterThemes
from ftm_assets.themes.registry import Registry


class IncompleteQuarter(RuntimeError):
    """A quarter's batches are not all committed: its themes, or a later quarter's ids, would be partial."""


@dataclass(frozen=True)
class StoredOutcome:
    fingerprint: str
    present: list[str]
    new_anchors: dict[str, np.ndarray]
    events: list[dict]
    sentences_total: int = 0
    firms: tuple[str, ...] = ()


def missing_batches(store: Storage, quarter: str) -> list[str]:
    """Batches of the quarter's manifest without a current commit (missing or stale), or why there are none.

    Records of batches the manifest no longer has (the batch count was lowered) are left over, not missing."""
    state = quarter_commits(store, quarter)
    if state.batch_count is None:
        return ["(no firm manifest)"]
    return sorted(set(state.missing) | {s.record.batch for s in state.stale_in_manifest})


def input_fingerprint(store: Storage, quarter: str) -> str:
    """Changes whenever any batch of the quarter commits a new run."""
    records = sorted(commit_records(store, quarter), key=lambda r: r.batch)
    slim = [{"batch": r.batch, "run_id": r.run_id, "token": r.token, "firm_topics_parts": r.firm_topics_parts,
             "sentences_parts": r.sentences_parts} for r in records]
    return hashlib.sha256(json.dumps(slim, sort_keys=True).encode()).hexdigest()[:24]


def _parquet(df: pd.DataFrame, schema: pa.Schema) -> bytes:
    table = pa.Table.from_pandas(df.reindex(columns=schema.names), schema=schema, preserve_index=False) \
        if len(df) else schema.empty_table()
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_table(store: Storage, quarter: str, name: str, schema: pa.Schema) -> pd.DataFrame:
    key = layout.themes_table(quarter, name)
    if not store.exists(key):
        return schema.empty_table().to_pandas()
    return pq.read_table(io.BytesIO(store.read_bytes(key))).to_pandas()


def save_outcome(store: Storage, outcome: QuarterOutcome) -> None:
    q, t = outcome.quarter, outcome.themes
    store.write_bytes(layout.themes_table(q, "themes.parquet"), _parquet(t.themes, THEMES_SCHEMA))
    store.write_bytes(layout.themes_table(q, "members.parquet"), _parquet(t.members, THEME_MEMBERS_SCHEMA))
    store.write_bytes(layout.themes_table(q, "exposure.parquet"), _parquet(outcome.exposure, THEME_EXPOSURE_SCHEMA))
    record = {"quarter": q, "fingerprint": outcome.fingerprint, "present": t.present, "events": t.events,
              "sentences_total": outcome.sentences_total, "firms": outcome.firms,
              "new_anchors": {k: np.asarray(v, dtype=np.float32).tolist() for k, v in t.new_anchors.items()}}
    store.write_text(layout.themes_table(q, "outcome.json"), json.dumps(record))  # last: marks it complete


def load_outcome(store: Storage, quarter: str) -> StoredOutcome | None:
    key = layout.themes_table(quarter, "outcome.json")
    if not store.exists(key):
        return None
    rec = json.loads(store.read_text(key))
    return StoredOutcome(rec["fingerprint"], rec["present"],
                         {k: np.asarray(v, dtype=np.float32) for k, v in rec["new_anchors"].items()}, rec["events"],
                         rec.get("sentences_total", 0), tuple(rec.get("firms", ())))


def compute(store: Storage, registry: Registry, quarter: str, params: ThemeParams) -> QuarterOutcome:
    """Read ``quarter``'s committed topics and sentences (with component types) and run it on ``registry``."""
    topics = read_firm_topics(store, quarter)
    sentences = read_sentences(store, quarter)
    sentences["call_id"] = sentences["call_id"].astype("Int64")
    sentences["component_order"] = sentences["component_order"].astype("int32")
    sentences = sentences.merge(raw_component_types(store, quarter), how="left",
                                on=["firm_id", "call_id", "component_order"])
    return run_quarter(registry, quarter, input_fingerprint(store, quarter), topics, sentences, params)


def raw_component_types(store: Storage, quarter: str) -> pd.DataFrame:
    """(firm_id, call_id, component_order) -> component_type from the quarter's raw transcripts, if stored."""
    cols = ["firm_id", "call_id", "component_order", "component_type"]
    frames = []
    for key in store.list(layout.raw_transcripts_prefix(quarter)):
        if key.endswith(".parquet"):
            data = io.BytesIO(store.read_bytes(key))
            present = [c for c in cols if c in pq.ParquetFile(data).schema_arrow.names]
            frames.append(pq.read_table(data, columns=present).to_pandas().reindex(columns=cols))
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames).drop_duplicates(["firm_id", "call_id", "component_order"])
    out["call_id"] = out["call_id"].astype("Int64")
    out["component_order"] = out["component_order"].astype("int32")
    return out


def resolve(store: Storage, quarter: str, earlier: list[str], params: ThemeParams,
            log: Callable[[str], None] = lambda _: None, later: list[str] = ()) -> tuple[QuarterOutcome, Registry]:
    """``quarter``'s outcome on the registry replayed over ``earlier`` quarters (calendar order), stored.

    Earlier quarters never materialized (no manifest, no commit) are skipped; one with a manifest whose batches
    are not all committed fails the run
    (its themes would change the ids of every later quarter). After ``quarter``, the ``later`` quarters whose
    stored outcome is still current are replayed too, so ``registry.json`` covers them.
    """
    missing = missing_batches(store, quarter)
    if missing:
        raise IncompleteQuarter(
            f"{quarter} is incomplete: batch(es) {', '.join(missing)} have no committed firm_topics. Materialize "
            f"them (or re-execute the backfill from failure), then quarter_themes for {quarter}.")
    registry = Registry()
    for p in sorted(earlier, key=Quarter.parse):
        if not store.exists(layout.manifest(p)) and not quarter_commits(store, p).current:
            continue  # never materialized: not part of the chain
        gaps = missing_batches(store, p)
        if gaps:
            raise IncompleteQuarter(
                f"Earlier quarter {p} is incomplete (batch(es) {', '.join(gaps)} not committed); the theme ids "
                f"of {quarter} depend on every earlier quarter. Materialize {p}'s batches first.")
        fingerprint = chain_fingerprint(params, registry.fingerprint, input_fingerprint(store, p))
        stored = load_outcome(store, p)
        if stored and stored.fingerprint == fingerprint:
            registry.advance(p, fingerprint, stored.present, stored.new_anchors, stored.events)
            continue
        log(f"Themes of {p} are missing or stale: computing them before {quarter}.")
        save_outcome(store, compute(store, registry, p, params))
    outcome = compute(store, registry, quarter, params)
    save_outcome(store, outcome)
    tail = Registry(**{k: (v.copy() if hasattr(v, "copy") else v) for k, v in registry.__dict__.items()})
    for p in sorted(later, key=Quarter.parse):
        stored = load_outcome(store, p)
        if stored is None or not quarter_commits(store, p).current:
            continue
        if stored.fingerprint != chain_fingerprint(params, tail.fingerprint, input_fingerprint(store, p)):
            break
        tail.advance(p, stored.fingerprint, stored.present, stored.new_anchors, stored.events)
    store.write_text(layout.theme_registry(), tail.to_json())
    return outcome, registry


def stored_themes(store: Storage, quarter: str) -> QuarterThemes | None:
    """The stored tables of a quarter (for pictures over quarters); None when never materialized."""
    if load_outcome(store, quarter) is None:
        return None
    return QuarterThemes(read_table(store, quarter, "themes.parquet", THEMES_SCHEMA),
                         read_table(store, quarter, "members.parquet", THEME_MEMBERS_SCHEMA), [], {}, [])

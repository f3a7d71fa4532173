"""A quarter's theme outcome in the storage root, and the calendar-order replay that makes ids order-free.
Under ``themes/quarter=<q>/``: the tables ``themes-<h>.parquet``, ``members-<h>.parquet`` and
``exposure-<h>.parquet``, ``sentence_themes-<h>.parquet`` (``<h>``: a hash of the table's bytes) and ``outcome.json`` (chain fingerprint and its
parts, the tables' keys, the quarter's theme ids, the anchors of those born in it, its events). The tables are
written first under names of their own, then ``outcome.json`` names them in one atomic write, as a batch's
commit record names its parts: a reader following it sees the old outcome or the new one, never a mix.
Two runs saving one quarter at once (a backfill's runs of two quarters both recompute a stale earlier one, or
one run per setting) never delete each other's tables: a table is removed only when neither the removing run's
record nor the record stored at that moment names it and it is older than ``ORPHAN_GRACE_S``, and a run puts
back any of its tables that is gone after it switched. The last record written wins, whole.
``themes/registry.json`` holds the registry after the latest quarter whose stored outcome is current.

``chain_problem`` recomputes the chain's fingerprints from the commit records, every quarter up to the one
asked, and names the first whose stored themes are missing or stale: what ``theme_exposure`` and the readers
check before serving a quarter. ``compute`` takes the inputs' fingerprint before its reads and checks it again
after them: a batch committing meanwhile makes it read again, never store old topics under a new fingerprint.

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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.quarters import Quarter
from ftm_assets.readers.topics import commit_records, quarter_commits, read_records
from ftm_assets.storage import Storage, StorageError, layout
from ftm_assets.storage.sentence_vectors import quarter_vectors
from ftm_assets.themes.chain import QuarterOutcome, chain_fingerprint, run_quarter
from ftm_assets.themes.outcome import TABLES, load_outcome, materialized, missing_batches, records_fingerprint
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.registry import Registry


COMPUTE_TRIES = 3  # reads of a quarter's topics before giving up on batches that keep committing
# A table no record names is removed once this old (by the storage's clock): another run's tables are written
# seconds before its record names them, so they are never that old while still unnamed.
ORPHAN_GRACE_S = 15 * 60


class IncompleteQuarter(RuntimeError):
    """A quarter's batches are not all committed: its themes, or a later quarter's ids, would be partial."""


class InputsChanged(RuntimeError):
    """A quarter's batches kept committing while its themes were computed: nothing was stored."""


def input_fingerprint(store: Storage, quarter: str) -> str:
    """Changes whenever any batch of the quarter commits a new run."""
    return records_fingerprint(commit_records(store, quarter))


def _parquet(df: pd.DataFrame, schema: pa.Schema) -> bytes:
    table = pa.Table.from_pandas(df.reindex(columns=schema.names), schema=schema, preserve_index=False) \
        if len(df) else schema.empty_table()
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def save_outcome(store: Storage, outcome: QuarterOutcome) -> None:
    """Write the tables under names of their own, then the record naming them (the switch), then drop the
    tables no record names (``remove_orphans``)."""
    q, t = outcome.quarter, outcome.themes
    assigned = outcome.assignments if outcome.assignments is not None else pd.DataFrame()
    frames = {"themes.parquet": t.themes, "members.parquet": t.members, "exposure.parquet": outcome.exposure,
              "sentence_themes.parquet": assigned.assign(quarter=q) if len(assigned) else assigned}
    tables, written = {}, {}
    for name, frame in frames.items():
        data = written[name] = _parquet(frame, TABLES[name])
        stem = name.removesuffix(".parquet")
        key = layout.themes_table(q, f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.parquet")
        store.write_bytes(key, data)
        tables[name] = key
    record = {"quarter": q, "fingerprint": outcome.fingerprint, "present": t.present, "events": t.events,
              "sentences_total": outcome.sentences_total, "firms": outcome.firms, "tables": tables,
              "params": outcome.params, "previous": outcome.previous, "inputs": outcome.inputs,
              "new_anchors": {k: np.asarray(v, dtype=np.float32).tolist() for k, v in t.new_anchors.items()}}
    store.write_text(layout.themes_table(q, "outcome.json"), json.dumps(record))  # the switch to the new tables
    for name, key in tables.items():  # removed meanwhile by a run that stalled past the grace: put it back
        if not store.exists(key):
            store.write_bytes(key, written[name])
    remove_orphans(store, q, keep=set(tables.values()))


def remove_orphans(store: Storage, quarter: str, keep: set[str]) -> list[str]:
    """Delete the quarter's tables that neither ``keep`` nor the record stored now names and that are older than
    ``ORPHAN_GRACE_S`` (the previous outcome's, a failed run's); the keys deleted."""
    try:
        named = set(json.loads(store.read_text(layout.themes_table(quarter, "outcome.json")))["tables"].values())
    except (StorageError, ValueError, KeyError):
        named = set()
    deleted = []
    for key in store.list(layout.themes_quarter_prefix(quarter)):
        if not key.endswith(".parquet") or key in keep or key in named:
            continue
        try:
            if store.age(key) <= ORPHAN_GRACE_S:
                continue  # maybe a concurrent run's, about to be named: a later save removes it if not
        except StorageError:
            continue  # already gone
        store.delete(key)
        deleted.append(key)
    return deleted


def compute(store: Storage, registry: Registry, quarter: str, params: ThemeParams) -> QuarterOutcome:
    """Read ``quarter``'s committed topics and sentences (with component types) and run it on ``registry``;
    the sentences' stored vectors are read batch by batch while they are assigned to the themes.

    The commit records are read once and their fingerprint taken before the parts are read; after the reads
    it must still be the quarter's, else (a batch committed meanwhile) the reads are done again, at most
    ``COMPUTE_TRIES`` times, then InputsChanged: old topics are never stored under a newer fingerprint.
    """
    for _ in range(COMPUTE_TRIES):
        records = commit_records(store, quarter)
        inputs = records_fingerprint(records)
        try:
            topics = read_records(store, records, "firm_topics")
            sentences = pd.concat([read_records(store, [r], "sentences").assign(batch=r.batch) for r in records],
                                  ignore_index=True) if records else read_records(store, records, "sentences")
        except StorageError:  # a part deleted by a newer commit's clean-up: that commit is read next time
            continue
        if input_fingerprint(store, quarter) != inputs:
            continue
        sentences["call_id"] = sentences["call_id"].astype("Int64")
        sentences["component_order"] = sentences["component_order"].astype("int32")
        sentences = sentences.merge(raw_component_types(store, quarter), how="left",
                                    on=["firm_id", "call_id", "component_order"])
        by_batch = dict(tuple(sentences.groupby("batch", sort=True))) if "batch" in sentences else {}

        def chunks(records=records, by_batch=by_batch):
            return quarter_vectors(store, [(r, by_batch.get(r.batch, sentences.iloc[:0])) for r in records])

        try:
            return run_quarter(registry, quarter, inputs, topics, sentences, params, chunks)
        except StorageError:  # stored embeddings deleted by a newer commit's clean-up: read that commit next
            continue
    raise InputsChanged(f"Batches of {quarter} kept committing while its themes were computed ({COMPUTE_TRIES} "
                        f"reads); nothing was stored. Materialize quarter_themes for {quarter} again once its "
                        "batches are done.")


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
        if not materialized(store, p):
            continue  # never materialized: not part of the chain
        stored = load_outcome(store, p)
        if stored is None:
            break  # committed topics without themes: the chain stops here until they are computed
        if stored.fingerprint != chain_fingerprint(params, tail.fingerprint, input_fingerprint(store, p)):
            break
        tail.advance(p, stored.fingerprint, stored.present, stored.new_anchors, stored.events)
    store.write_text(layout.theme_registry(), tail.to_json())
    return outcome, registry

"""Stored theme outcomes and whether they are current: the record naming a quarter's tables, and the chain check.

Readers and ``theme_exposure`` ask here whether a quarter's stored themes are current, recomputing each
quarter's chain fingerprint from the commit records (never trusting a stored registry). Below both the themes
store (which writes outcomes) and the readers (which only read them), so neither imports the other.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ftm_assets.quarters import Quarter
from ftm_assets.schema import SENTENCE_THEMES_SCHEMA, THEME_EXPOSURE_SCHEMA, THEME_MEMBERS_SCHEMA, THEMES_SCHEMA
from ftm_assets.storage import Storage, StorageError, layout
from ftm_assets.storage.commit import CommitRecord, QuarterCommits, quarter_commits
from ftm_assets.themes.chain import chain_fingerprint_of
from ftm_assets.themes.params import ThemeParams


@dataclass(frozen=True)
class StoredOutcome:
    fingerprint: str
    present: list[str]
    new_anchors: dict[str, np.ndarray]
    events: list[dict]
    sentences_total: int = 0
    firms: tuple[str, ...] = ()
    tables: dict[str, str] | None = None  # table name -> key; None: an outcome of the fixed-name layout
    params: str = ""  # the parts of ``fingerprint`` ("" in outcomes older than them)
    previous: str = ""
    inputs: str = ""

    def table_key(self, quarter: str, name: str) -> str:
        return (self.tables or {}).get(name) or layout.themes_table(quarter, name)


TABLES = {"themes.parquet": THEMES_SCHEMA, "members.parquet": THEME_MEMBERS_SCHEMA,
          "exposure.parquet": THEME_EXPOSURE_SCHEMA, "sentence_themes.parquet": SENTENCE_THEMES_SCHEMA}


def missing_batches(store: Storage, quarter: str) -> list[str]:
    """Batches of the quarter's manifest without a current commit (missing or stale), or why there are none.

    Records of batches the manifest no longer has (the batch count was lowered) are left over, not missing."""
    return _gaps(quarter_commits(store, quarter))


def _gaps(state: QuarterCommits) -> list[str]:
    if state.batch_count is None:
        return ["(no firm manifest)"]
    return sorted(set(state.missing) | {s.record.batch for s in state.stale_in_manifest})


def records_fingerprint(records: list[CommitRecord]) -> str:
    """``input_fingerprint`` of these records (a snapshot that the reads then follow)."""
    records = sorted(records, key=lambda r: r.batch)
    slim = [{"batch": r.batch, "run_id": r.run_id, "token": r.token, "firm_topics_parts": r.firm_topics_parts,
             "sentences_parts": r.sentences_parts} for r in records]
    return hashlib.sha256(json.dumps(slim, sort_keys=True).encode()).hexdigest()[:24]


def read_table(store: Storage, quarter: str, name: str, schema: pa.Schema,
               outcome: StoredOutcome | None = None) -> pd.DataFrame:
    """A table of the quarter's stored outcome (``outcome`` if already loaded: its tables, not a later one's)."""
    stored = outcome if outcome is not None else load_outcome(store, quarter)
    if stored is None:
        return schema.empty_table().to_pandas()
    key = stored.table_key(quarter, name)
    if not store.exists(key):
        if stored.tables is None:
            return schema.empty_table().to_pandas()  # the fixed-name layout never wrote it
        raise StorageError(f"{store.uri(key)}, named by the themes of {quarter}, is gone: a newer outcome replaced "
                           "it while this one was read. Read again.")
    return pq.read_table(io.BytesIO(store.read_bytes(key))).to_pandas()


def load_outcome(store: Storage, quarter: str) -> StoredOutcome | None:
    key = layout.themes_table(quarter, "outcome.json")
    if not store.exists(key):
        return None
    rec = json.loads(store.read_text(key))
    return StoredOutcome(rec["fingerprint"], rec["present"],
                         {k: np.asarray(v, dtype=np.float32) for k, v in rec["new_anchors"].items()}, rec["events"],
                         rec.get("sentences_total", 0), tuple(rec.get("firms", ())), rec.get("tables"),
                         rec.get("params", ""), rec.get("previous", ""), rec.get("inputs", ""))


def materialized(store: Storage, quarter: str) -> bool:
    """Whether a quarter is part of the chain: it has a firm manifest or a current commit."""
    return store.exists(layout.manifest(quarter)) or bool(quarter_commits(store, quarter).current)


def stored_quarters(store: Storage) -> list[str]:
    """Quarters with a firm manifest or stored themes in the root, in calendar order."""
    found = set()
    for prefix in ("manifests/", layout.THEMES_PREFIX):
        for key in store.list(prefix):
            head = key[len(prefix):].split("/", 1)[0]
            if head.startswith("quarter="):
                found.add(head[len("quarter="):])
    return sorted(found, key=Quarter.parse)


def chain_status(store: Storage, quarter: str, earlier: list[str] | None = None,
                 params: ThemeParams | None = None) -> dict[str, str | None]:
    """Every quarter of the chain up to ``quarter`` -> why its stored themes are not current (None: current).

    The chain is recomputed from the commit records: each quarter's fingerprint from the settings, the quarter
    before's and its own commits; from the first stale or missing quarter on, every later one names it.
    ``earlier``: the quarters before (default: those found in the root); ``params``: the current theme settings
    (default: the settings each stored outcome records).
    """
    before = stored_quarters(store) if earlier is None else earlier
    chain = [p for p in sorted(set(before), key=Quarter.parse) if Quarter.parse(p) < Quarter.parse(quarter)
             and materialized(store, p)] + [quarter]
    out: dict[str, str | None] = {}
    previous, broken = "empty", None
    for p in chain:
        if broken is not None:
            out[p] = broken
            continue
        problem = _quarter_problem(store, p, previous, params)
        if problem is None:
            out[p] = None
            previous = load_outcome(store, p).fingerprint
        else:
            out[p] = problem
            broken = problem if p == quarter else f"the chain before it is not current: {problem}"
    return out


def chain_problem(store: Storage, quarter: str, earlier: list[str] | None = None,
                  params: ThemeParams | None = None) -> str | None:
    """Why ``quarter``'s stored themes are not current, naming the first quarter of the chain that is stale or
    missing; None when every quarter up to it is current (see ``chain_status``)."""
    return chain_status(store, quarter, earlier, params)[quarter]


def _quarter_problem(store: Storage, p: str, previous: str, params: ThemeParams | None) -> str | None:
    state = quarter_commits(store, p)  # once: the gaps and the inputs' fingerprint from the same records
    gaps = _gaps(state)
    if gaps:
        return f"{p} is incomplete (batch(es) {', '.join(gaps)} not committed)"
    stored = load_outcome(store, p)
    if stored is None:
        return f"{p} has committed topics but no stored themes"
    settings = params.fingerprint() if params is not None else stored.params
    if not settings:
        return f"the themes of {p} were stored by an older version that did not record their chain"
    if stored.fingerprint != chain_fingerprint_of(settings, previous, records_fingerprint(state.current)):
        return (f"the themes of {p} are stale (its firm topics, an earlier quarter or the theme settings changed "
                "since they were computed)")
    return None

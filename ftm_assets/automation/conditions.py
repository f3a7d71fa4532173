"""What re-runs after ``raw_transcripts`` changes: Dagster's declarative automation conditions of every asset.

- ``firm_manifest``, ``quarter_topic_summary``, ``theme_exposure``: ``follow_inputs`` (an input was
  re-materialized, none is missing or running).
- ``firm_topics``/``firm_topic_failures``: only the batches whose firm list changed. The manifest records, per
  materialization, ``batches_to_run``: the batches whose committed output does not match it (their firm list,
  hence the batch's manifest fingerprint, changed) or that have none. ``BatchFirmListChanged`` is true for
  such a batch until it is materialized after that manifest; a batch whose firm list is the same is never
  requested.
- ``quarter_themes``: ``follow_inputs``, or ``EarlierThemesNewer``: an earlier quarter's themes were
  materialized after this quarter's (theme ids chain across quarters), true only for the earliest such
  quarter, so later quarters follow one by one in calendar order.

Each condition carries a label that the UI shows on the asset's automation page. Batch runs still take a slot
of the ``ftm_batch_gpu`` pool, so FTM_MAX_BATCH_JOBS_IN_FLIGHT bounds them as it bounds a backfill. The
Python conditions run in the code server (``AutomationConditionSensorDefinition(use_user_code_server=True)``).
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from ftm_assets.partitions import BATCH_DIM, QUARTER_DIM
from ftm_assets.quarters import Quarter

AC = dg.AutomationCondition
MANIFEST = dg.AssetKey("firm_manifest")
THEMES = dg.AssetKey("quarter_themes")
TOPICS = dg.AssetKey("firm_topics")
MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION
BATCHES_TO_RUN = "batches_to_run"  # firm_manifest's metadata entry


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: set[str] | None = None) -> dict[str, int]:
    return dict(instance.get_latest_storage_id_by_partition(key, MATERIALIZATION, partitions))


def _subset(context: dg.AutomationContext, keys: Iterable[str]) -> dg.AutomationResult:
    view = context.asset_graph_view
    subset = view.get_subset_from_partition_keys(context.key, context.partitions_def, set(keys))
    return dg.AutomationResult(context, context.candidate_subset.compute_intersection(subset))


class BatchFirmListChanged(dg.AutomationCondition):
    """The newest manifest of the batch's quarter lists it in ``batches_to_run`` and it has not run since."""

    @property
    def description(self) -> str:
        return "The quarter's newest firm_manifest changed this batch's firm list (or it has no output yet)."

    @property
    def name(self) -> str:
        return "batch_firm_list_changed"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        instance = context.asset_graph_view.instance
        manifests = _latest(instance, MANIFEST)
        done = _latest(instance, context.key)
        batches = next(d for d in context.partitions_def.partitions_defs if d.name == BATCH_DIM).partitions_def
        true: list[str] = []
        for quarter, manifest_id in manifests.items():
            keys = {b: str(dg.MultiPartitionKey({QUARTER_DIM: quarter, BATCH_DIM: b}))
                    for b in batches.get_partition_keys()}
            behind = [b for b, k in keys.items() if done.get(k, -1) < manifest_id]
            if not behind:
                continue
            to_run = set(_batches_to_run(instance, quarter))
            true += [keys[b] for b in behind if b in to_run]
        return _subset(context, true)


def _batches_to_run(instance: dg.DagsterInstance, quarter: str) -> list[str]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=MANIFEST, asset_partitions=[quarter]), limit=1
    ).records
    if not records:
        return []
    entry = records[0].asset_materialization.metadata.get(BATCHES_TO_RUN)
    return list(entry.value) if entry is not None else []


class EarlierThemesNewer(dg.AutomationCondition):
    """The earliest quarter whose themes are older than an earlier quarter's (its theme ids may have moved)."""

    @property
    def description(self) -> str:
        return ("An earlier quarter's themes were materialized after this quarter's; only the earliest such "
                "quarter, so later quarters follow in calendar order.")

    @property
    def name(self) -> str:
        return "earlier_quarter_themes_newer"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        instance = context.asset_graph_view.instance
        latest = _latest(instance, context.key)
        newest_before, newest_quarter = -1, None
        for quarter in sorted(latest, key=lambda q: Quarter.parse(q).index):
            if newest_before > latest[quarter] and not _same_backfill(instance, context.key, newest_quarter, quarter):
                return _subset(context, [quarter])
            if latest[quarter] > newest_before:
                newest_before, newest_quarter = latest[quarter], quarter
        return _subset(context, [])


def _same_backfill(instance: dg.DagsterInstance, key: dg.AssetKey, *quarters: str | None) -> bool:
    """Both quarters' latest themes came from one backfill: it ran them together, and a quarter's themes replay
    the earlier quarters' (``themes.store.resolve``), so the order they were stored in does not matter."""
    backfills = set()
    for quarter in quarters:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[quarter]), limit=1).records
        run = instance.get_run_by_id(records[0].run_id) if records else None
        backfills.add(run.tags.get("dagster/backfill") if run is not None else None)
    return len(backfills) == 1 and None not in backfills


def _ready() -> dg.AutomationCondition:
    return ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & ~AC.in_progress()


def follow_inputs() -> dg.AutomationCondition:
    """An input was re-materialized (or will be in this run), none is missing or running."""
    return (AC.any_deps_updated().since_last_handled() & _ready()).with_label("an input was re-materialized")


def changed_batches() -> dg.AutomationCondition:
    """Only the batches whose firm list the new manifest changed."""
    changed = BatchFirmListChanged()
    waiting = AC.any_deps_match(AC.will_be_requested())
    return (changed.newly_true().since_last_handled() & changed & ~waiting & _ready()).with_label(
        "the batch's firm list changed")


def themes_in_order() -> dg.AutomationCondition:
    """The quarter's own batches changed, or an earlier quarter's themes did (calendar order)."""
    earlier = EarlierThemesNewer()
    trigger = AC.any_deps_updated() | earlier.newly_true()
    return (trigger.since_last_handled() & _ready()).with_label(
        "its batches or an earlier quarter's themes changed")


CONDITIONS: dict[str, dg.AutomationCondition | None] = {
    "raw_transcripts": None,  # the transcript watch requests it
    "firm_manifest": follow_inputs(),
    "firm_topics": changed_batches(),
    "firm_topic_failures": changed_batches(),
    "quarter_topic_summary": follow_inputs(),
    "quarter_themes": themes_in_order(),
    "theme_exposure": follow_inputs(),
}


def with_conditions(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """``assets`` with the conditions above on their specs (asset code stays unaware of automation)."""
    return list(dg.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=CONDITIONS.get(spec.key.to_user_string())),
        assets,
    ))

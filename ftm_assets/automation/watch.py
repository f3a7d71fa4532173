"""The transcript watch: refetch a finished quarter's transcripts when the source has more (or newer) ones.

Capital IQ keeps adding a quarter's transcripts for weeks after it ends. For the newest two quarter
partitions (the last complete quarter and the one before), the sensor asks the bound transcript source for a
cheap state (``TranscriptSource.state``: a count query on WRDS, a listing for files, the generator for demo)
and requests ``raw_transcripts`` for a quarter whose state differs from the one in its cursor, so it fires
once per change. A quarter it has not looked at before gets its state recorded as the baseline when
``raw_transcripts`` already exists there, and is fetched when it does not. Everything downstream follows by
the automation conditions (``ftm_assets.automation.conditions``). Each tick says why in the UI: the skip
reason, or the run's ``ftm/watch`` tag.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import dagster as dg

from ftm_assets.environment import Settings
from ftm_assets.partitions import QUARTERS, missing_quarters
from ftm_assets.transcripts.resources import SourceState, TranscriptSource

WATCH_SENSOR = "transcript_watch"
WATCH_INTERVAL_S = 3600
WATCHED_QUARTERS = 2  # the last complete quarter and the one before
REASON_TAG = "ftm/watch"
RAW = dg.AssetKey("raw_transcripts")


@dataclass(frozen=True)
class Decision:
    """What the watch does for one quarter, and why (shown in the UI)."""

    quarter: str
    state: SourceState
    fetch: bool
    reason: str


def decide(quarter: str, state: SourceState, seen: Mapping[str, str | int] | None, fetched: bool) -> Decision:
    """Fetch when the state changed since the cursor's; without a cursor entry, only a never-fetched quarter."""
    if seen is None:
        if fetched:
            return Decision(quarter, state, False, f"{quarter}: baseline recorded ({state.describe()}).")
        if state.count == 0:
            return Decision(quarter, state, False, f"{quarter}: the source has no transcripts yet.")
        return Decision(quarter, state, True, f"{quarter}: never fetched; the source has {state.describe()}.")
    before = SourceState(int(seen["count"]), str(seen["newest"]))
    if before == state:
        return Decision(quarter, state, False, f"{quarter}: unchanged ({state.describe()}).")
    if state.count == 0:
        return Decision(quarter, state, False, f"{quarter}: the source now lists no transcripts (was "
                        f"{before.count}); raw_transcripts kept as it is.")
    return Decision(quarter, state, True, f"{quarter}: {before.describe()} -> {state.describe()}.")


def build_transcript_watch(settings: Settings, clock: Callable[[], dt.date] = dt.date.today) -> dg.SensorDefinition:
    status = dg.DefaultSensorStatus.RUNNING if settings.automation else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name=WATCH_SENSOR,
        target=dg.AssetSelection.assets(RAW),
        minimum_interval_seconds=WATCH_INTERVAL_S,
        default_status=status,
        required_resource_keys={"transcript_source"},
        description="Asks the transcript source how many transcripts the last complete quarter and the one "
        "before have; refetches raw_transcripts of a quarter whose count or newest transcript changed. "
        "Runs when FTM_AUTOMATION=on.",
    )
    def transcript_watch(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        source: TranscriptSource = context.resources.transcript_source
        quarters = list(settings.quarters_on(clock()))[-WATCHED_QUARTERS:]
        cursor = json.loads(context.cursor) if context.cursor else {}
        decisions = [
            decide(q, source.state(q), cursor.get(q), _fetched(context.instance, q)) for q in quarters
        ]
        requests = [
            dg.RunRequest(
                run_key=f"{d.quarter}:{d.state.count}:{d.state.newest}",
                partition_key=d.quarter,
                asset_selection=[RAW],
                tags={REASON_TAG: d.reason[:200]},
            )
            for d in decisions
            if d.fetch
        ]
        for d in decisions:
            context.log.info(d.reason)
        new = missing_quarters(context.instance, quarters)
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=None if requests else " ".join(d.reason for d in decisions) or "No quarter to watch.",
            cursor=json.dumps({**cursor, **{d.quarter: asdict(d.state) for d in decisions}}, sort_keys=True),
            dynamic_partitions_requests=[QUARTERS.build_add_request(new)] if new else None,
        )

    return transcript_watch


def _fetched(instance: dg.DagsterInstance, quarter: str) -> bool:
    return bool(instance.get_latest_storage_id_by_partition(RAW, dg.DagsterEventType.ASSET_MATERIALIZATION, {quarter}))

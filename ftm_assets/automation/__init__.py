"""Keeping the panel current: quarters join as time passes, late transcripts are refetched, and what depends on
them re-runs by declarative automation. Off by default; ``FTM_AUTOMATION=on`` starts the watch and the
automation sensor (the calendar sensor always runs: it only adds quarter partitions). README: "Keeping the
panel current"."""

from __future__ import annotations

import dagster as dg

from ftm_assets.automation.calendar_sensor import build_quarter_calendar
from ftm_assets.automation.conditions import with_conditions
from ftm_assets.automation.watch import build_transcript_watch
from ftm_assets.environment import Settings

AUTOMATION_SENSOR = "ftm_automation"

__all__ = ["AUTOMATION_SENSOR", "automation_sensors", "with_conditions"]


def automation_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    status = dg.DefaultSensorStatus.RUNNING if settings.automation else dg.DefaultSensorStatus.STOPPED
    return [
        build_quarter_calendar(settings),
        build_transcript_watch(settings),
        dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=status,
            use_user_code_server=True,  # the batch and theme conditions are Python (conditions.py)
            emit_backfills=False,  # one run per partition, so the per-partition and pool limits apply
            description="Re-runs what a refetched raw_transcripts makes stale: the manifest, only the batches "
            "whose firm list changed, the summary, the themes (later quarters in calendar order) and the "
            "exposure panel. Runs when FTM_AUTOMATION=on.",
        ),
    ]

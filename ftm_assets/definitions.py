"""The code location ``ftm_assets``: assembles assets, checks, sensors and resources. Decides nothing itself."""

from __future__ import annotations

import dagster as dg

from ftm_assets.assets.manifest import build_firm_manifest
from ftm_assets.assets.returns import build_call_returns
from ftm_assets.assets.summary import build_quarter_summary
from ftm_assets.assets.themes import build_quarter_themes, build_theme_exposure
from ftm_assets.assets.topics import build_firm_topics
from ftm_assets.assets.transcripts import build_raw_transcripts
from ftm_assets.automation import automation_sensors, with_conditions
from ftm_assets.environment import Settings, resources
from ftm_assets.partitions import QUARTERS, quarter_batch_partitions


def build_definitions(settings: Settings) -> dg.Definitions:
    quarters = QUARTERS
    return dg.Definitions(
        assets=with_conditions([
            build_raw_transcripts(quarters),
            build_firm_manifest(quarters, settings.batch_count),
            build_firm_topics(quarter_batch_partitions(quarters, settings.batch_count)),
            build_quarter_summary(quarters),
            build_quarter_themes(quarters),
            build_theme_exposure(quarters),
            build_call_returns(quarters),
        ]),
        sensors=automation_sensors(settings),
        resources=resources(settings),
        # The worker is already a subprocess: a step subprocess per run would only add start-up time.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())

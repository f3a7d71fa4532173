"""Test helpers that materialize a quarter through Dagster with the real worker subprocess."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from ftm_assets.definitions import build_definitions
from ftm_assets.environment import Settings, resources
from ftm_assets.transcripts.resources import TranscriptSource
from ftm_assets.run_demo import materialize_quarter
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts.demo import demo_transcripts


class DemoWithBadFirms(TranscriptSource):
    """The demo corpus plus firms whose input is bad: an empty transcript and one with three sentences."""

    n_firms: int = 4

    @property
    def label(self) -> str:
        return "demo-synthetic"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        yield demo_transcripts(quarter, n_firms=self.n_firms)
        day = dt.date(int(quarter[:4]), 3 * int(quarter[-1]) - 1, 10)
        rows = [
            ("BAD-EMPTY", "Empty Transcript Corp (test)", 0, "Executives", ""),
            ("BAD-SHORT", "Short Call Inc (test)", 0, "Operator", "Welcome to the call of Short Call."),
            ("BAD-SHORT", "Short Call Inc (test)", 1, "Executives",
             "Revenue grew in the quarter across our regions. Margins held up well despite costs. "
             "We expect more growth next year from new products."),
        ]
        yield pa.Table.from_pylist(
            [
                {"quarter": quarter, "firm_id": f, "firm_name": n, "earnings_call_date": day, "component_order": o,
                 "speaker_type": s, "text": t, "source": "test"}
                for f, n, o, s, t in rows
            ],
            schema=RAW_TRANSCRIPTS_SCHEMA,
        )


def build_test_definitions(env: dict[str, str], source: TranscriptSource | None = None) -> tuple[dg.Definitions, Settings]:
    settings = Settings.from_env(env)
    defs = build_definitions(settings)
    if source is None:
        return defs, settings
    bound = {**resources(settings), "transcript_source": source}
    return dg.Definitions(assets=list(defs.assets), resources=bound), settings


def run_quarter(defs: dg.Definitions, settings: Settings, quarter: str, instance: dg.DagsterInstance) -> dict:
    return materialize_quarter(defs, quarter, settings.batch_count, instance)


def check_evaluations(instance: dg.DagsterInstance) -> list:
    """Every asset-check evaluation recorded on ``instance``, oldest first (tests give each its own instance)."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=True
    )
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]

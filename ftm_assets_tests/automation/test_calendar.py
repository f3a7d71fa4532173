"""Quarters as time: the calendar sensor adds a quarter once it has ended, on a running code location."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ftm_assets.automation.calendar_sensor import build_quarter_calendar
from ftm_assets.definitions import build_definitions
from ftm_assets.environment import ConfigError, Settings
from ftm_assets.partitions import known_quarters, register_quarters
from ftm_assets.quarters import last_complete_quarter, previous_quarter


class FrozenClock:
    """Today's date, moved by the test."""

    def __init__(self, day: dt.date):
        self.day = day

    def __call__(self) -> dt.date:
        return self.day


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance):
    """One evaluation, with its dynamic-partition requests applied as the daemon applies them."""
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_last_complete_quarter_and_previous():
    assert last_complete_quarter(dt.date(2026, 12, 7)) == "2026Q3"
    assert last_complete_quarter(dt.date(2027, 1, 1)) == "2026Q4"
    assert last_complete_quarter(dt.date(2027, 3, 31)) == "2026Q4"
    assert previous_quarter("2027Q1") == "2026Q4" and previous_quarter("2026Q3") == "2026Q2"


def test_a_new_quarter_appears_once_the_calendar_passes_it_without_a_reload():
    clock = FrozenClock(dt.date(2024, 12, 30))
    settings = Settings.from_env({"FTM_FIRST_QUARTER": "2024Q1"})
    defs = build_definitions(settings)  # loaded once, as a code server would
    sensor = build_quarter_calendar(settings, clock)
    quarters = defs.resolve_asset_graph().get(dg.AssetKey("raw_transcripts")).partitions_def
    with dg.instance_for_test() as instance:
        assert quarters.get_partition_keys(dynamic_partitions_store=instance) == []
        _tick(sensor, instance)
        assert known_quarters(instance) == ["2024Q1", "2024Q2", "2024Q3"]  # 2024Q4 has not ended
        second = _tick(sensor, instance)
        assert second.skip_message and "No new quarter" in second.skip_message
        clock.day = dt.date(2025, 1, 2)
        _tick(sensor, instance)
        assert quarters.get_partition_keys(dynamic_partitions_store=instance)[-1] == "2024Q4"
        # The quarter x batch partitions of firm_topics grow with it.
        multi = defs.resolve_asset_graph().get(dg.AssetKey("firm_topics")).partitions_def
        assert "000|2024Q4" in {str(k) for k in multi.get_partition_keys(dynamic_partitions_store=instance)}


def test_last_quarter_caps_the_calendar():
    clock = FrozenClock(dt.date(2030, 5, 1))
    settings = Settings.from_env({"FTM_FIRST_QUARTER": "2024Q3", "FTM_LAST_QUARTER": "2024Q4"})
    with dg.instance_for_test() as instance:
        _tick(build_quarter_calendar(settings, clock), instance)
        assert known_quarters(instance) == ["2024Q3", "2024Q4"]


def test_files_source_adds_the_quarters_a_new_file_holds(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "a.csv").write_text("firm_id,earnings_call_date,component_order,text\n1,2015-02-10,0,Hello.\n")
    settings = Settings.from_env({"FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(folder)})
    sensor = build_quarter_calendar(settings, FrozenClock(dt.date(2026, 1, 1)))
    with dg.instance_for_test() as instance:
        _tick(sensor, instance)
        assert known_quarters(instance) == ["2015Q1"]
        (folder / "b.csv").write_text("firm_id,earnings_call_date,component_order,text\n2,2016-08-10,0,Hi.\n")
        _tick(sensor, instance)
        assert known_quarters(instance) == ["2015Q1", "2016Q3"]  # gaps are left out


def test_register_quarters_adds_only_missing_keys_in_calendar_order():
    with dg.instance_for_test() as instance:
        assert register_quarters(instance, ["2024Q2", "2023Q4"]) == ["2023Q4", "2024Q2"]
        assert register_quarters(instance, ["2024Q2", "2024Q1"]) == ["2024Q1"]
        assert known_quarters(instance) == ["2023Q4", "2024Q1", "2024Q2"]


def test_automation_switch_is_validated():
    assert Settings.from_env({}).automation is False
    assert Settings.from_env({"FTM_AUTOMATION": "on"}).automation is True
    with pytest.raises(ConfigError, match="FTM_AUTOMATION='sometimes'"):
        Settings.from_env({"FTM_AUTOMATION": "sometimes"})

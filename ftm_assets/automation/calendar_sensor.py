"""Quarters join the calendar: the sensor that adds each quarter partition once the quarter has ended.

Always running (it launches nothing, it only adds partition keys to the instance): the last complete quarter
by default, FTM_LAST_QUARTER where set, and for the files source each quarter a file holds. The same step runs
before the webserver or daemon starts (``python -m ftm_assets.automation.calendar_sensor``), so the UI never opens
without quarters, and before ``make run`` runs a quarter (``ftm_assets.run``).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

import dagster as dg

from ftm_assets.environment import Settings
from ftm_assets.partitions import QUARTERS, missing_quarters, register_quarters

CALENDAR_SENSOR = "quarter_calendar"
CALENDAR_INTERVAL_S = 3600  # a quarter ends four times a year; an hour late is on time

Clock = Callable[[], dt.date]


def build_quarter_calendar(settings: Settings, clock: Clock = dt.date.today) -> dg.SensorDefinition:
    """The sensor; ``clock`` is where it reads today's date (tests freeze it)."""

    @dg.sensor(
        name=CALENDAR_SENSOR,
        minimum_interval_seconds=CALENDAR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds each quarter partition once the quarter has ended (files source: once a file holds "
        "it), so a long-running deployment shows new quarters without a restart. Launches no run.",
    )
    def quarter_calendar(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        due = settings.quarters_on(clock())
        new = missing_quarters(context.instance, due)
        if not new:
            return dg.SkipReason(f"No new quarter: {len(due)} quarter partitions, the newest {due[-1]}.")
        context.log.info(f"Adding quarter partition(s) {', '.join(new)}.")
        return dg.SensorResult(dynamic_partitions_requests=[QUARTERS.build_add_request(new)])

    return quarter_calendar


def main() -> int:
    """Add today's quarters to the instance in DAGSTER_HOME (before the webserver/daemon start)."""
    from ftm_assets.environment import ConfigError

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"ftm quarters: {exc}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        new = register_quarters(instance, settings.quarters_on(dt.date.today()))
    print(f"ftm quarters: {len(new)} quarter partition(s) added" + (f" ({new[0]}..{new[-1]})." if new else "."))
    return 0


if __name__ == "__main__":
    sys.exit(main())

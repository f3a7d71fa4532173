"""The Python automation conditions on a small graph: themes follow earlier quarters in order, one at a time."""

from __future__ import annotations

import dagster as dg

from ftm_assets.automation.conditions import EarlierThemesNewer
from ftm_assets.partitions import quarter_partitions

QUARTERS = quarter_partitions("2023Q1", "2023Q3")


@dg.asset(name="quarter_themes", partitions_def=QUARTERS, automation_condition=EarlierThemesNewer())
def themes() -> None:
    """Stands in for the real asset: the condition reads only Dagster's record of materializations."""


def _materialize(instance, quarter: str, **tags: str) -> None:
    assert dg.materialize([themes], partition_key=quarter, instance=instance, tags=tags).success


def _requested(instance) -> set[str]:
    result = dg.evaluate_automation_conditions(defs=[themes], instance=instance)
    return {str(k) for k in result.get_requested_partitions(themes.key)}


def test_the_earliest_quarter_behind_an_earlier_one_is_requested_alone():
    with dg.instance_for_test() as instance:
        for quarter in ("2023Q1", "2023Q2", "2023Q3"):
            _materialize(instance, quarter)
        assert _requested(instance) == set()
        _materialize(instance, "2023Q1")  # re-materialized: 2023Q2 and 2023Q3 are behind, 2023Q2 goes first
        assert _requested(instance) == {"2023Q2"}
        _materialize(instance, "2023Q2")
        assert _requested(instance) == {"2023Q3"}
        _materialize(instance, "2023Q3")
        assert _requested(instance) == set()


def test_quarters_stored_by_one_backfill_in_any_order_are_current():
    with dg.instance_for_test() as instance:
        for quarter in ("2023Q3", "2023Q2", "2023Q1"):  # a backfill may store them in any order
            _materialize(instance, quarter, **{"dagster/backfill": "b1"})
        assert _requested(instance) == set()
        _materialize(instance, "2023Q1")  # outside the backfill: the later quarters follow
        assert _requested(instance) == {"2023Q2"}

"""A command-line run's settings: the requested quarters become partitions without writing os.environ."""

from __future__ import annotations

import os

from ftm_assets.quarters import Quarter, current_quarter
from ftm_assets.run.settings import load_settings


def later(quarters: int) -> str:
    q = Quarter.parse(current_quarter())
    for _ in range(quarters):
        q = q.next()
    return q.key


def test_a_quarter_after_today_extends_the_partitions_and_leaves_the_environment_alone():
    before = dict(os.environ)
    settings = load_settings([later(3)], {"FTM_FIRST_QUARTER": "2020Q1"})
    assert settings.last_quarter == later(3) and settings.quarters[-1] == later(3)
    assert dict(os.environ) == before


def test_a_later_bound_or_an_earlier_quarter_is_kept():
    assert load_settings([later(1)], {"FTM_LAST_QUARTER": later(4)}).last_quarter == later(4)
    assert load_settings(["2021Q2"], {"FTM_FIRST_QUARTER": "2020Q1", "FTM_LAST_QUARTER": "2022Q1"}).last_quarter == "2022Q1"

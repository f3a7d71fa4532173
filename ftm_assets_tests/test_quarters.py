"""Quarter keys: parsing, validation errors, date ranges and ranges of keys."""

import datetime as dt

import pytest

from ftm_assets.quarters import Quarter, QuarterKeyError, current_quarter, quarter_keys


def test_parse_and_dates():
    q = Quarter.parse("2023Q1")
    assert (q.year, q.q, q.key) == (2023, 1, "2023Q1")
    assert q.start == dt.date(2023, 1, 1) and q.end == dt.date(2023, 3, 31)
    assert Quarter.parse("2024Q4").end == dt.date(2024, 12, 31)
    assert Quarter.parse("2023Q4").next().key == "2024Q1"


@pytest.mark.parametrize("bad", ["2023Q5", "2023-Q1", "23Q1", "2023q1", "", "Q1 2023", "1800Q1"])
def test_unknown_keys_say_what_a_key_looks_like(bad):
    with pytest.raises(QuarterKeyError, match="2023Q1|1990-2100"):
        Quarter.parse(bad)


def test_ranges():
    assert quarter_keys("2023Q3", "2024Q2") == ["2023Q3", "2023Q4", "2024Q1", "2024Q2"]
    with pytest.raises(QuarterKeyError, match="empty"):
        quarter_keys("2024Q1", "2023Q1")
    assert current_quarter(dt.date(2026, 11, 28)) == "2026Q4"


def test_expand_quarters_takes_ranges_lists_and_single_keys():
    from ftm_assets.quarters import expand_quarters

    assert expand_quarters("2023Q3:2024Q1") == ["2023Q3", "2023Q4", "2024Q1"]
    assert expand_quarters("2024Q1, 2023Q1") == ["2023Q1", "2024Q1"]
    assert expand_quarters(["2023Q2", "2023Q1:2023Q2"]) == ["2023Q1", "2023Q2"]
    for bad in ("2023Q5", "2024Q1:2023Q1", "", []):
        with pytest.raises(QuarterKeyError):
            expand_quarters(bad)

"""Markdown tables for metadata: cells kept as given, pipes escaped, numbers right-aligned on request."""

import re

from ftm_assets.markdown import markdown_table


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_cells_are_shown_as_given_and_cannot_break_the_row():
    rows = [{"batch": "000", "firms": 12, "name": "Big | Co\nHoldings"}, {"batch": "001", "firms": 3, "name": None}]
    lines = markdown_table(rows, ["batch", "firms", "name"], right=["firms"]).splitlines()
    assert len(lines) == 4
    assert _cells(lines[0]) == ["batch", "firms", "name"]
    assert [c.strip("-") for c in _cells(lines[1])] == [":", ":", ":"] and _cells(lines[1])[1].endswith(":")
    assert _cells(lines[2]) == ["000", "12", "Big \\| Co Holdings"]  # "000" not parsed to 0; one row, one line
    assert _cells(lines[3]) == ["001", "3", ""]  # None is an empty cell


def test_no_rows_no_table():
    assert markdown_table([], ["batch"]) == ""

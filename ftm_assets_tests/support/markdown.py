"""Markdown tables read back for assertions: on values, not on the padding that aligns the columns."""

from __future__ import annotations

import re


def cells(line: str) -> list[str]:
    """The cells of one table row, stripped; an escaped pipe (``\\|``) stays inside its cell."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def table_rows(markdown: str) -> list[dict[str, str]]:
    """A pipe table back into one dict per row, keyed by the header's cells."""
    lines = markdown.splitlines()
    header = cells(lines[0])
    assert set(lines[1]) <= set("|:- "), lines[1]
    return [dict(zip(header, cells(line))) for line in lines[2:]]

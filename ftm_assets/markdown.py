"""Markdown for Dagster metadata: tables rendered by pandas (``DataFrame.to_markdown``, i.e. tabulate), and
PNG pictures inlined as data URIs.

One helper for every table we show (firms per batch, the quarter's batches, the worker's largest topics), so
escaping and alignment are decided once, and one for every picture. No Dagster import: the worker uses it too.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any


def _cell(value: Any) -> str:
    """A cell as text: pipes and newlines would break the row, None is an empty cell."""
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[dict[str, Any]], columns: Iterable[str], right: Iterable[str] = ()) -> str:
    """A GitHub-style markdown table of ``rows`` (dicts) with ``columns`` in that order.

    Cells are shown exactly as given (format numbers before: ``f"{rate:.1%}"``); tabulate's number parsing is
    off, so a batch key ``"000"`` stays ``000``. Columns named in ``right`` are right-aligned. An empty string
    when there are no rows.
    """
    # pandas is imported here, not at module level: the worker imports this module at start-up and only
    # needs pandas (already loaded by BERTopic by then) when it reports.
    import pandas as pd

    columns, right = list(columns), set(right)
    if not rows:
        return ""
    frame = pd.DataFrame([{c: _cell(row.get(c)) for c in columns} for row in rows], columns=columns)
    align = ["right" if c in right else "left" for c in columns]
    return frame.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True)


def png_markdown(alt: str, png: bytes) -> str:
    """``png`` as an inline markdown image (a data URI), which Dagster's UI shows in the metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"

"""Transcripts a user already has, read from a folder of JSONL or Parquet files (the ``files`` source).

Format
------
``read_transcript_files(folder, quarter)`` reads every ``*.jsonl``, ``*.jsonl.gz`` and ``*.parquet`` file
under ``folder``, recursively (other files are ignored). Each row is one transcript component (a
presentation speech, a question, an answer); a JSONL file holds one JSON object per line (blank lines are
skipped). Columns, as in ``ftm_assets.schema.RAW_TRANSCRIPTS_SCHEMA``:

==================== ========== ===========================================================================
column               required   meaning
==================== ========== ===========================================================================
``firm_id``          yes        the firm's id (text; a JSON number is read as text). Capital IQ companyid
                                when you have it.
``earnings_call_date`` yes      ISO date ``YYYY-MM-DD`` (an ISO datetime is cut to its date); may be null
                                only where ``quarter`` is given.
``component_order``  yes        integer position of the component in its call, from 0.
``text``             yes        the component's text; empty text is kept (the worker reports such firms).
``quarter``          no         quarter key like ``2023Q1``; where absent or null, the quarter containing
                                ``earnings_call_date`` is used.
``firm_name``        no         text.
``call_id``          no         integer id of the call (Capital IQ keydevid); tells apart two calls of one
                                firm in a quarter, as does the call date.
``transcript_id``    no         integer.
``gvkey``            no         text, zero-padded to 6 digits as in Compustat (a number is padded).
``permno``           no         integer (CRSP).
``component_type``   no         e.g. ``Presenter Speech``, ``Question``, ``Answer``.
``speaker_type``     no         e.g. ``Operator``, ``Executives``, ``Analysts``.
==================== ========== ===========================================================================

Other columns are ignored; ``source`` is always set to ``files``. Rows of other quarters are skipped, so
one folder can hold many quarters. The result is sorted by firm, call, call date and component order.
An empty result (no rows for the quarter) is not an error here.

Errors name the file (and, for JSONL, the line) and what to fix: a missing folder, a folder with no
transcript files, a missing required column, an unparseable date or quarter, a bad JSON line, or a
component that appears twice (same firm, call, date and order).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ftm_assets.quarters import Quarter, QuarterKeyError
from ftm_assets.schema import RAW_REQUIRED_COLUMNS, RAW_TRANSCRIPTS_SCHEMA, conform

SOURCE_LABEL = "files"
PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.parquet")
REQUIRED = tuple(c for c in RAW_REQUIRED_COLUMNS if c != "quarter")  # quarter may come from the date
_FILE_COLUMN = "__file"  # where a row came from, for error messages; dropped before returning
_INT_COLUMNS = ("call_id", "transcript_id", "permno", "component_order")
_SORT_KEYS = [
    ("firm_id", "ascending"),
    ("call_id", "ascending"),
    ("earnings_call_date", "ascending"),
    ("component_order", "ascending"),
]


def transcript_files(folder: str | Path) -> list[Path]:
    """The transcript files under ``folder``, sorted; raises with what to fix when there are none."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"Transcript folder {root} does not exist: point the files source at a folder holding "
            f"{', '.join(PATTERNS)} files."
        )
    if not root.is_dir():
        raise NotADirectoryError(f"Transcript folder {root} is a file: point the files source at its folder.")
    found = sorted({path for pattern in PATTERNS for path in root.rglob(pattern) if path.is_file()})
    if not found:
        raise FileNotFoundError(
            f"No transcript files in {root}: expected {', '.join(PATTERNS)} files (searched recursively)."
        )
    return found


def read_transcript_files(folder: str | Path, quarter: str) -> pa.Table:
    """The components of ``quarter`` found in ``folder``, in ``RAW_TRANSCRIPTS_SCHEMA`` (see module doc)."""
    q = Quarter.parse(quarter)
    tables = [_read_file(path, q) for path in transcript_files(folder)]
    table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
    _check_duplicates(table)
    table = table.sort_by(_SORT_KEYS)  # nulls (no call_id) sort last, Arrow's default
    return conform(table.drop_columns([_FILE_COLUMN]), RAW_TRANSCRIPTS_SCHEMA)


def _read_file(path: Path, quarter: Quarter) -> pa.Table:
    """One file's rows of ``quarter``, typed, with the file name in ``_FILE_COLUMN``."""
    if path.name.endswith(".parquet"):
        columns = _parquet_columns(path)
    else:
        columns = _jsonl_columns(path)
    keep = [
        (q == quarter.key) if q is not None else (d is not None and quarter.start <= d <= quarter.end)
        for q, d in zip(columns["quarter"], columns["earnings_call_date"])
    ]
    n = sum(keep)
    data = {name: [v for v, k in zip(values, keep) if k] for name, values in columns.items()}
    data["quarter"] = [quarter.key] * n
    data["source"] = [SOURCE_LABEL] * n
    data[_FILE_COLUMN] = [str(path)] * n
    schema = pa.schema([*RAW_TRANSCRIPTS_SCHEMA.remove_metadata(), pa.field(_FILE_COLUMN, pa.string())])
    return pa.table({field.name: pa.array(data[field.name], field.type) for field in schema}, schema=schema)


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read it as UTF-8 JSON lines{' (gzip)' if opener is gzip.open else ''}: {exc}") from exc


def _jsonl_columns(path: Path) -> dict[str, list]:
    columns: dict[str, list] = {name: [] for name in RAW_TRANSCRIPTS_SCHEMA.names if name != "source"}
    for lineno, line in _jsonl_lines(path):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object.") from exc
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object per line, got {type(record).__name__}.")
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            raise ValueError(
                f"{where}: missing required field(s) {missing}; every component needs {list(REQUIRED)} "
                "(and 'quarter' or a non-null 'earnings_call_date')."
            )
        for name in columns:
            columns[name].append(_convert(name, record.get(name), where))
        _check_placeable(columns, where)
    return columns


def _parquet_columns(path: Path) -> dict[str, list]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: cannot read it as Parquet: {exc}") from exc
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise ValueError(
            f"{path}: missing required column(s) {missing}; have {table.column_names}. "
            f"Every file needs {list(REQUIRED)}, plus 'quarter' where 'earnings_call_date' is null."
        )
    columns: dict[str, list] = {}
    for name in RAW_TRANSCRIPTS_SCHEMA.names:
        if name == "source":
            continue
        values = table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
        columns[name] = [_convert(name, v, f"{path}, row {i}") for i, v in enumerate(values)]
    for i in range(table.num_rows):
        if columns["quarter"][i] is None and columns["earnings_call_date"][i] is None:
            raise ValueError(f"{path}, row {i}: both 'quarter' and 'earnings_call_date' are null; give either.")
    return columns


def _check_placeable(columns: dict[str, list], where: str) -> None:
    if columns["quarter"][-1] is None and columns["earnings_call_date"][-1] is None:
        raise ValueError(f"{where}: both 'quarter' and 'earnings_call_date' are null; give either.")
    if columns["firm_id"][-1] is None or columns["component_order"][-1] is None:
        raise ValueError(f"{where}: 'firm_id' and 'component_order' must not be null.")


def _convert(name: str, value: object, where: str) -> object:
    """One value to its column's Python type; raises naming the row and what was wrong."""
    if value is None:
        return None
    try:
        if name == "earnings_call_date":
            return _to_date(value)
        if name == "quarter":
            return Quarter.parse(value).key
        if name in _INT_COLUMNS:
            return _to_int(value)
        if name == "gvkey" and isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
            return f"{int(value):06d}"  # Compustat's zero-padded text, whatever the file held
        if name in ("firm_id", "gvkey") and isinstance(value, int | float) and not isinstance(value, bool):
            return str(_to_int(value))
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
        return value
    except (ValueError, TypeError, QuarterKeyError) as exc:
        raise ValueError(f"{where}: bad '{name}' value {value!r}: {exc}") from exc


def _to_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).date()
        except ValueError:
            raise ValueError("expected an ISO date like 2023-02-14") from None
    raise TypeError(f"expected an ISO date string, got {type(value).__name__}")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _check_duplicates(table: pa.Table) -> None:
    """Refuse a component that appears twice: usually one call exported into two files."""
    keys = ["firm_id", "call_id", "earnings_call_date", "component_order"]
    counts = table.group_by(keys, use_threads=False).aggregate([(_FILE_COLUMN, "list")])
    repeated = counts.filter(pc.greater(pc.list_value_length(counts.column(f"{_FILE_COLUMN}_list")), 1))
    if repeated.num_rows:
        first = repeated.slice(0, 1).to_pylist()[0]
        where = first.pop(f"{_FILE_COLUMN}_list")
        raise ValueError(
            f"Component {first} appears {len(where)} times, in {sorted(set(where))} "
            f"({repeated.num_rows} repeated components in all): remove the duplicate rows or give the calls "
            "distinct call_id values."
        )

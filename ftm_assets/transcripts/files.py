"""Transcripts a user already has, read from a folder of CSV, JSONL or Parquet files (the ``files`` source).

Format
------
``read_transcript_files(folder, quarter)`` reads every ``*.csv``, ``*.csv.gz``, ``*.jsonl``, ``*.jsonl.gz``
and ``*.parquet`` file under ``folder``, recursively (other files are ignored). Each row is one transcript
component (a presentation speech, a question, an answer); a JSONL file holds one JSON object per line (blank
lines are skipped); a CSV file has a header line (quoted fields may span lines). Columns, as in
``ftm_assets.schema.RAW_TRANSCRIPTS_SCHEMA``, under our name or Capital IQ's (any letter case):

- ``firm_id`` (Capital IQ: ``companyid``), required: the firm's id, as text ("24937"; a number such as
  24937 or 24937.0 becomes "24937"; other text, such as "012141", is kept as it is).
- ``earnings_call_date`` (``mostimportantdateutc``), required: ISO date ``YYYY-MM-DD`` (an ISO datetime is
  cut to its date); may be null only where ``quarter`` is given.
- ``component_order`` (``componentorder``), required: integer position of the component in its call.
- ``text`` (``componenttext``), required: the component's text; empty text is kept (the worker reports
  such firms).
- ``quarter``, optional: a quarter key like ``2023Q1``; where absent or null, the calendar quarter of
  ``earnings_call_date``.
- ``firm_name`` (``companyname``), optional: text.
- ``call_id`` (``keydevid``), optional: integer id of the call; tells apart two calls of one firm in a
  quarter, as does the call date.
- ``transcript_id`` (``transcriptid``), optional: integer.
- ``gvkey`` (``gvkey``), optional: Compustat's zero-padded six-digit text: 1690, 1690.0 and "1690" all
  become "001690".
- ``permno`` (``lpermno``), optional: integer (CRSP); 14593.0 and "14593" become 14593.
- ``component_type`` (``transcriptcomponenttypename``), optional: e.g. ``Presenter Speech``, ``Question``.
- ``speaker_type`` (``speakertypename``), optional: e.g. ``Operator``, ``Executives``, ``Analysts``.

Where a file has both names for a column, ours wins. Other columns are ignored (a WRDS export's
``headline``, ``transcriptcomponentid``, ...); ``source`` is always set to ``files``. In CSV every value is
read as text and converted as above, so an empty field is null (and empty text stays empty). Rows of other
quarters are skipped, so one folder can hold many quarters: ``quarters_in_folder`` lists the quarters it
holds (the quarter partitions of a ``files`` deployment). The result is sorted by firm, call, call date and
component order. An empty result (no rows for the quarter) is not an error here.

Errors name the file (and the line or row) and what to fix: a missing folder, a folder with no transcript
files, a missing required column, an unparseable date or quarter, a bad JSON line, or a component that
appears twice (same firm, call, date and order).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ftm_assets.quarters import Quarter, QuarterKeyError
from ftm_assets.schema import RAW_REQUIRED_COLUMNS, RAW_TRANSCRIPTS_SCHEMA, conform

SOURCE_LABEL = "files"
FILES_QUARTERS_CACHE = "ftm-files-quarters.json"  # under DAGSTER_HOME: each file's quarters, by size and mtime
PATTERNS = ("*.csv", "*.csv.gz", "*.jsonl", "*.jsonl.gz", "*.parquet")
REQUIRED = tuple(c for c in RAW_REQUIRED_COLUMNS if c != "quarter")  # quarter may come from the date
# Capital IQ / WRDS column names accepted for ours (compared in lower case), in order of preference.
CAPITAL_IQ_NAMES: dict[str, tuple[str, ...]] = {
    "firm_id": ("companyid",),
    "firm_name": ("companyname",),
    "call_id": ("keydevid",),
    "transcript_id": ("transcriptid",),
    "earnings_call_date": ("mostimportantdateutc",),
    "component_order": ("componentorder",),
    "text": ("componenttext",),
    "component_type": ("transcriptcomponenttypename",),
    "speaker_type": ("speakertypename",),
    "permno": ("lpermno",),
}
_FLOAT_ID = re.compile(r"^\d+\.0*$")  # an integer id written as a float: "24937.0"
_COLUMNS = [name for name in RAW_TRANSCRIPTS_SCHEMA.names if name != "source"]
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


def column_map(names: list[str]) -> dict[str, str]:
    """Our column name -> the file's column that holds it: ours first, then Capital IQ's; any letter case."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    mapping = {}
    for ours in _COLUMNS:
        for candidate in (ours, *CAPITAL_IQ_NAMES.get(ours, ())):
            if candidate in by_lower:
                mapping[ours] = by_lower[candidate]
                break
    return mapping


def read_transcript_files(folder: str | Path, quarter: str, cache: str | Path | None = None) -> pa.Table:
    """The components of ``quarter`` found in ``folder``, in ``RAW_TRANSCRIPTS_SCHEMA`` (see module doc).

    With ``cache`` (see ``quarters_in_folder``), files known to hold only other quarters are not read: a
    folder of one file per quarter or year then costs one file per quarter, not the whole folder.
    """
    q = Quarter.parse(quarter)
    if cache is None:
        paths = transcript_files(folder)
    else:
        paths = [path for path, quarters in quarters_by_file(folder, cache).items() if q.key in quarters]
    tables = [_read_file(path, q) for path in paths] or [_read_file_empty()]
    table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
    _check_duplicates(table)
    table = table.sort_by(_SORT_KEYS)  # nulls (no call_id) sort last, Arrow's default
    return conform(table.drop_columns([_FILE_COLUMN]), RAW_TRANSCRIPTS_SCHEMA)


def quarters_in_folder(folder: str | Path, cache: str | Path | None = None) -> list[str]:
    """The quarters that the files under ``folder`` hold, sorted (from ``quarter`` or the call date).

    Reads only those two columns (Parquet and CSV skip the rest; JSONL must parse its lines). ``cache``, a
    JSON file, remembers each file's quarters by path, size and modification time, so that a code location
    reloading over a large, unchanged folder does not read it again.
    """
    found = {q for quarters in quarters_by_file(folder, cache).values() for q in quarters}
    return sorted(found, key=Quarter.parse)


def quarters_by_file(folder: str | Path, cache: str | Path | None = None) -> dict[Path, list[str]]:
    """Each transcript file under ``folder`` with the quarters it holds (cached as ``quarters_in_folder`` says)."""
    known: dict = {}
    if cache is not None:
        try:
            known = json.loads(Path(cache).read_text())
        except (OSError, ValueError):
            known = {}
    seen: dict[str, dict] = {}
    for path in transcript_files(folder):
        stat = path.stat()
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        entry = known.get(str(path))
        if entry and entry.get("stamp") == stamp:
            quarters = entry["quarters"]
        else:
            quarters = sorted(_file_quarters(path), key=Quarter.parse)
        seen[str(path)] = {"stamp": stamp, "quarters": quarters}
    if cache is not None and seen != known:
        try:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            Path(cache).write_text(json.dumps(seen, indent=0))
        except OSError:
            pass  # a read-only cache location only costs a re-scan next time
    return {Path(path): entry["quarters"] for path, entry in seen.items()}


def _file_quarters(path: Path) -> set[str]:
    columns, locate = _raw_columns(path, only=("quarter", "earnings_call_date"))
    quarters = set()
    for i, (q, d) in enumerate(zip(columns["quarter"], columns["earnings_call_date"])):
        q = _convert("quarter", q, locate(i))
        d = _convert("earnings_call_date", d, locate(i))
        if q is None and d is None:
            raise ValueError(f"{locate(i)}: both 'quarter' and 'earnings_call_date' are null; give either.")
        quarters.add(q if q is not None else Quarter.containing(d).key)
    return quarters


def _read_file_empty() -> pa.Table:
    schema = pa.schema([*RAW_TRANSCRIPTS_SCHEMA.remove_metadata(), pa.field(_FILE_COLUMN, pa.string())])
    return schema.empty_table()


def _read_file(path: Path, quarter: Quarter) -> pa.Table:
    """One file's rows of ``quarter``, typed, with the file name in ``_FILE_COLUMN``."""
    raw, locate = _raw_columns(path)
    n_rows = len(raw["firm_id"])
    columns: dict[str, list] = {name: [] for name in _COLUMNS}
    for i in range(n_rows):
        where = locate(i)
        row = {name: _convert(name, raw[name][i], where) for name in _COLUMNS}
        if row["quarter"] is None and row["earnings_call_date"] is None:
            raise ValueError(f"{where}: both 'quarter' and 'earnings_call_date' are null; give either.")
        if row["firm_id"] is None or row["component_order"] is None:
            raise ValueError(f"{where}: 'firm_id' and 'component_order' must not be null.")
        if row["quarter"] is not None:
            keep = row["quarter"] == quarter.key
        else:
            keep = quarter.start <= row["earnings_call_date"] <= quarter.end
        if keep:
            for name in _COLUMNS:
                columns[name].append(row[name])
    n = len(columns["firm_id"])
    columns["quarter"] = [quarter.key] * n
    columns["source"] = [SOURCE_LABEL] * n
    columns[_FILE_COLUMN] = [str(path)] * n
    schema = pa.schema([*RAW_TRANSCRIPTS_SCHEMA.remove_metadata(), pa.field(_FILE_COLUMN, pa.string())])
    return pa.table({field.name: pa.array(columns[field.name], field.type) for field in schema}, schema=schema)


Locator = Callable[[int], str]


def _raw_columns(path: Path, only: tuple[str, ...] | None = None) -> tuple[dict[str, list], Locator]:
    """The file's values under our column names (None where a column is absent), unconverted, and a
    function naming row ``i``'s place in the file for error messages. ``only`` limits the columns read."""
    wanted = tuple(only or _COLUMNS)
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _parquet_columns(path, wanted), lambda i: f"{path}, row {i}"
    if name.endswith((".csv", ".csv.gz")):
        return _csv_columns(path, wanted), lambda i: f"{path}, line {i + 2}"
    return _jsonl_columns(path, wanted)


def _require(path: Path, mapping: Mapping[str, str], names: list[str], wanted: tuple[str, ...]) -> None:
    missing = [name for name in REQUIRED if name in wanted and name not in mapping]
    if "earnings_call_date" in wanted and "earnings_call_date" not in mapping and "quarter" in mapping:
        missing = [m for m in missing if m != "earnings_call_date"]
    if missing:
        raise ValueError(
            f"{path}: missing required column(s) {missing}; have {names}. Every file needs {list(REQUIRED)} "
            f"(or Capital IQ's {[CAPITAL_IQ_NAMES[m][0] for m in REQUIRED]}), plus 'quarter' where "
            "'earnings_call_date' is null."
        )


def _parquet_columns(path: Path, wanted: tuple[str, ...]) -> dict[str, list]:
    try:
        names = pq.read_schema(path).names
        mapping = column_map(names)
        _require(path, mapping, names, wanted)
        present = {ours: theirs for ours, theirs in mapping.items() if ours in wanted}
        table = pq.read_table(path, columns=sorted(set(present.values())))
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: cannot read it as Parquet: {exc}") from exc
    return {
        ours: table.column(present[ours]).to_pylist() if ours in present else [None] * table.num_rows
        for ours in wanted
    }


def _csv_columns(path: Path, wanted: tuple[str, ...]) -> dict[str, list]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            names = next(csv.reader(handle), [])
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read its header as UTF-8 CSV: {exc}") from exc
    mapping = column_map(names)
    _require(path, mapping, names, wanted)
    present = {ours: theirs for ours, theirs in mapping.items() if ours in wanted}
    try:
        table = pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                # Every value as text: type inference would read gvkey 001690 as 1690 or a mixed column wrongly.
                column_types={theirs: pa.string() for theirs in present.values()},
                include_columns=sorted(set(present.values())),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: cannot read it as CSV: {exc}") from exc
    return {
        ours: _blank_to_null(ours, table.column(present[ours]).to_pylist()) if ours in present else [None] * table.num_rows
        for ours in wanted
    }


def _blank_to_null(name: str, values: list) -> list:
    """CSV has no null: an empty field is null, except in ``text``, where it is an empty component."""
    if name == "text":
        return values
    return [None if v is None or not v.strip() else v for v in values]


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read it as UTF-8 JSON lines{' (gzip)' if opener is gzip.open else ''}: {exc}") from exc


def _jsonl_columns(path: Path, wanted: tuple[str, ...]) -> tuple[dict[str, list], Locator]:
    columns: dict[str, list] = {name: [] for name in wanted}
    line_numbers: list[int] = []
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
        mapping = column_map(list(record))
        missing = [name for name in REQUIRED if name in wanted and name not in mapping]
        if missing:
            raise ValueError(
                f"{where}: missing required field(s) {missing}; every component needs {list(REQUIRED)} "
                "(and 'quarter' or a non-null 'earnings_call_date')."
            )
        for name in wanted:
            columns[name].append(record[mapping[name]] if name in mapping else None)
        line_numbers.append(lineno)
    return columns, lambda i: f"{path}, line {line_numbers[i]}"


def _convert(name: str, value: object, where: str) -> object:
    """One value to its column's Python type; raises naming the row and what was wrong."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None  # pandas writes a missing number as NaN
    try:
        if name == "earnings_call_date":
            return _to_date(value)
        if name == "quarter":
            return Quarter.parse(value).key
        if name in _INT_COLUMNS:
            return _to_int(value)
        if name == "gvkey":
            return _to_gvkey(value)
        if name == "firm_id":
            return _to_id_text(value)
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
        return value
    except (ValueError, TypeError, QuarterKeyError) as exc:
        raise ValueError(f"{where}: bad '{name}' value {value!r}: {exc}") from exc


def _to_id_text(value: object) -> str:
    """An id as text: 24937, 24937.0 and "24937.0" (a number that went through a float) all give "24937";
    other text ("012141", "E22-AAPL-1") is kept as it is."""
    if isinstance(value, bool):
        raise TypeError("expected an id, got a boolean")
    if isinstance(value, int | float):
        return str(_to_int(value))
    if isinstance(value, str):
        text = value.strip()
        return text.split(".")[0] if _FLOAT_ID.match(text) else text
    raise TypeError(f"expected text or a number, got {type(value).__name__}")


def _to_gvkey(value: object) -> str:
    """Compustat's zero-padded six-digit text from an int, a float or text ("1690", "1690.0", "001690")."""
    text = _to_id_text(value)
    return f"{int(text):06d}" if text.isdigit() else text


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
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if "." in text else int(text)
        except ValueError:
            raise TypeError(f"expected an integer, got text {value!r}") from None
        return _to_int(number)
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

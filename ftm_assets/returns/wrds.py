"""Prefetch a quarter's CRSP daily returns (and its calls' start times) from WRDS in one streaming query, from
CRSP's CIZ tables (the default, updated after 2024) or its legacy SIZ ones (``wrds_sql``).

Connection, credentials and error messages are the transcript prefetch's (``transcripts.wrds``): one
read-only snapshot, a server-side cursor, no prompt. The SQL is in ``wrds_sql.py``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ftm_assets.returns import wrds_sql
from ftm_assets.returns.crsp import CrspData
from ftm_assets.transcripts.wrds import (
    WrdsAccessError, WrdsSettings, _translate_query_error, check_tables, wrds_connection,
)

CHUNK_ROWS = 50_000


def fetch_returns(settings: WrdsSettings, permnos: list[int], keydevids: list[int], start: dt.date, end: dt.date,
                  label: str, crsp_format: str = "ciz") -> tuple[CrspData, dict[int, pd.Timestamp]]:
    """The returns of ``permnos`` from ``start`` to ``end`` and each call's UTC start time by keydevid, from
    ``crsp_format``'s tables (``wrds_sql.FORMATS``: ciz or siz)."""
    import sqlalchemy as sa

    fmt = wrds_sql.FORMATS[crsp_format]
    rows: list[tuple] = []
    with wrds_connection(settings) as connection:
        try:
            check_tables(connection, settings, fmt.tables)
        except WrdsAccessError as exc:
            other = "siz" if fmt.name == "ciz" else "ciz"
            raise WrdsAccessError(
                f"call_returns reads {fmt.described} (the CRSP daily stock subscription) and Capital IQ's call "
                f"times (FTM_CRSP_FORMAT={fmt.name}; the other format is FTM_CRSP_FORMAT={other}). {exc}"
            ) from None
        try:
            result = connection.execution_options(stream_results=True, max_row_buffer=CHUNK_ROWS).execute(
                sa.text(fmt.sql),
                {"permnos": permnos, "keydevids": keydevids, "start": start, "end": end},
            )
            for chunk in iter(lambda: result.fetchmany(CHUNK_ROWS), []):
                rows.extend(chunk)
        except sa.exc.DBAPIError as err:
            raise _translate_query_error(err, settings, label) from None
    frame = pd.DataFrame(rows, columns=["kind", "id", "day", "value", "start_utc"])
    kind = frame["kind"]
    stock = frame[kind == "stock"].rename(columns={"id": "permno", "day": "date", "value": "ret"})
    delist = frame[kind == "delist"].rename(columns={"id": "permno", "day": "dlstdt", "value": "dlret"})
    index = frame[kind == "index"].rename(columns={"day": "date", "value": "vwretd"})
    calls = frame[(kind == "call") & frame["start_utc"].notna()]
    starts = {int(k): pd.Timestamp(v) for k, v in zip(calls["id"], calls["start_utc"])}
    return CrspData.from_frames(stock, index, delist), starts

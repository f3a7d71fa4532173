"""The one query that prefetches a quarter's CRSP returns and call start times from WRDS, per CRSP format.

CRSP publishes its stock files in two formats. CIZ (``crsp.dsf_v2``, the index in
``crsp.wrds_dailyindexret_query``) is the only one updated after 2024; its daily return ``dlyret`` already
includes the delisting return on the delisting day (``dlydelflg = 'Y'``). The legacy SIZ files (``crsp.dsf``,
``crsp.dsedelist``, ``crsp.dsi``) end on 2024-12-31 and keep delisting returns apart. Both queries give the
same rows, so one computation serves both.

Binds: ``:permnos`` (the quarter's linked permnos), ``:keydevids`` (its calls), ``:start``/``:end`` (dates
covering every estimation and event window). Rows: ``kind`` ('stock': the day's return; 'delist': the
delisting day's return to compound, under CIZ the whole day's return, so that day has no 'stock' row;
'index': vwretd; 'call': the call's start in UTC from Capital IQ's wrds_transcript_detail), ``id`` (permno or
keydevid), ``day``, ``value``, ``start_utc``.
"""

from __future__ import annotations

from dataclasses import dataclass

CALL_TIMES_TABLE = ("ciq_transcripts", "wrds_transcript_detail")

_CALL_TIMES_SQL = """
SELECT DISTINCT ON (t.keydevid) 'call', t.keydevid::bigint, t.mostimportantdateutc::date, NULL::float8,
       t.mostimportantdateutc::date + t.mostimportanttimeutc::time
FROM ciq_transcripts.wrds_transcript_detail AS t
WHERE t.keydevid::bigint = ANY(CAST(:keydevids AS bigint[]))
ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class CrspFormat:
    """The tables one CRSP format keeps daily returns in, and the query that reads them."""

    name: str
    tables: tuple[tuple[str, str], ...]
    sql: str
    described: str  # for error messages: what the tables are


CIZ = CrspFormat(
    name="ciz",
    tables=(("crsp", "dsf_v2"), ("crsp", "wrds_dailyindexret_query"), CALL_TIMES_TABLE),
    sql="""
SELECT 'stock' AS kind, s.permno::bigint AS id, s.dlycaldt AS day, s.dlyret::float8 AS value,
       NULL::timestamp AS start_utc
FROM crsp.dsf_v2 AS s
WHERE s.permno = ANY(CAST(:permnos AS bigint[])) AND s.dlycaldt BETWEEN :start AND :end
  AND s.dlydelflg IS DISTINCT FROM 'Y'
UNION ALL
SELECT 'delist', s.permno::bigint, s.dlycaldt, s.dlyret::float8, NULL::timestamp
FROM crsp.dsf_v2 AS s
WHERE s.permno = ANY(CAST(:permnos AS bigint[])) AND s.dlycaldt BETWEEN :start AND :end AND s.dlydelflg = 'Y'
UNION ALL
SELECT 'index', NULL::bigint, i.dlycaldt, i.vwretd::float8, NULL::timestamp
FROM crsp.wrds_dailyindexret_query AS i
WHERE i.dlycaldt BETWEEN :start AND :end
UNION ALL""" + _CALL_TIMES_SQL,
    described="CRSP's CIZ daily files (crsp.dsf_v2, crsp.wrds_dailyindexret_query)",
)

SIZ = CrspFormat(
    name="siz",
    tables=(("crsp", "dsf"), ("crsp", "dsi"), ("crsp", "dsedelist"), CALL_TIMES_TABLE),
    sql="""
SELECT 'stock' AS kind, s.permno::bigint AS id, s.date AS day, s.ret::float8 AS value,
       NULL::timestamp AS start_utc
FROM crsp.dsf AS s
WHERE s.permno = ANY(CAST(:permnos AS bigint[])) AND s.date BETWEEN :start AND :end
UNION ALL
SELECT 'delist', d.permno::bigint, d.dlstdt, d.dlret::float8, NULL::timestamp
FROM crsp.dsedelist AS d
WHERE d.permno = ANY(CAST(:permnos AS bigint[])) AND d.dlstdt BETWEEN :start AND :end
UNION ALL
SELECT 'index', NULL::bigint, i.date, i.vwretd::float8, NULL::timestamp
FROM crsp.dsi AS i
WHERE i.date BETWEEN :start AND :end
UNION ALL""" + _CALL_TIMES_SQL,
    described="CRSP's legacy SIZ daily files (crsp.dsf, crsp.dsedelist, crsp.dsi; they end on 2024-12-31)",
)

FORMATS = {f.name: f for f in (CIZ, SIZ)}

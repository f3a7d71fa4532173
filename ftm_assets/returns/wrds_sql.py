"""The one query that prefetches a quarter's CRSP returns and call start times from WRDS.

Binds: ``:permnos`` (the quarter's linked permnos), ``:keydevids`` (its calls), ``:start``/``:end`` (dates
covering every estimation and event window). Rows: ``kind`` ('stock': crsp.dsf ret; 'delist':
crsp.dsedelist dlret on dlstdt; 'index': crsp.dsi vwretd; 'call': the call's start in UTC from Capital IQ's
wrds_transcript_detail), ``id`` (permno or keydevid), ``day``, ``value``, ``start_utc``.
"""

from __future__ import annotations

REQUIRED_TABLES = (("crsp", "dsf"), ("crsp", "dsi"), ("crsp", "dsedelist"),
                   ("ciq_transcripts", "wrds_transcript_detail"))

SELECT_RETURNS_SQL = """
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
UNION ALL
SELECT DISTINCT ON (t.keydevid) 'call', t.keydevid::bigint, t.mostimportantdateutc::date, NULL::float8,
       t.mostimportantdateutc::date + t.mostimportanttimeutc::time
FROM ciq_transcripts.wrds_transcript_detail AS t
WHERE t.keydevid::bigint = ANY(CAST(:keydevids AS bigint[]))
ORDER BY 1, 2, 3
"""

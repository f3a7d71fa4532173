"""The SQL that selects a quarter's earnings calls on WRDS: the selection rules live here, in the database.

Kept apart from the Python that runs it so a researcher can read (and cite) the whole selection in one
place. ``select_quarter_sql()`` (``SELECT_QUARTER_SQL`` for the whole universe) takes two bind parameters,
``:start`` and ``:end`` (inclusive dates), and returns one row per transcript component of the chosen
transcript of every call, in a stable order. A restricted universe adds ``:companyids`` (a list of Capital IQ
company ids), ``:countries`` (upper-case ISO codes or Capital IQ country names) and/or keeps only calls with a
CRSP permno on the call date.
"""

from __future__ import annotations

TRANSCRIPT_SCHEMA = "ciq_transcripts"
GVKEY_SCHEMA = "ciq"
CCM_SCHEMA = "crsp"

EARNINGS_CALL_EVENT_TYPE_ID = 48
FINAL_PRESENTATION_TYPE_ID = 5
CCM_LINK_TYPES = ("LU", "LC")
CCM_LINK_PRIMARIES = ("P", "C")

# Every table the query reads: a missing one means no subscription (or a renamed table) on WRDS.
REQUIRED_TABLES = (
    (TRANSCRIPT_SCHEMA, "wrds_transcript_detail"),
    (TRANSCRIPT_SCHEMA, "ciqtranscriptcomponent"),
    (TRANSCRIPT_SCHEMA, "ciqtranscriptcomponenttype"),
    (TRANSCRIPT_SCHEMA, "wrds_transcript_person"),
    (GVKEY_SCHEMA, "wrds_gvkey"),
    (CCM_SCHEMA, "ccmxpf_lnkhist"),
)
# Read only when a country filter is set: the company's country (Capital IQ's headquarters country).
COUNTRY_TABLES = ((GVKEY_SCHEMA, "ciqcompany"), (GVKEY_SCHEMA, "ciqcountrygeo"))

# Output column names, in the order SELECT_QUARTER_SQL returns them.
RESULT_COLUMNS = (
    "firm_id",
    "firm_name",
    "call_id",
    "transcript_id",
    "earnings_call_date",
    "gvkey",
    "permno",
    "component_order",
    "component_type",
    "speaker_type",
    "text",
    "transcript_presentation_type",
    "is_final",
    "transcript_component_id",
)

_LINK_TYPES = ", ".join(f"'{t}'" for t in CCM_LINK_TYPES)
_LINK_PRIMARIES = ", ".join(f"'{p}'" for p in CCM_LINK_PRIMARIES)

# A CCM link (gvkey -> permno) usable on the call date: the type/primacy filter plus an open-ended
# validity window. Used twice: to rank gvkeys and to pick the permno.
_CCM_LINK_ON_CALL_DATE = f"""
    l.linktype IN ({_LINK_TYPES})
    AND l.linkprim IN ({_LINK_PRIMARIES})
    AND (l.linkdt IS NULL OR l.linkdt <= c.call_date)
    AND (l.linkenddt IS NULL OR l.linkenddt >= c.call_date)"""

# The universe filters, each ANDed into the selection of calls when asked for.
_COMPANY_IDS_FILTER = """
      AND d.companyid::bigint = ANY(:companyids)"""
_COUNTRY_FILTER = f"""
      AND EXISTS (
          SELECT 1
          FROM {GVKEY_SCHEMA}.ciqcompany AS co
          JOIN {GVKEY_SCHEMA}.ciqcountrygeo AS geo ON geo.countryid = co.countryid
          WHERE co.companyid::bigint = d.companyid::bigint
            AND (upper(geo.isocountry2) = ANY(:countries) OR upper(geo.isocountry3) = ANY(:countries)
                 OR upper(geo.country) = ANY(:countries))
      )"""
_CRSP_LINKED_FILTER = """
WHERE cp.permno IS NOT NULL"""


def select_quarter_sql(*, company_ids: bool = False, countries: bool = False, crsp_linked: bool = False) -> str:
    """The selection, restricted to listed companies, to companies of some countries, and/or to calls with a
    CRSP permno on the call date (the binds ``:companyids`` and ``:countries`` go with the first two)."""
    return _SELECT_QUARTER_TEMPLATE.format(
        universe=(_COMPANY_IDS_FILTER if company_ids else "") + (_COUNTRY_FILTER if countries else ""),
        crsp_linked=_CRSP_LINKED_FILTER if crsp_linked else "",
    )


_SELECT_QUARTER_TEMPLATE = f"""
WITH versions AS (
    -- Every transcript version of every earnings call in the quarter, ranked within its call:
    -- Final first, then the latest creation date and time, then the highest transcriptid.
    SELECT
        d.companyid::bigint AS companyid,
        d.companyname,
        d.keydevid::bigint AS keydevid,
        d.transcriptid::bigint AS transcriptid,
        d.mostimportantdateutc::date AS call_date,
        d.transcriptpresentationtypename,
        d.transcriptpresentationtypeid = {FINAL_PRESENTATION_TYPE_ID} AS is_final,
        row_number() OVER (
            PARTITION BY d.keydevid, d.companyid
            ORDER BY
                (d.transcriptpresentationtypeid = {FINAL_PRESENTATION_TYPE_ID}) DESC NULLS LAST,
                d.transcriptcreationdate_utc DESC NULLS LAST,
                d.transcriptcreationtime_utc DESC NULLS LAST,
                d.transcriptid DESC
        ) AS version_rank
    FROM {TRANSCRIPT_SCHEMA}.wrds_transcript_detail AS d
    WHERE d.keydeveventtypeid = {EARNINGS_CALL_EVENT_TYPE_ID}
      AND d.mostimportantdateutc >= :start
      AND d.mostimportantdateutc < CAST(:end AS date) + 1{{universe}}
),
calls AS (
    SELECT * FROM versions WHERE version_rank = 1
),
call_gvkey AS (
    -- At most one gvkey per call: among the links valid on the call date, the primary one, i.e. the
    -- gvkey with a primary ('P') CCM link on that date, then the most recent link start, then the
    -- smallest gvkey.
    SELECT DISTINCT ON (c.keydevid, c.companyid)
        c.keydevid, c.companyid, g.gvkey::text AS gvkey
    FROM calls AS c
    JOIN {GVKEY_SCHEMA}.wrds_gvkey AS g
      ON g.companyid::bigint = c.companyid
     AND (g.startdate IS NULL OR g.startdate <= c.call_date)
     AND (g.enddate IS NULL OR g.enddate >= c.call_date)
    ORDER BY
        c.keydevid, c.companyid,
        EXISTS (
            SELECT 1 FROM {CCM_SCHEMA}.ccmxpf_lnkhist AS l
            WHERE l.gvkey = g.gvkey AND l.linkprim = 'P' AND {_CCM_LINK_ON_CALL_DATE}
        ) DESC,
        g.startdate DESC NULLS LAST,
        g.gvkey
),
call_permno AS (
    -- At most one permno per call: the call's gvkey's CCM link valid on the call date,
    -- 'P' before 'C', then 'LC' (researched) before 'LU', then the smallest permno.
    SELECT DISTINCT ON (cg.keydevid, cg.companyid)
        cg.keydevid, cg.companyid, l.lpermno::bigint AS permno
    FROM call_gvkey AS cg
    JOIN calls AS c ON c.keydevid = cg.keydevid AND c.companyid = cg.companyid
    JOIN {CCM_SCHEMA}.ccmxpf_lnkhist AS l
      ON l.gvkey = cg.gvkey AND {_CCM_LINK_ON_CALL_DATE}
    ORDER BY cg.keydevid, cg.companyid, l.linkprim DESC, l.linktype, l.lpermno
)
SELECT
    c.companyid::text AS firm_id,
    c.companyname AS firm_name,
    c.keydevid AS call_id,
    c.transcriptid AS transcript_id,
    c.call_date AS earnings_call_date,
    cg.gvkey,
    cp.permno,
    tc.componentorder::int AS component_order,
    ct.transcriptcomponenttypename AS component_type,
    p.speakertypename AS speaker_type,
    tc.componenttext AS text,
    c.transcriptpresentationtypename AS transcript_presentation_type,
    c.is_final,
    tc.transcriptcomponentid::bigint AS transcript_component_id
FROM calls AS c
LEFT JOIN call_gvkey AS cg ON cg.keydevid = c.keydevid AND cg.companyid = c.companyid
LEFT JOIN call_permno AS cp ON cp.keydevid = c.keydevid AND cp.companyid = c.companyid
JOIN {TRANSCRIPT_SCHEMA}.ciqtranscriptcomponent AS tc ON tc.transcriptid = c.transcriptid
LEFT JOIN {TRANSCRIPT_SCHEMA}.ciqtranscriptcomponenttype AS ct
  ON ct.transcriptcomponenttypeid = tc.transcriptcomponenttypeid
LEFT JOIN {TRANSCRIPT_SCHEMA}.wrds_transcript_person AS p
  ON p.transcriptcomponentid = tc.transcriptcomponentid{{crsp_linked}}
ORDER BY c.companyid, c.call_date, c.keydevid, tc.componentorder, tc.transcriptcomponentid
"""

SELECT_QUARTER_SQL = select_quarter_sql()

# How many calls the quarter has at all: only asked when the main query returned nothing, so the
# error can say whether the quarter has no calls or calls without component text.
COUNT_CALLS_SQL = f"""
SELECT count(DISTINCT keydevid)
FROM {TRANSCRIPT_SCHEMA}.wrds_transcript_detail
WHERE keydeveventtypeid = {EARNINGS_CALL_EVENT_TYPE_ID}
  AND mostimportantdateutc >= :start
  AND mostimportantdateutc < CAST(:end AS date) + 1
"""

# What the transcript watch asks WRDS each time it looks (cheap: one index range of the detail table): how many
# earnings calls the quarter has and the newest transcript version among them (a new call or a new version of
# an old one, e.g. Final replacing Preliminary, changes one of the two). Binds ``:start`` and ``:end``.
QUARTER_STATE_SQL = f"""
SELECT count(DISTINCT keydevid), coalesce(max(transcriptid), 0)::bigint
FROM {TRANSCRIPT_SCHEMA}.wrds_transcript_detail
WHERE keydeveventtypeid = {EARNINGS_CALL_EVENT_TYPE_ID}
  AND mostimportantdateutc >= :start
  AND mostimportantdateutc < CAST(:end AS date) + 1
"""

# Which of REQUIRED_TABLES this login can see (information_schema lists only tables it may use).
VISIBLE_TABLES_SQL = """
SELECT table_schema, table_name
FROM information_schema.tables
WHERE table_schema = ANY(:schemas) AND table_name = ANY(:tables)
"""

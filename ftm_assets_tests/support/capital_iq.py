"""The WRDS tables the prefetch reads, with their real schema, table and column names and WRDS's types.

Shared by the WRDS tests (which load a hand-made quarter exercising every selection rule) and
``benchmarks/bench_prefetch.py`` (which loads a synthetic 5,000-firm quarter). WRDS stores most
Capital IQ ids as ``double precision``; that is kept so the casts in the query are exercised.
"""

from __future__ import annotations

CAPITAL_IQ_DDL = """
CREATE SCHEMA ciq_transcripts;
CREATE SCHEMA ciq;
CREATE SCHEMA crsp;

CREATE TABLE ciq_transcripts.wrds_transcript_detail (
    companyid double precision,
    keydevid double precision,
    transcriptid double precision,
    headline text,
    mostimportantdateutc date,
    mostimportanttimeutc time,
    keydeveventtypeid double precision,
    keydeveventtypename text,
    companyname text,
    transcriptcollectiontypeid double precision,
    transcriptcollectiontypename text,
    transcriptpresentationtypeid double precision,
    transcriptpresentationtypename text,
    transcriptcreationdate_utc date,
    transcriptcreationtime_utc time,
    audiolengthsec double precision,
    isdelayed_flag double precision,
    delayreasontypeid double precision,
    delayreasontypename text
);

CREATE TABLE ciq_transcripts.ciqtranscriptcomponent (
    transcriptcomponentid double precision,
    transcriptid double precision,
    componentorder double precision,
    transcriptcomponenttypeid double precision,
    transcriptpersonid double precision,
    componenttext text
);

CREATE TABLE ciq_transcripts.ciqtranscriptcomponenttype (
    transcriptcomponenttypeid double precision,
    transcriptcomponenttypename text
);

CREATE TABLE ciq_transcripts.ciqtranscriptspeakertype (
    speakertypeid double precision,
    speakertypename text
);

CREATE TABLE ciq_transcripts.wrds_transcript_person (
    transcriptid double precision,
    transcriptcomponentid double precision,
    componentorder double precision,
    transcriptcomponenttypeid double precision,
    transcriptcomponenttypename text,
    transcriptpersonid double precision,
    transcriptpersonname text,
    proid double precision,
    companyofperson text,
    speakertypeid double precision,
    speakertypename text
);

CREATE TABLE ciq.wrds_gvkey (
    companyid double precision,
    gvkey varchar(6),
    startdate date,
    enddate date
);

CREATE TABLE ciq.ciqcompany (
    companyid double precision,
    companyname text,
    companytypeid double precision,
    companystatustypeid double precision,
    countryid double precision,
    yearfounded double precision
);

CREATE TABLE ciq.ciqcountrygeo (
    countryid double precision,
    country text,
    isocountry2 varchar(2),
    isocountry3 varchar(3),
    region text
);

CREATE TABLE crsp.ccmxpf_lnkhist (
    gvkey varchar(6),
    linkprim varchar(1),
    liid varchar(3),
    linktype varchar(2),
    lpermno double precision,
    lpermco double precision,
    linkdt date,
    linkenddt date
);

INSERT INTO ciq_transcripts.ciqtranscriptcomponenttype VALUES
    (1, 'Presentation Operator Message'), (2, 'Presenter Speech'), (3, 'Question'), (4, 'Answer'),
    (5, 'Question and Answer Operator Message');
INSERT INTO ciq_transcripts.ciqtranscriptspeakertype VALUES
    (1, 'Executives'), (2, 'Analysts'), (3, 'Operator'), (4, 'Shareholders');
"""

# Indexes WRDS has on the join keys; without them the benchmark would measure missing indexes.
CAPITAL_IQ_INDEXES = """
CREATE INDEX ON ciq_transcripts.wrds_transcript_detail (mostimportantdateutc);
CREATE INDEX ON ciq_transcripts.ciqtranscriptcomponent (transcriptid);
CREATE INDEX ON ciq_transcripts.wrds_transcript_person (transcriptcomponentid);
CREATE INDEX ON ciq.wrds_gvkey (companyid);
CREATE INDEX ON ciq.ciqcompany (companyid);
CREATE INDEX ON crsp.ccmxpf_lnkhist (gvkey);
ANALYZE;
"""

_COMPONENT_TYPES = {1: "Presentation Operator Message", 2: "Presenter Speech", 3: "Question", 4: "Answer"}
_SPEAKER_TYPES = {1: "Executives", 2: "Analysts", 3: "Operator"}


def detail_row(
    companyid: int, companyname: str, keydevid: int, transcriptid: int, call_date: str,
    *, final: bool = True, created: str = "2023-01-01 12:00:00", event_type: int = 48,
    presentation: tuple[int, str] | None = None,
) -> tuple:
    """A ``wrds_transcript_detail`` row with the fields the prefetch reads set and the rest plausible."""
    pres_id, pres_name = presentation or ((5, "Final") if final else (1, "Preliminary"))
    event_name = "Earnings Calls" if event_type == 48 else "Shareholder/Analyst Calls"
    created_date, created_time = created.split(" ")
    return (
        companyid, keydevid, transcriptid, f"{companyname}, Q Earnings Call, {call_date}", call_date, "21:00:00",
        event_type, event_name, companyname, 1, "Edited Copy", pres_id, pres_name, created_date, created_time,
        3600, 0, None, None,
    )


def component_rows(
    transcriptid: int, components: list[tuple[int, int, int, int | None, str | None]]
) -> tuple[list[tuple], list[tuple]]:
    """``ciqtranscriptcomponent`` and ``wrds_transcript_person`` rows for one transcript.

    ``components``: (transcriptcomponentid, componentorder, component type id, speaker type id or None
    for a component without a person row, text).
    """
    comps, people = [], []
    for comp_id, order, ctype, stype, text in components:
        person_id = comp_id * 10 if stype is not None else None
        comps.append((comp_id, transcriptid, order, ctype, person_id, text))
        if stype is not None:
            people.append(
                (
                    transcriptid, comp_id, order, ctype, _COMPONENT_TYPES[ctype], person_id, f"Person {comp_id}",
                    None, None, stype, _SPEAKER_TYPES[stype],
                )
            )
    return comps, people


def insert_rows(cur, table: str, rows: list[tuple]) -> None:
    """Insert ``rows`` into ``table`` (one multi-row INSERT; psycopg2 quotes every value)."""
    if not rows:
        return
    width = len(rows[0])
    placeholders = "(" + ", ".join(["%s"] * width) + ")"
    values = ", ".join(cur.mogrify(placeholders, row).decode() for row in rows)
    cur.execute(f"INSERT INTO {table} VALUES {values}")


# Capital IQ's country table (ciq.ciqcountrygeo), the rows the fixtures use.
COUNTRIES = [
    (213, "United States", "US", "USA", "United States and Canada"),
    (76, "Germany", "DE", "DEU", "Europe"),
    (101, "Japan", "JP", "JPN", "Asia / Pacific"),
]


def company_row(companyid: int, companyname: str, countryid: int | None) -> tuple:
    """A ``ciq.ciqcompany`` row: public company (type 4), operating (status 1), headquartered in ``countryid``."""
    return (companyid, companyname, 4, 1, countryid, None)


def grant_read(cur, role: str) -> None:
    """What a WRDS subscriber has: usage on the schemas, select on their tables."""
    for schema in ("ciq_transcripts", "ciq", "crsp"):
        cur.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"')
        cur.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO "{role}"')


# --- A quarter (2023Q1) that exercises every selection rule; expected output in test_wrds.py. ---

RULES_QUARTER = "2023Q1"
RULES_DB = "wrds"
READER = "researcher"
# ':' '@' and '%' must survive the wrds package's URL quoting.
READER_PASSWORD = "s3cr:t@pw%x"
NON_ASCII_TEXT = "Umsatz stieg um 5 % \u2014 \u00e7a va, \u65e5\u672c\u306e\u9700\u8981\u3082\u5f37\u3044."


def rule_case_rows() -> dict[str, list[tuple]]:
    """Rows per table. Companies: 24937 (Final ties + later non-final), 18749 (two calls, two gvkeys over
    time, the second without permno), 21835 (no Final version, two gvkeys valid at once), 32307 (no gvkey,
    a component without person row, call on the quarter's last day)."""
    detail = [
        # 24937: call 1001, four versions. 503 wins: Final, same creation stamp as 502, higher id;
        # 504 is newer but not Final; 501 is an older preliminary.
        detail_row(24937, "Apple Inc.", 1001, 501, "2023-02-02", final=False, created="2023-02-02 18:00:00"),
        detail_row(24937, "Apple Inc.", 1001, 502, "2023-02-02", created="2023-02-03 09:00:00"),
        detail_row(24937, "Apple Inc.", 1001, 503, "2023-02-02", created="2023-02-03 09:00:00"),
        detail_row(24937, "Apple Inc.", 1001, 504, "2023-02-02", final=False, created="2023-02-05 08:00:00",
                   presentation=(2, "Edited")),
        # 24937: not earnings calls or not in the quarter.
        detail_row(24937, "Apple Inc.", 1002, 505, "2023-03-01", event_type=51),
        detail_row(24937, "Apple Inc.", 1000, 506, "2022-12-31"),
        detail_row(24937, "Apple Inc.", 1003, 507, "2023-04-01"),
        # 18749: two earnings calls in the quarter.
        detail_row(18749, "Amazon.com, Inc.", 2001, 601, "2023-02-02", created="2023-02-03 10:00:00"),
        detail_row(18749, "Amazon.com, Inc.", 2002, 602, "2023-03-15", created="2023-03-16 10:00:00"),
        # 21835: no Final version; the later-created preliminary (702) wins, on the quarter's first day.
        detail_row(21835, "Microsoft Corporation", 3001, 701, "2023-01-01", final=False, created="2023-01-01 22:00:00"),
        detail_row(21835, "Microsoft Corporation", 3001, 702, "2023-01-01", final=False, created="2023-01-02 01:00:00"),
        # 32307: no gvkey at all; call on the quarter's last day.
        detail_row(32307, "NVIDIA Corporation", 4001, 801, "2023-03-31", created="2023-04-01 10:00:00"),
    ]
    # (transcriptcomponentid, componentorder, component type, speaker type, text); inserted out of order.
    components = {
        501: [(50101, 1, 2, 1, "preliminary text")],
        502: [(50201, 1, 2, 1, "older final text")],
        503: [
            (50303, 3, 4, 1, ""),
            (50301, 1, 1, 3, "Good afternoon and welcome."),
            (50302, 2, 2, 1, NON_ASCII_TEXT),
        ],
        504: [(50401, 1, 2, 1, "edited text")],
        505: [(50501, 1, 2, 1, "shareholder meeting")],
        506: [(50601, 1, 2, 1, "last quarter")],
        507: [(50701, 1, 2, 1, "next quarter")],
        601: [(60102, 2, 3, 2, "How is AWS doing?"), (60101, 1, 2, 1, "Amazon Q4 remarks.")],
        602: [(60201, 1, 2, 1, "Amazon second call.")],
        701: [(70101, 1, 2, 1, "draft one")],
        702: [(70201, 1, 2, 1, "Microsoft remarks."), (70202, 2, 4, 1, "Azure grew.")],
        801: [(80101, 1, 2, 1, "NVIDIA remarks."), (80102, 2, 5, None, "Next question, please.")],
    }
    comps, people = [], []
    for transcriptid, parts in components.items():
        c, p = component_rows(transcriptid, parts)
        comps += c
        people += p
    gvkeys = [
        (24937, "001690", "1980-12-12", None),
        (18749, "064768", "1997-05-15", "2023-02-28"),
        (18749, "999001", "2023-03-01", None),
        (21835, "012141", "1986-03-13", None),
        (21835, "777777", "2020-01-01", None),  # later start, but no primary CCM link: not chosen
    ]
    links = [
        ("001690", "P", "01", "LC", 11111, 7, "1970-01-01", "1980-12-11"),  # expired
        ("001690", "P", "01", "LC", 14593, 7, "1980-12-12", None),
        ("001690", "C", "02", "LU", 88888, 7, "1990-01-01", None),  # valid but 'C' loses to 'P'
        ("001690", "J", "03", "LU", 99999, 7, "1990-01-01", None),  # joiner: excluded by linkprim
        ("001690", "P", "04", "NU", 77777, 7, "1990-01-01", None),  # unusable link type
        ("064768", "P", "01", "LC", 84788, 15, "1997-05-15", None),
        ("012141", "P", "01", "LC", 10107, 8, "1986-03-13", None),
    ]
    tie = tie_break_rows()
    for transcriptid, parts in tie.pop("components").items():
        c, p = component_rows(transcriptid, parts)
        comps += c
        people += p
    companies = [
        company_row(24937, "Apple Inc.", 213), company_row(18749, "Amazon.com, Inc.", 213),
        company_row(21835, "Microsoft Corporation", 213), company_row(32307, "NVIDIA Corporation", 213),
        *tie["companies"],
    ]  # fmt: skip
    return {
        "ciq_transcripts.wrds_transcript_detail": detail + tie["detail"],
        "ciq_transcripts.ciqtranscriptcomponent": comps,
        "ciq_transcripts.wrds_transcript_person": people,
        "ciq.wrds_gvkey": gvkeys + tie["gvkeys"],
        "crsp.ccmxpf_lnkhist": links + tie["links"],
        "ciq.ciqcompany": companies,
        "ciq.ciqcountrygeo": COUNTRIES,
    }


# --- A second quarter (2023Q2) where each tie-break of rules 2, 5 and 6 decides the outcome: without the
# rule, the order that follows it would pick another row. Expected output in test_wrds.py. ---

TIE_BREAK_QUARTER = "2023Q2"


def tie_break_rows() -> dict:
    """Companies 900001-900006 (fictitious), one call each in 2023Q2, plus their country rows."""
    day = "2023-05-10"
    detail = [
        detail_row(900001, "Joiner Link Corp", 5001, 1101, day),
        # Same creation date, different times: the later time wins although its transcriptid is lower.
        detail_row(900002, "Primary LU Corp", 5002, 1102, day, created="2023-05-11 15:00:00"),
        detail_row(900002, "Primary LU Corp", 5002, 1103, day, created="2023-05-11 09:00:00"),
        detail_row(900003, "Researched Link Corp", 5003, 1104, day),
        detail_row(900004, "Later Start Corp", 5004, 1105, day),
        detail_row(900005, "Same Start Corp", 5005, 1106, day),
        detail_row(900006, "Null Start Corp", 5006, 1107, day),
    ]
    components = {tid: [(tid * 100 + 1, 1, 2, 1, f"Remarks of transcript {tid}.")] for tid in range(1101, 1108)}
    gvkeys = [
        (900001, "100001", None, None),  # a null startdate is open-ended: valid on the call date
        (900002, "100002", "1990-01-01", None),
        (900003, "100003", "1990-01-01", None),
        (900004, "100041", "2000-01-01", None),  # both P-linked: the later start (100042) wins over the smaller gvkey
        (900004, "100042", "2010-01-01", None),
        (900005, "100052", "2005-01-01", None),  # both P-linked, same start: the smaller gvkey (100051) wins
        (900005, "100051", "2005-01-01", None),
        (900006, "100061", None, None),  # both P-linked: a dated start (100062) beats a null one (NULLS LAST)
        (900006, "100062", "2015-01-01", None),
    ]
    links = [
        # J/NU-only: a joiner link and a primary link of an unusable type give no permno.
        ("100001", "J", "01", "LU", 30001, 1, "1990-01-01", None),
        ("100001", "P", "02", "NU", 30002, 1, "1990-01-01", None),
        # P/LU against C/LC: linkprim decides first (without it, LC or the smaller permno would pick 40001).
        ("100002", "C", "01", "LC", 40001, 2, "1990-01-01", None),
        ("100002", "P", "02", "LU", 40009, 2, "1990-01-01", None),
        # Same linkprim: LC before LU (40101 would win on permno), then the smallest permno among the LCs.
        ("100003", "P", "01", "LU", 40101, 3, "1990-01-01", None),
        ("100003", "P", "02", "LC", 40109, 3, "1990-01-01", None),
        ("100003", "P", "03", "LC", 40105, 3, "1990-01-01", None),
        ("100041", "P", "01", "LC", 41001, 4, "2000-01-01", None),
        ("100042", "P", "01", "LC", 42001, 4, "2010-01-01", None),
        ("100052", "P", "01", "LC", 52001, 5, "2005-01-01", None),
        ("100051", "P", "01", "LC", 51001, 5, "2005-01-01", None),
        ("100061", "P", "01", "LC", 61001, 6, "1990-01-01", None),
        ("100062", "P", "01", "LC", 62001, 6, "2015-01-01", None),
    ]
    companies = [
        company_row(900001, "Joiner Link Corp", 213),
        # 900002 has no ciqcompany row: its country is unknown, so any country filter leaves it out.
        company_row(900003, "Researched Link Corp", 213),
        company_row(900004, "Later Start Corp", 213),
        company_row(900005, "Same Start Corp", 101),
        company_row(900006, "Null Start Corp", 76),
    ]
    return {"detail": detail, "components": components, "gvkeys": gvkeys, "links": links, "companies": companies}


def create_capital_iq_database(server, dbname: str, rows: dict[str, list[tuple]], *, reader: str = READER) -> None:
    """A database ``dbname`` with the WRDS tables, ``rows`` loaded and read access for ``reader``."""
    server.create_database(dbname)
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(CAPITAL_IQ_DDL)
            for table, table_rows in rows.items():
                insert_rows(cur, table, table_rows)
            cur.execute(CAPITAL_IQ_INDEXES)
            grant_read(cur, reader)
    finally:
        conn.close()


_READY: dict[int, bool] = {}


def ensure_rules_database(server) -> None:
    """Create the reader login and the rules database once per server (test modules share it)."""
    if _READY.get(server.port):
        return
    server.create_login(READER, READER_PASSWORD)
    create_capital_iq_database(server, RULES_DB, rule_case_rows())
    _READY[server.port] = True

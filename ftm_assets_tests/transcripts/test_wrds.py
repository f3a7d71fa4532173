"""ftm_assets.transcripts.wrds against a real PostgreSQL through the real ``wrds`` package: rules and the
tie-breaks that decide them, the universe filters, streaming, errors."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA
from ftm_assets.transcripts import wrds as w
from ftm_assets_tests.support.pg_server import free_port
from ftm_assets_tests.support import capital_iq as t


@pytest.fixture(scope="module")
def settings(pg_server) -> w.WrdsSettings:
    t.ensure_rules_database(pg_server)
    return w.WrdsSettings(
        username=t.READER, password=t.READER_PASSWORD, host=pg_server.host, port=pg_server.port,
        sslmode="disable", dbname=t.RULES_DB,
    )


@pytest.fixture(autouse=True)
def _no_home_pgpass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME, so the tests see (and can check) that nothing writes ~/.pgpass."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PGPASSWORD", "PGPASSFILE", "PGHOST", "PGUSER", "FTM_WRDS_PASSWORD", "FTM_WRDS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _fetch(settings: w.WrdsSettings, quarter: str = t.RULES_QUARTER, **kwargs) -> pa.Table:
    return pa.concat_tables(list(w.fetch_quarter(settings, quarter, **kwargs)))


def _row(firm, name, call, transcript, day, gvkey, permno, order, ctype, speaker, text, pres, final, comp_id):
    return {
        "quarter": "2023Q1", "firm_id": firm, "firm_name": name, "call_id": call, "transcript_id": transcript,
        "earnings_call_date": dt.date.fromisoformat(day), "gvkey": gvkey, "permno": permno,
        "component_order": order, "component_type": ctype, "speaker_type": speaker, "text": text,
        "source": "wrds", "transcript_presentation_type": pres, "is_final": final,
        "transcript_component_id": comp_id,
    }


AMZN, MSFT, AAPL, NVDA = "Amazon.com, Inc.", "Microsoft Corporation", "Apple Inc.", "NVIDIA Corporation"
EXPECTED = [
    # Two calls in the quarter, each with the gvkey valid on its date; the second gvkey has no permno.
    _row("18749", AMZN, 2001, 601, "2023-02-02", "064768", 84788, 1, "Presenter Speech", "Executives",
         "Amazon Q4 remarks.", "Final", True, 60101),
    _row("18749", AMZN, 2001, 601, "2023-02-02", "064768", 84788, 2, "Question", "Analysts",
         "How is AWS doing?", "Final", True, 60102),
    _row("18749", AMZN, 2002, 602, "2023-03-15", "999001", None, 1, "Presenter Speech", "Executives",
         "Amazon second call.", "Final", True, 60201),
    # No Final version: the latest preliminary, flagged; the gvkey with the primary CCM link wins.
    _row("21835", MSFT, 3001, 702, "2023-01-01", "012141", 10107, 1, "Presenter Speech", "Executives",
         "Microsoft remarks.", "Preliminary", False, 70201),
    _row("21835", MSFT, 3001, 702, "2023-01-01", "012141", 10107, 2, "Answer", "Executives",
         "Azure grew.", "Preliminary", False, 70202),
    # Final over newer non-final; tie on creation stamp goes to the higher transcriptid; order restored.
    _row("24937", AAPL, 1001, 503, "2023-02-02", "001690", 14593, 1, "Presentation Operator Message", "Operator",
         "Good afternoon and welcome.", "Final", True, 50301),
    _row("24937", AAPL, 1001, 503, "2023-02-02", "001690", 14593, 2, "Presenter Speech", "Executives",
         "Umsatz stieg um 5 % \u2014 \u00e7a va, \u65e5\u672c\u306e\u9700\u8981\u3082\u5f37\u3044.",
         "Final", True, 50302),
    _row("24937", AAPL, 1001, 503, "2023-02-02", "001690", 14593, 3, "Answer", "Executives", "", "Final", True,
         50303),
    # No gvkey (so no permno) and a component without a person row: kept, fields null.
    _row("32307", NVDA, 4001, 801, "2023-03-31", None, None, 1, "Presenter Speech", "Executives",
         "NVIDIA remarks.", "Final", True, 80101),
    _row("32307", NVDA, 4001, 801, "2023-03-31", None, None, 2, "Question and Answer Operator Message", None,
         "Next question, please.", "Final", True, 80102),
]


def test_quarter_output_follows_every_selection_rule(settings):
    assert _fetch(settings).to_pylist() == EXPECTED


def test_columns_are_the_shared_schema_then_documented_extras(settings):
    table = _fetch(settings)
    assert table.schema.names[: len(RAW_TRANSCRIPTS_SCHEMA)] == RAW_TRANSCRIPTS_SCHEMA.names
    assert table.schema.names[len(RAW_TRANSCRIPTS_SCHEMA) :] == [f.name for f in w.EXTRA_FIELDS]
    assert table.schema == w.OUTPUT_SCHEMA.remove_metadata()


def test_streams_in_chunks_of_at_most_chunk_rows(settings):
    stats = w.FetchStats()
    chunks = list(w.fetch_quarter(settings, t.RULES_QUARTER, chunk_rows=3, stats=stats))
    assert [c.num_rows for c in chunks] == [3, 3, 3, 1]
    assert pa.concat_tables(chunks).to_pylist() == EXPECTED
    assert (stats.rows, stats.chunks, len(stats.calls), len(stats.firms)) == (10, 4, 5, 4)
    assert stats.not_final_calls == {3001}
    assert stats.no_gvkey_calls == {4001}
    assert stats.no_permno_calls == {2002, 4001}


def test_quarter_without_calls_raises_a_clear_error(settings):
    with pytest.raises(w.NoCallsError, match=r"no earnings calls .*2019-01-01\.\.2019-03-31.*not written"):
        _fetch(settings, "2019Q1")


def test_bad_password_is_a_credentials_error_without_the_secret(settings, _no_home_pgpass):
    secret = "Wrong:P@ss%word-123"
    bad = replace(settings, password=secret)
    with pytest.raises(w.WrdsCredentialsError, match="rejected the login researcher@") as info:
        _fetch(bad)
    rendered = f"{info.value} {info.value!r} {bad!r}"
    assert secret not in rendered and "P%40ss" not in rendered
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert not (_no_home_pgpass / ".pgpass").exists()


def test_closed_port_is_an_unreachable_error(settings):
    closed = replace(settings, port=free_port(), connect_timeout_s=5)
    with pytest.raises(w.WrdsUnreachableError, match=r"Cannot reach .*127\.0\.0\.1:\d+"):
        _fetch(closed)


def test_missing_table_names_it_and_the_subscription(pg_server, settings):
    rows = t.rule_case_rows()
    t.create_capital_iq_database(pg_server, "wrds_no_ccm", rows)
    pg_server.execute("DROP TABLE crsp.ccmxpf_lnkhist", dbname="wrds_no_ccm")
    no_ccm = replace(settings, dbname="wrds_no_ccm")
    with pytest.raises(w.WrdsAccessError, match=r"cannot see crsp\.ccmxpf_lnkhist: .*subscription"):
        _fetch(no_ccm)


def test_schema_without_privilege_is_an_access_error(pg_server, settings):
    pg_server.execute("CREATE ROLE no_ciq LOGIN PASSWORD 'no-ciq-pw'")
    pg_server.execute("REVOKE ALL ON SCHEMA ciq_transcripts FROM no_ciq", dbname=t.RULES_DB)
    unsubscribed = replace(settings, username="no_ciq", password="no-ciq-pw")
    with pytest.raises(w.WrdsAccessError, match=r"cannot see ciq_transcripts\.wrds_transcript_detail"):
        _fetch(unsubscribed)


def test_pgpass_file_supplies_the_password_and_is_never_written(settings, _no_home_pgpass, monkeypatch):
    pgpass = _no_home_pgpass / "wrds.pgpass"
    escaped = t.READER_PASSWORD.replace(":", "\\:")
    pgpass.write_text(f"{settings.host}:{settings.port}:*:{t.READER}:{escaped}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    resolved = w.resolve_settings(username=t.READER, host=settings.host, port=settings.port, sslmode="disable")
    assert resolved.password is None
    from_pgpass = replace(resolved, dbname=t.RULES_DB)
    assert _fetch(from_pgpass).num_rows == len(EXPECTED)
    assert pgpass.read_text().count("\n") == 1 and not (_no_home_pgpass / ".pgpass").exists()


def test_settings_resolution_order_and_missing_credentials():
    env = {
        "FTM_WRDS_USERNAME": "alice", "FTM_WRDS_PASSWORD": "from-ftm", "PGPASSWORD": "from-pg", "HOME": "/nonexistent"
    }
    assert w.resolve_settings(environ=env).password == "from-ftm"
    assert w.resolve_settings(environ={**env, "FTM_WRDS_PASSWORD": ""}).password == "from-pg"
    assert w.resolve_settings(password="explicit", environ=env).password == "explicit"
    defaults = w.resolve_settings(environ=env)
    assert (defaults.host, defaults.port, defaults.sslmode) == ("wrds-pgdata.wharton.upenn.edu", 9737, "require")
    overrides = {"FTM_WRDS_HOST": "h", "FTM_WRDS_PORT": "5432", "FTM_WRDS_SSLMODE": "disable"}
    custom = w.resolve_settings(environ={**env, **overrides})
    assert (custom.host, custom.port, custom.sslmode) == ("h", 5432, "disable")
    with pytest.raises(w.WrdsCredentialsError, match="No WRDS username: set FTM_WRDS_USERNAME"):
        w.resolve_settings(environ={"FTM_WRDS_PASSWORD": "x"})
    with pytest.raises(w.WrdsCredentialsError, match=r"No WRDS password for alice@.*FTM_WRDS_PASSWORD or PGPASSWORD"):
        w.resolve_settings(environ={"FTM_WRDS_USERNAME": "alice", "HOME": "/nonexistent"})
    with pytest.raises(w.WrdsCredentialsError, match="FTM_WRDS_PORT must be a port number"):
        w.resolve_settings(environ={**env, "FTM_WRDS_PORT": "ninety"})


def test_pgpass_matching_follows_libpq(tmp_path):
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("# comment\nother:9737:wrds:alice:x\n*:9737:wrds:alice:pa\\:ss\n")
    assert w.pgpass_has_entry(pgpass, "wrds-pgdata.wharton.upenn.edu", 9737, "wrds", "alice")
    assert not w.pgpass_has_entry(pgpass, "wrds-pgdata.wharton.upenn.edu", 9737, "wrds", "bob")
    assert not w.pgpass_has_entry(tmp_path / "absent", "h", 1, "d", "u")


def test_describe_rules_states_each_rule():
    rules = w.describe_rules()
    for phrase in ("keydeveventtypeid = 48", "transcriptpresentationtypeid = 5", "highest", "union",
                   "transcriptcomponentid", "ciq.wrds_gvkey", "linktype in ('LU','LC')", "never dropped"):
        assert phrase in rules, phrase


def test_query_refused_by_the_server_is_an_access_error(pg_server, settings):
    # Table privileges without schema USAGE: the table is listed, the query itself is refused (42501).
    pg_server.execute("CREATE ROLE no_crsp_usage LOGIN PASSWORD 'no-usage-pw'")
    for schema in ("ciq_transcripts", "ciq"):
        pg_server.execute(f"GRANT USAGE ON SCHEMA {schema} TO no_crsp_usage", dbname=t.RULES_DB)
    for schema in ("ciq_transcripts", "ciq", "crsp"):
        pg_server.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO no_crsp_usage", dbname=t.RULES_DB)
    refused = replace(settings, username="no_crsp_usage", password="no-usage-pw")
    with pytest.raises(w.WrdsAccessError, match=r"refused a table .*2023Q1.*permission denied for schema crsp") as info:
        _fetch(refused)
    assert info.value.__context__ is None


# --- Tie-breaks that decide (2023Q2): each expected value differs from what the next rule alone would pick. ---

def _calls(table: pa.Table) -> list[tuple]:
    rows = table.select(["firm_id", "call_id", "transcript_id", "gvkey", "permno"]).to_pylist()
    return sorted({tuple(r.values()) for r in rows})


TIE_BREAKS = [
    ("24937", 1003, 507, "001690", 14593),  # Apple's call dated 2023-04-01 (left out of 2023Q1) belongs here
    ("900001", 5001, 1101, "100001", None),  # null startdate is open-ended; J and NU links give no permno
    ("900002", 5002, 1102, "100002", 40009),  # same-date Finals: later time beats higher id; P/LU beats C/LC
    ("900003", 5003, 1104, "100003", 40105),  # LC before LU, then the smallest permno among the LCs
    ("900004", 5004, 1105, "100042", 42001),  # two P-linked gvkeys: the later startdate wins
    ("900005", 5005, 1106, "100051", 51001),  # same startdate: the smaller gvkey wins
    ("900006", 5006, 1107, "100062", 62001),  # a dated startdate beats a null one
]


def test_each_tie_break_decides_its_case(settings):
    assert _calls(_fetch(settings, t.TIE_BREAK_QUARTER)) == TIE_BREAKS


# --- Universe (rule 8): CRSP-linked calls, a file of company ids, countries; applied in SQL. ---

def _firms_calls(settings, universe: w.Universe) -> set[tuple[str, int]]:
    """(firm, call) pairs over both fixture quarters; a quarter with no call in the universe adds none."""
    kept = set()
    for quarter in (t.RULES_QUARTER, t.TIE_BREAK_QUARTER):
        try:
            table = _fetch(settings, quarter, universe=universe)
        except w.NoCallsError:
            continue
        kept |= {(r["firm_id"], r["call_id"]) for r in table.select(["firm_id", "call_id"]).to_pylist()}
    return kept


def test_universe_crsp_linked_keeps_calls_with_a_permno(settings):
    kept = _firms_calls(settings, w.Universe.parse("crsp-linked"))
    assert ("18749", 2001) in kept and ("18749", 2002) not in kept  # Amazon's second call has no permno
    assert not {f for f, _ in kept} & {"32307", "900001"}
    assert len(kept) == 3 + 6  # Q1: Amazon 2001, Microsoft, Apple; Q2: Apple and five tie-break firms


def test_universe_file_of_company_ids(settings, tmp_path):
    ids = tmp_path / "firms.csv"
    ids.write_text("companyid\n24937  # Apple\n32307.0, 900005\n\n")
    universe = w.Universe.parse(str(ids))
    assert universe.company_ids == (24937, 32307, 900005)
    assert {f for f, _ in _firms_calls(settings, universe)} == {"24937", "32307", "900005"}


@pytest.mark.parametrize(
    "country, firms",
    [
        ("us", {"24937", "18749", "21835", "32307", "900001", "900003", "900004"}),
        ("USA", {"24937", "18749", "21835", "32307", "900001", "900003", "900004"}),
        ("Germany, JP", {"900005", "900006"}),  # 900002 has no ciqcompany row: never in a country filter
    ],
)
def test_universe_country_by_iso_code_or_name(settings, country, firms):
    assert {f for f, _ in _firms_calls(settings, w.Universe.parse(None, country))} == firms


def test_universe_filters_combine_and_an_empty_result_says_why(settings):
    both = w.Universe.parse("crsp-linked", "DE")
    assert _firms_calls(settings, both) == {("900006", 5006)}
    with pytest.raises(w.NoCallsError, match=r"lists 5 earnings call\(s\) for 2023Q1 .*none of them in the universe .*headquartered in DE"):
        _fetch(settings, t.RULES_QUARTER, universe=both)


def test_country_filter_needs_the_company_tables(pg_server, settings):
    t.create_capital_iq_database(pg_server, "wrds_no_geo", t.rule_case_rows())
    pg_server.execute("DROP TABLE ciq.ciqcountrygeo", dbname="wrds_no_geo")
    no_geo = replace(settings, dbname="wrds_no_geo")
    assert _fetch(no_geo).num_rows == len(EXPECTED)  # no country filter: the table is not needed
    with pytest.raises(w.WrdsAccessError, match=r"cannot see ciq\.ciqcountrygeo: .*country filter"):
        _fetch(no_geo, universe=w.Universe.parse(None, "US"))


def test_bad_universe_values_say_what_to_set(tmp_path):
    with pytest.raises(w.WrdsUniverseError, match=r"FTM_WRDS_UNIVERSE=crsp: not 'all' or 'crsp-linked'"):
        w.Universe.parse("crsp")
    (tmp_path / "ids.txt").write_text("24937\nAAPL\n")
    with pytest.raises(w.WrdsUniverseError, match=r"ids\.txt, line 2: 'AAPL' is not a Capital IQ company id"):
        w.Universe.parse(str(tmp_path / "ids.txt"))
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    with pytest.raises(w.WrdsUniverseError, match="lists no company ids"):
        w.Universe.parse(str(tmp_path / "empty.txt"))
    assert w.Universe.parse(" ALL ") == w.Universe()

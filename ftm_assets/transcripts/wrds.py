"""Prefetch one quarter of Capital IQ earnings-call transcripts from WRDS, streamed as Arrow chunks.

Selection rules (what a researcher cites; the SQL in ``wrds_sql.py`` is the exact definition):

1. Calls: rows of ``ciq_transcripts.wrds_transcript_detail`` with ``keydeveventtypeid = 48`` (Earnings
   Calls) whose ``mostimportantdateutc`` falls in the quarter (first to last day, inclusive).
2. One transcript per call (``keydevid``) and company (``companyid``): the Final version
   (``transcriptpresentationtypeid = 5``) if there is one; among candidates, the latest
   ``transcriptcreationdate_utc`` then ``transcriptcreationtime_utc``; ties go to the highest
   ``transcriptid``. A call with no Final version keeps its best other version by the same order and is
   flagged ``is_final = false`` (``transcript_presentation_type`` names the version kept).
3. A firm with two or more calls in the quarter keeps all of them, each with its own
   ``earnings_call_date`` and ``call_id``; the worker models the firm's quarter as the union of the
   sentences of its calls.
4. Components: every ``ciqtranscriptcomponent`` row of the chosen transcript, ordered by
   ``componentorder``, with its component type (``ciqtranscriptcomponenttype``) and speaker type
   (``wrds_transcript_person``, joined on ``transcriptcomponentid``). Text is kept as stored, empty
   strings included.
5. gvkey: ``ciq.wrds_gvkey`` rows of the company valid on the call date (a null start or end date is
   open-ended). Where several are valid, the primary one: the gvkey with a primary (``linkprim = 'P'``)
   CCM link on the call date, then the latest ``startdate``, then the smallest gvkey.
6. permno: ``crsp.ccmxpf_lnkhist`` links of that gvkey valid on the call date (null ``linkenddt`` is
   open-ended) with ``linktype in ('LU','LC')`` and ``linkprim in ('P','C')``; 'P' before 'C', then 'LC'
   before 'LU', then the smallest permno.
7. A missing gvkey or permno leaves the field null: the call is never dropped and rows never duplicate.
8. Universe (optional, ``FTM_WRDS_UNIVERSE`` and ``FTM_WRDS_COUNTRY``): ``all`` (the default) keeps every
   company worldwide; ``crsp-linked`` keeps the calls that have a permno by rules 5-6; a path keeps the
   companies whose Capital IQ ``companyid`` the file lists. A country filter keeps the companies whose
   ``ciq.ciqcompany.countryid`` (Capital IQ's headquarters country) is one of those given, by ISO code
   (``US``, ``USA``) or Capital IQ's country name (``United States``), in any letter case. Filters
   combine; each is applied in the database.

The query runs in the database over one connection in a read-only, repeatable-read transaction (one
consistent snapshot), and a server-side cursor streams the result in chunks, so memory stays flat.
A quarter without any earnings call raises ``NoCallsError``: an empty ``raw_transcripts`` would only
fail later, further from the cause.

The connection is made by the ``wrds`` package with explicit parameters and never prompts: missing
credentials raise ``WrdsCredentialsError`` before any network traffic, and the package's interactive
fall-backs (password prompt, offer to write ``~/.pgpass``, retry on the default host) are not used.
Passwords never appear in logs or in the messages of the errors raised here.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ftm_assets.quarters import Quarter
from ftm_assets.schema import RAW_TRANSCRIPTS_SCHEMA, conform
from ftm_assets.transcripts import wrds_sql

SOURCE_LABEL = "wrds"
DEFAULT_HOST = "wrds-pgdata.wharton.upenn.edu"
DEFAULT_PORT = 9737
DEFAULT_DBNAME = "wrds"
DEFAULT_SSLMODE = "require"
DEFAULT_CHUNK_ROWS = 20_000  # ~100 MiB of client memory per chunk at ~600 characters a component
# Long enough to approve a Duo push on the phone: libpq's timeout covers the whole login.
DEFAULT_CONNECT_TIMEOUT_S = 120

# Columns after RAW_TRANSCRIPTS_SCHEMA's that only this source writes (documented in describe_rules()).
EXTRA_FIELDS = (
    pa.field("transcript_presentation_type", pa.string()),  # e.g. Final, Preliminary: the version kept
    pa.field("is_final", pa.bool_()),  # false when the call has no Final transcript
    pa.field("transcript_component_id", pa.int64()),  # ciqtranscriptcomponent.transcriptcomponentid
)
OUTPUT_SCHEMA = pa.schema(list(RAW_TRANSCRIPTS_SCHEMA) + list(EXTRA_FIELDS))


class WrdsError(RuntimeError):
    """Base of the errors a WRDS prefetch raises; messages never carry the password."""


class WrdsCredentialsError(WrdsError):
    """No username or password to log in with, or WRDS rejected them."""


class WrdsUnreachableError(WrdsError):
    """The WRDS PostgreSQL server could not be reached (network, host, port, timeout)."""


class WrdsAccessError(WrdsError):
    """A table or schema the prefetch needs is missing or not readable (subscription)."""


class NoCallsError(WrdsError):
    """The quarter has no earnings-call transcripts on WRDS."""


class WrdsUniverseError(WrdsError):
    """FTM_WRDS_UNIVERSE or FTM_WRDS_COUNTRY cannot be used (unknown value, unreadable or empty id file)."""


ALL, CRSP_LINKED = "all", "crsp-linked"


@dataclass(frozen=True)
class Universe:
    """Which companies' calls to fetch (rule 8): all, CRSP-linked calls only, listed company ids, countries."""

    crsp_linked: bool = False
    company_ids: tuple[int, ...] | None = None
    countries: tuple[str, ...] = ()
    described: str = "all companies"

    @classmethod
    def parse(cls, universe: str | None = None, country: str | None = None) -> "Universe":
        """From ``FTM_WRDS_UNIVERSE``-style text (``all``, ``crsp-linked`` or a file of company ids) and a
        comma-separated ``FTM_WRDS_COUNTRY``; raises ``WrdsUniverseError`` saying what to set."""
        text = (universe or ALL).strip()
        crsp_linked, ids, what = False, None, []
        if text.lower() == CRSP_LINKED:
            crsp_linked = True
            what.append("calls with a CRSP permno")
        elif text.lower() != ALL:
            ids = read_company_ids(text)
            what.append(f"{len(ids)} companies listed in {text}")
        countries = tuple(sorted({c.strip().upper() for c in (country or "").split(",") if c.strip()}))
        if countries:
            what.append(f"headquartered in {', '.join(countries)}")
        return cls(crsp_linked, ids, countries, ", ".join(what) or "all companies")

    @property
    def params(self) -> dict[str, list]:
        """The bind parameters the restricted query takes."""
        params: dict[str, list] = {}
        if self.company_ids is not None:
            params["companyids"] = list(self.company_ids)
        if self.countries:
            params["countries"] = list(self.countries)
        return params

    @property
    def sql(self) -> str:
        return wrds_sql.select_quarter_sql(
            company_ids=self.company_ids is not None, countries=bool(self.countries), crsp_linked=self.crsp_linked
        )

    @property
    def tables(self) -> tuple[tuple[str, str], ...]:
        return wrds_sql.REQUIRED_TABLES + (wrds_sql.COUNTRY_TABLES if self.countries else ())


def read_company_ids(path: str | Path) -> tuple[int, ...]:
    """Capital IQ company ids from a text file: separated by newlines, commas or spaces; ``#`` starts a comment;
    a header word such as ``companyid`` on the first line is skipped. Sorted, without duplicates."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WrdsUniverseError(
            f"FTM_WRDS_UNIVERSE={path!s}: not 'all' or 'crsp-linked', and not a readable file of Capital IQ company "
            f"ids ({exc.strerror or exc})."
        ) from None
    ids: set[int] = set()
    for lineno, line in enumerate(lines, start=1):
        for token in re.split(r"[,\s;]+", line.split("#", 1)[0].strip()):
            if not token:
                continue
            try:
                number = float(token)
                if not number.is_integer():
                    raise ValueError(token)
                ids.add(int(number))
            except ValueError:
                if lineno == 1 and token.strip('"').lower() in ("companyid", "company_id", "firm_id"):
                    continue
                raise WrdsUniverseError(f"{file}, line {lineno}: {token!r} is not a Capital IQ company id (a whole number).") from None
    if not ids:
        raise WrdsUniverseError(f"{file} lists no company ids: put one Capital IQ companyid per line.")
    return tuple(sorted(ids))


@dataclass(frozen=True)
class WrdsSettings:
    """Where and as whom to log in. ``password`` None means: let libpq read ``.pgpass``."""

    username: str
    password: str | None = field(default=None, repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    sslmode: str = DEFAULT_SSLMODE
    dbname: str = DEFAULT_DBNAME
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def where(self) -> str:
        """``user@host:port/db`` for logs and errors: never the password."""
        return f"{self.username}@{self.host}:{self.port}/{self.dbname}"


def describe_rules() -> str:
    """The selection rules as Markdown-ready text (this module's docstring, rules part)."""
    doc = __doc__ or ""
    return doc[doc.index("Selection rules") : doc.index("The query runs in the database")].strip()


def resolve_settings(
    *,
    username: str | None = None,
    password: str | None = None,
    host: str | None = None,
    port: int | None = None,
    sslmode: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> WrdsSettings:
    """Settings from explicit values, then ``FTM_WRDS_*`` variables, then PostgreSQL's own sources.

    Password order: ``password``, ``FTM_WRDS_PASSWORD``, ``PGPASSWORD``, a matching ``.pgpass`` line
    (``PGPASSFILE`` or ``~/.pgpass``). Raises ``WrdsCredentialsError`` naming these options when none
    applies, so a batch run fails at once instead of waiting on a prompt nobody can answer.
    """
    env = os.environ if environ is None else environ
    settings = WrdsSettings(
        username=(username or env.get("FTM_WRDS_USERNAME") or "").strip(),
        password=password or env.get("FTM_WRDS_PASSWORD") or env.get("PGPASSWORD") or None,
        host=host or env.get("FTM_WRDS_HOST") or DEFAULT_HOST,
        port=_port(port or env.get("FTM_WRDS_PORT") or DEFAULT_PORT),
        sslmode=sslmode or env.get("FTM_WRDS_SSLMODE") or DEFAULT_SSLMODE,
    )
    if not settings.username:
        raise WrdsCredentialsError(
            "No WRDS username: set FTM_WRDS_USERNAME (your WRDS login) or configure the resource's username."
        )
    if settings.password is None:
        pgpass = _pgpass_path(env)
        if not pgpass_has_entry(pgpass, settings.host, settings.port, settings.dbname, settings.username):
            raise WrdsCredentialsError(
                f"No WRDS password for {settings.where}: set FTM_WRDS_PASSWORD or PGPASSWORD, or add a line "
                f"'{settings.host}:{settings.port}:{settings.dbname}:{settings.username}:<password>' to "
                f"{pgpass} (mode 600)."
            )
    return settings


def _port(value: int | str) -> int:
    try:
        return int(value)
    except ValueError:
        raise WrdsCredentialsError(f"FTM_WRDS_PORT must be a port number, got {value!r}.") from None


def _pgpass_path(env: Mapping[str, str]) -> Path:
    if env.get("PGPASSFILE"):
        return Path(env["PGPASSFILE"])
    return Path(env.get("HOME") or Path.home()) / ".pgpass"


def pgpass_has_entry(path: Path, host: str, port: int, dbname: str, user: str) -> bool:
    """Whether ``path`` has a line libpq would use for this login (``*`` matches anything)."""
    try:
        lines = path.read_text().splitlines()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return False
    wanted = (host, str(port), dbname, user)
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.replace("\\:", ":").replace("\\\\", "\\") for f in re.split(r"(?<!\\):", line)]
        if len(fields) < 5:
            continue
        if all(f == "*" or f == w for f, w in zip(fields[:4], wanted)):
            return True
    return False


def _scrub(message: str, settings: WrdsSettings) -> str:
    """The message without the password, raw or URL-quoted (how ``wrds`` puts it in its URL)."""
    if settings.password:
        for secret in {settings.password, urllib.parse.quote(settings.password)}:
            message = message.replace(secret, "***")
    return message


def _driver_message(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    return " ".join(str(orig).split())


def _translate_connect_error(err: BaseException, settings: WrdsSettings) -> WrdsError:
    detail = _scrub(_driver_message(err), settings)
    low = detail.lower()
    if "password authentication failed" in low or "no password supplied" in low or "authentication failed" in low:
        return WrdsCredentialsError(
            f"WRDS rejected the login {settings.where}: check FTM_WRDS_USERNAME and the password "
            f"(FTM_WRDS_PASSWORD, PGPASSWORD or .pgpass); a denied or unanswered Duo push looks the same. "
            f"Server said: {detail}"
        )
    unreachable = (
        "connection refused", "could not translate host name", "timeout expired", "network is unreachable",
        "no route to host", "could not connect", "name or service not known", "connection timed out",
    )
    if any(marker in low for marker in unreachable):
        return WrdsUnreachableError(
            f"Cannot reach the WRDS PostgreSQL server at {settings.host}:{settings.port}: check the network "
            f"(VPN, firewall), FTM_WRDS_HOST and FTM_WRDS_PORT. Driver said: {detail}"
        )
    return WrdsError(f"Could not connect to WRDS as {settings.where}: {detail}")


def _translate_query_error(err: BaseException, settings: WrdsSettings, quarter: str) -> WrdsError:
    detail = _scrub(_driver_message(err), settings)
    code = getattr(getattr(err, "orig", None), "pgcode", None)
    # 42P01 undefined table, 3F000 undefined schema, 42501 insufficient privilege
    if code in {"42P01", "3F000", "42501"}:
        return WrdsAccessError(
            f"WRDS refused a table the prefetch of {quarter} needs (is Capital IQ Transcripts / CCM part of "
            f"your subscription?): {detail}"
        )
    return WrdsError(f"The WRDS query for {quarter} failed as {settings.where}: {detail}")


@contextmanager
def wrds_connection(settings: WrdsSettings):
    """One SQLAlchemy connection made by the ``wrds`` package, closed on exit.

    Uses ``wrds.Connection(autoconnect=False)`` and its single engine-building step, so none of its
    interactive fall-backs run. The connection is switched to a read-only repeatable-read transaction,
    which server-side (streaming) cursors need and which gives one consistent snapshot of the quarter.
    """
    import wrds

    connect_args = {
        "sslmode": settings.sslmode,
        "connect_timeout": settings.connect_timeout_s,
        "client_encoding": "utf8",
        "application_name": f"ftm prefetch/{wrds.sql.appname}",
    }
    db = wrds.Connection(
        autoconnect=False,
        verbose=False,
        wrds_hostname=settings.host,
        wrds_port=settings.port,
        wrds_dbname=settings.dbname,
        wrds_username=settings.username,
        wrds_password=settings.password or "",
        wrds_connect_args=connect_args,
    )
    failure: WrdsError | None = None
    try:
        # The one step of Connection.connect() that does not prompt; name-mangled in wrds 3.x.
        db._Connection__make_sa_engine_conn(raise_err=True)
    except Exception as err:  # noqa: BLE001 - translated below, outside the except block
        failure = _translate_connect_error(err, settings)
    if failure is not None:
        # Raised here, not inside ``except``, so the driver error (and the URL it may carry) is not chained.
        raise failure
    try:
        yield db.connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    finally:
        db.close()


def check_tables(connection, settings: WrdsSettings, wanted: tuple[tuple[str, str], ...] = wrds_sql.REQUIRED_TABLES) -> None:
    """Raise ``WrdsAccessError`` naming every required table this login cannot read."""
    import sqlalchemy as sa

    rows = connection.execute(
        sa.text(wrds_sql.VISIBLE_TABLES_SQL),
        {"schemas": sorted({s for s, _ in wanted}), "tables": sorted({t for _, t in wanted})},
    ).fetchall()
    visible = {(r[0], r[1]) for r in rows}
    missing = [f"{s}.{t}" for s, t in wanted if (s, t) not in visible]
    if missing:
        raise WrdsAccessError(
            f"WRDS login {settings.where} cannot see {', '.join(missing)}: the prefetch needs Capital IQ "
            f"Transcripts (ciq_transcripts), the Capital IQ gvkey link (ciq.wrds_gvkey) and the CRSP/Compustat "
            f"link history (crsp.ccmxpf_lnkhist){' and, for a country filter, ciq.ciqcompany and ciq.ciqcountrygeo' if len(wanted) > len(wrds_sql.REQUIRED_TABLES) else ''}. "
            "Ask your WRDS representative about the subscription."
        )


def _to_table(quarter: str, rows: list) -> pa.Table:
    columns = list(zip(*rows)) if rows else [[] for _ in wrds_sql.RESULT_COLUMNS]
    data = {name: list(values) for name, values in zip(wrds_sql.RESULT_COLUMNS, columns)}
    data["quarter"] = [quarter] * len(rows)
    data["source"] = [SOURCE_LABEL] * len(rows)
    arrays = {f.name: pa.array(data[f.name], type=f.type) for f in OUTPUT_SCHEMA}
    table = pa.table(arrays, schema=OUTPUT_SCHEMA)
    return conform(table, RAW_TRANSCRIPTS_SCHEMA, keep_extra=True)


@dataclass
class FetchStats:
    """What a fetch delivered, filled in as it streams (for metadata and logs)."""

    rows: int = 0
    chunks: int = 0
    calls: set[int] = field(default_factory=set)
    firms: set[str] = field(default_factory=set)
    not_final_calls: set[int] = field(default_factory=set)
    no_gvkey_calls: set[int] = field(default_factory=set)
    no_permno_calls: set[int] = field(default_factory=set)

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        self.chunks += 1
        cols = table.select(["call_id", "firm_id", "is_final", "gvkey", "permno"]).to_pydict()
        for call, firm, final, gvkey, permno in zip(*cols.values()):
            self.calls.add(call)
            self.firms.add(firm)
            if not final:
                self.not_final_calls.add(call)
            if gvkey is None:
                self.no_gvkey_calls.add(call)
            if permno is None:
                self.no_permno_calls.add(call)


def fetch_quarter(
    settings: WrdsSettings,
    quarter: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    stats: FetchStats | None = None,
    universe: Universe | None = None,
) -> Iterator[pa.Table]:
    """Yield the quarter's components as Arrow tables of at most ``chunk_rows`` rows each.

    One connection and one server-side cursor for the whole quarter. Raises ``NoCallsError`` when the
    quarter has no rows (in ``universe``: rule 8), and the other ``WrdsError`` subclasses with what to fix.
    """
    import sqlalchemy as sa

    q = Quarter.parse(quarter)
    universe = universe or Universe()
    params = {"start": q.start, "end": q.end}
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    stats = stats if stats is not None else FetchStats()
    with wrds_connection(settings) as connection:
        failure: WrdsError | None = None
        try:
            with connection.begin():
                check_tables(connection, settings, universe.tables)
                result = connection.execution_options(stream_results=True, max_row_buffer=chunk_rows).execute(
                    sa.text(universe.sql), {**params, **universe.params}
                )
                for rows in result.partitions(chunk_rows):
                    table = _to_table(q.key, rows)
                    stats.add(table)
                    yield table
                if stats.rows == 0:
                    n_calls = connection.execute(sa.text(wrds_sql.COUNT_CALLS_SQL), params).scalar_one()
                    failure = _no_calls_error(q, n_calls, universe)
        except sa.exc.DBAPIError as err:
            failure = _translate_query_error(err, settings, q.key)
        if failure is not None:
            raise failure


def quarter_state(settings: WrdsSettings, quarter: str) -> tuple[int, str]:
    """(earnings calls in ``quarter``, newest transcript id) on WRDS: the transcript watch's cheap look.

    The same connection code as the prefetch (``wrds_connection``), one small aggregate query. It counts every
    earnings call of the quarter, whatever FTM_WRDS_UNIVERSE says: a change outside the universe costs one
    needless refetch, never a missed one.
    """
    import sqlalchemy as sa

    q = Quarter.parse(quarter)
    with wrds_connection(settings) as connection:
        failure: WrdsError | None = None
        try:
            with connection.begin():
                calls, newest = connection.execute(
                    sa.text(wrds_sql.QUARTER_STATE_SQL), {"start": q.start, "end": q.end}
                ).one()
        except sa.exc.DBAPIError as err:
            failure = _translate_query_error(err, settings, q.key)
        if failure is not None:
            raise failure
    return int(calls), str(newest)


def _no_calls_error(q: Quarter, n_calls: int, universe: Universe) -> NoCallsError:
    window = f"{q.start:%Y-%m-%d}..{q.end:%Y-%m-%d}"
    if n_calls and universe != Universe():
        return NoCallsError(
            f"WRDS lists {n_calls} earnings call(s) for {q.key} ({window}), none of them in the universe "
            f"({universe.described}: FTM_WRDS_UNIVERSE / FTM_WRDS_COUNTRY); raw_transcripts for {q.key} was not written."
        )
    if n_calls:
        return NoCallsError(
            f"WRDS lists {n_calls} earnings call(s) for {q.key} ({window}) but none has transcript components "
            f"in {wrds_sql.TRANSCRIPT_SCHEMA}.ciqtranscriptcomponent; raw_transcripts for {q.key} was not written."
        )
    today = dt.date.today()
    hint = " The quarter has not ended yet; WRDS updates transcripts with a lag." if q.end >= today else ""
    return NoCallsError(
        f"WRDS has no earnings calls (keydeveventtypeid = {wrds_sql.EARNINGS_CALL_EVENT_TYPE_ID}) dated "
        f"{window} in {wrds_sql.TRANSCRIPT_SCHEMA}.wrds_transcript_detail, so raw_transcripts for {q.key} "
        f"would be empty and was not written.{hint}"
    )

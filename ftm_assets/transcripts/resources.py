"""Transcript sources as Dagster resources: one interface, one implementation per place data lives.

The sources themselves are plain functions in this package (``demo``, ``files``, ``wrds``), with no Dagster
import; these classes bind one of them for a deployment (``environment`` decides which).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import dataclasses
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from ftm_assets.transcripts.wrds import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_CONNECT_TIMEOUT_S,
    SOURCE_LABEL,
    FetchStats,
    Universe,
    fetch_quarter,
    quarter_state,
    resolve_settings,
)


@dataclasses.dataclass(frozen=True)
class SourceState:
    """What a source holds for a quarter, cheaply: how many transcripts and which is the newest.

    The transcript watch (``ftm_assets.automation.watch``) refetches a quarter when either changes.
    """

    count: int
    newest: str

    def describe(self) -> str:
        return f"{self.count} transcript(s), newest {self.newest}"


class TranscriptSource(dg.ConfigurableResource, ABC):
    """Yields a quarter's component-level transcripts in ``RAW_TRANSCRIPTS_SCHEMA``, in chunks.

    Chunks let a large source (WRDS: ~5,000 firms x ~70 components) stream to Parquet with flat memory.
    """

    @property
    @abstractmethod
    def label(self) -> str:
        """A short name for metadata and logs (``demo-synthetic``, ``files``, ``wrds``)."""

    @abstractmethod
    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        """The quarter's transcripts; raises with what to fix when the source cannot deliver."""

    def state(self, quarter: str) -> SourceState:
        """A cheap look at what the source holds for the quarter (a count, never the text)."""
        raise NotImplementedError(
            f"The {self.label} source cannot report how many transcripts {quarter} has, so the transcript watch "
            "(FTM_AUTOMATION=on) cannot follow it: implement state() or leave automation off."
        )


class DemoTranscriptSource(TranscriptSource):
    """A deterministic, clearly labelled synthetic corpus: the embedded default, no WRDS needed."""

    n_firms: int = 40
    seed: int = 0

    @property
    def label(self) -> str:
        return "demo-synthetic"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        from ftm_assets.transcripts.demo import demo_transcripts

        log.info(f"Generating the synthetic demo corpus for {quarter}: {self.n_firms} firms (not real calls).")
        yield demo_transcripts(quarter, n_firms=self.n_firms, seed=self.seed)

    def state(self, quarter: str) -> SourceState:
        from ftm_assets.transcripts.demo import call_date, demo_firms

        firms = demo_firms(self.n_firms)
        return SourceState(len(firms), max(call_date(f, quarter) for f in firms).isoformat())


class FilesTranscriptSource(TranscriptSource):
    """Transcripts a user already has: CSV, JSONL or Parquet files, our column names or Capital IQ's (see files.py)."""

    folder: str
    # Each file's quarters as the code location recorded them when it loaded (``environment``: under
    # DAGSTER_HOME); None: every file is read to find its quarters.
    quarters_cache: str | None = None

    @property
    def label(self) -> str:
        return "files"

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        from ftm_assets.transcripts.files import read_transcript_files

        log.info(f"Reading transcripts for {quarter} from {self.folder}.")
        # With the per-file quarters the code location recorded, files of other quarters are skipped.
        yield read_transcript_files(self.folder, quarter, self.quarters_cache)

    def state(self, quarter: str) -> SourceState:
        """A listing: the files that hold the quarter, and the newest change among them (time and size)."""
        from ftm_assets.transcripts.files import quarters_by_file

        held = [p for p, qs in quarters_by_file(self.folder, self.quarters_cache).items() if quarter in qs]
        if not held:
            return SourceState(0, "")
        stats = [p.stat() for p in held]
        newest = max(st.st_mtime_ns for st in stats)
        return SourceState(len(held), f"{newest}:{sum(st.st_size for st in stats)}")


class WrdsTranscriptSource(TranscriptSource):
    """Capital IQ earnings-call transcripts from WRDS PostgreSQL, through the ``wrds`` package.
    Bind it where the environment is decided (``FTM_TRANSCRIPT_SOURCE=wrds``). Every field may be left
    unset: at run time (never at import) it then falls back to ``FTM_WRDS_USERNAME``, ``FTM_WRDS_PASSWORD``
    (then ``PGPASSWORD``, then ``.pgpass``), ``FTM_WRDS_HOST``, ``FTM_WRDS_PORT``, ``FTM_WRDS_SSLMODE`` and
    the WRDS defaults, so a ``.pgpass`` user need not put a password in any variable. ``universe`` and
    ``country`` are not secrets: ``environment`` checks ``FTM_WRDS_UNIVERSE`` and ``FTM_WRDS_COUNTRY`` when the
    code location loads and passes them in (unset: all companies, every country). Selection rules:
    ``ftm_assets.transcripts.wrds.describe_rules()``.
    """

    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    sslmode: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S
    universe: str | None = None  # all | crsp-linked | a file of Capital IQ company ids
    country: str | None = None  # comma-separated ISO codes or Capital IQ country names

    @property
    def label(self) -> str:
        return SOURCE_LABEL

    def _settings(self):
        settings = resolve_settings(
            username=self.username, password=self.password, host=self.host, port=self.port, sslmode=self.sslmode
        )
        return dataclasses.replace(settings, connect_timeout_s=self.connect_timeout_s)

    def state(self, quarter: str) -> SourceState:
        """One count/max query (QUARTER_STATE_SQL) through the prefetch's own connection code."""
        calls, newest = quarter_state(self._settings(), quarter)
        return SourceState(calls, f"transcriptid {newest}")

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        settings = self._settings()
        universe = Universe.parse(self.universe, self.country)
        log.info(
            f"Fetching {quarter} earnings calls of {universe.described} from WRDS as {settings.where} "
            f"(sslmode={settings.sslmode}); a new login from this machine may need a Duo push approval."
        )
        stats = FetchStats()
        yield from fetch_quarter(settings, quarter, chunk_rows=self.chunk_rows, stats=stats, universe=universe)
        log.info(
            f"WRDS {quarter}: {stats.rows} components of {len(stats.calls)} calls from {len(stats.firms)} firms "
            f"in {stats.chunks} chunk(s)."
        )
        if stats.not_final_calls:
            log.warning(
                f"WRDS {quarter}: {len(stats.not_final_calls)} call(s) have no Final transcript and use the best "
                "other version (is_final = false)."
            )
        for what, calls in (("gvkey", stats.no_gvkey_calls), ("permno", stats.no_permno_calls)):
            if calls:
                log.warning(f"WRDS {quarter}: {len(calls)} call(s) have no {what} link on the call date (left null).")

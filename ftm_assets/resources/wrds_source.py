"""The WRDS transcript source as a Dagster resource: one WRDS session per quarter, streamed in chunks.

Bind it where the environment is decided (``FTM_TRANSCRIPT_SOURCE=wrds``). Every field may be left
unset: at run time (never at import) it then falls back to ``FTM_WRDS_USERNAME``, ``FTM_WRDS_PASSWORD``
(then ``PGPASSWORD``, then ``.pgpass``), ``FTM_WRDS_HOST``, ``FTM_WRDS_PORT``, ``FTM_WRDS_SSLMODE`` and
the WRDS defaults, so a ``.pgpass`` user need not put a password in any variable. Selection rules:
``ftm_assets.sources.wrds.describe_rules()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pyarrow as pa

from ftm_assets.resources.transcript_sources import TranscriptSource
from ftm_assets.sources.wrds import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_CONNECT_TIMEOUT_S,
    SOURCE_LABEL,
    FetchStats,
    fetch_quarter,
    resolve_settings,
)


class WrdsTranscriptSource(TranscriptSource):
    """Capital IQ earnings-call transcripts from WRDS PostgreSQL, through the ``wrds`` package."""

    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    sslmode: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def label(self) -> str:
        return SOURCE_LABEL

    def fetch(self, quarter: str, log) -> Iterator[pa.Table]:
        settings = resolve_settings(
            username=self.username, password=self.password, host=self.host, port=self.port, sslmode=self.sslmode
        )
        settings = dataclasses.replace(settings, connect_timeout_s=self.connect_timeout_s)
        log.info(
            f"Fetching {quarter} earnings calls from WRDS as {settings.where} (sslmode={settings.sslmode}); "
            "a new login from this machine may need a Duo push approval."
        )
        stats = FetchStats()
        yield from fetch_quarter(settings, quarter, chunk_rows=self.chunk_rows, stats=stats)
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

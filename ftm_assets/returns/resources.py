"""Returns sources as Dagster resources: where a deployment's CRSP-shaped returns come from.

``environment`` binds one per transcript source: the demo's synthetic returns, the user's files (or none, when
no returns file is set: ``call_returns`` is then skipped with a message saying what to set), or WRDS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from abc import ABC, abstractmethod
from typing import Literal

import dagster as dg
import pandas as pd

from ftm_assets.returns.crsp import CrspData


class ReturnsUnavailable(LookupError):
    """No returns are bound for this deployment; the message says how to bind them."""


@dataclasses.dataclass(frozen=True)
class ReturnsData:
    """The returns a quarter needs, and each call's UTC start time where the source knows it (by call_id)."""

    crsp: CrspData
    call_starts: dict[int, pd.Timestamp] = dataclasses.field(default_factory=dict)


class ReturnsSource(dg.ConfigurableResource, ABC):
    """Daily stock, delisting and index returns covering ``start``..``end`` for the quarter's calls."""

    @property
    @abstractmethod
    def label(self) -> str:
        """A short name for metadata and logs."""

    @abstractmethod
    def fetch(self, calls: pd.DataFrame, start: dt.date, end: dt.date, log) -> ReturnsData:
        """Returns for ``calls`` (firm_id, call_id, permno, quarter, earnings_call_date); raises with what to fix."""


class NoReturnsSource(ReturnsSource):
    """Bound when the deployment has no returns (files source without FTM_RETURNS_FILE): the asset is skipped."""

    reason: str = "no returns source is configured"

    @property
    def label(self) -> str:
        return "none"

    def fetch(self, calls: pd.DataFrame, start: dt.date, end: dt.date, log) -> ReturnsData:
        raise ReturnsUnavailable(self.reason)


class DemoReturnsSource(ReturnsSource):
    """Synthetic CRSP-shaped returns for the demo permnos, with the planted theme-tone effect."""

    seed: int = 0

    @property
    def label(self) -> str:
        return "demo-synthetic"

    def fetch(self, calls: pd.DataFrame, start: dt.date, end: dt.date, log) -> ReturnsData:
        from ftm_assets.returns.demo import demo_returns

        log.info(f"Generating synthetic returns for {calls['permno'].nunique()} demo permnos (not CRSP data).")
        return ReturnsData(demo_returns(calls, start, end, seed=self.seed))


class FilesReturnsSource(ReturnsSource):
    """The user's returns files (``returns.files``): stock, index and optionally delisting returns."""

    stock_file: str
    index_file: str
    delisting_file: str | None = None

    @property
    def label(self) -> str:
        return "files"

    def fetch(self, calls: pd.DataFrame, start: dt.date, end: dt.date, log) -> ReturnsData:
        from ftm_assets.returns.files import read_returns_files

        log.info(f"Reading returns from {self.stock_file} and the index from {self.index_file}.")
        return ReturnsData(read_returns_files(self.stock_file, self.index_file, self.delisting_file))


class WrdsReturnsSource(ReturnsSource):
    """CRSP daily files on WRDS and Capital IQ's call start times. ``crsp_format`` (FTM_CRSP_FORMAT): ``ciz``,
    CRSP's current tables (crsp.dsf_v2; the only ones with returns after 2024), or ``siz``, the legacy
    crsp.dsf/dsedelist/dsi (to replicate a study made on them). Credentials resolve at run time as for
    ``WrdsTranscriptSource`` (FTM_WRDS_*, PGPASSWORD, .pgpass)."""

    crsp_format: Literal["ciz", "siz"] = "ciz"
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    sslmode: str | None = None

    @property
    def label(self) -> str:
        return f"wrds-{self.crsp_format}"

    def fetch(self, calls: pd.DataFrame, start: dt.date, end: dt.date, log) -> ReturnsData:
        from ftm_assets.returns.wrds import fetch_returns
        from ftm_assets.transcripts.wrds import resolve_settings

        settings = resolve_settings(username=self.username, password=self.password, host=self.host,
                                    port=self.port, sslmode=self.sslmode)
        permnos = sorted({int(p) for p in calls["permno"].dropna()})
        keydevids = sorted({int(c) for c in calls["call_id"].dropna()})
        log.info(f"Fetching CRSP daily returns ({self.crsp_format.upper()} tables) of {len(permnos)} permnos, "
                 f"{start}..{end}, from WRDS.")
        crsp, starts = fetch_returns(settings, permnos, keydevids, start, end, f"returns {start}..{end}",
                                     self.crsp_format)
        return ReturnsData(crsp, starts)

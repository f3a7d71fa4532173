"""The one place that decides the environment: reads FTM_* settings and binds resource implementations.

Environments differ only by which resource implementation is bound here (docs/design.md), never by ``if`` in
asset code. Secrets (the WRDS password) are never read here: the resource resolves them at run time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pydantic

from ftm_assets import constants as C
from ftm_assets.quarters import Quarter, QuarterKeyError, last_complete_quarter, quarter_keys
from ftm_assets.launch.local import LocalLauncher
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.transcripts.files import FILES_QUARTERS_CACHE, quarters_in_folder
from ftm_assets.transcripts.resources import DemoTranscriptSource, FilesTranscriptSource
from ftm_assets.transcripts.wrds import Universe, WrdsUniverseError
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.resources.theme_settings import ThemeSettings
from ftm_assets.resources.returns_settings import ReturnsSettings
from ftm_assets.env_values import VariableError, read_int

ENVIRONMENTS = ("local", "aws")
SOURCES = ("demo", "files", "wrds")
AUTOMATION = {"on": True, "off": False}  # FTM_AUTOMATION: the sensors that keep the panel current (README)
# Variable -> WorkerSettings field. An unset variable keeps the field's default (constants.py); a set one is
# validated by the field (type and bounds), and a bad value fails the load with the variable's name.
WORKER_SETTINGS_VARS = {
    "MAX_FAILURE_RATE": "max_failure_rate",
    "MAX_CONSECUTIVE_FAILURES": "max_consecutive_failures",
    "MIN_PROCESSED_FOR_RATE": "min_processed_for_rate",
    "ALLOW_FAILURES": "allow_failures",
    "CHECKPOINT_EVERY": "checkpoint_every",
    "FTM_RANDOM_SEED": "random_seed",
    "FTM_MIN_SENTENCES": "min_sentences",
    "FTM_MIN_TOPIC_SIZE": "hdbscan_min_cluster_size",
    "FTM_TOPIC_METHOD": "topic_method",
    "FTM_UMAP_NEIGHBORS": "umap_n_neighbors",
    "FTM_SENTENCES_PER_TOPIC": "sentences_per_topic",
    "FTM_MAX_TOPICS": "max_topics",
    "FTM_CONTEXT_WINDOW": "context_window",
    "FTM_CONTEXT_DECAY": "context_decay",
    "FTM_CONTEXT_GATE": "context_gate",
    "FTM_CONTEXT_GATE_SCALE": "context_gate_scale",
    "FTM_STABILITY_RESAMPLES": "stability_members",
    "FTM_EMBEDDING_MODEL": "embedding_model",
    "FTM_DEVICE": "device",
    "FTM_FIT_WORKERS": "fit_workers",
    "FTM_EMBEDDING_STORE": "embedding_store",
    "FTM_TONE_MODEL": "tone_model",
}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and what to set."""


@dataclass(frozen=True)
class Settings:
    env: str
    storage_root: str
    source: str
    batch_count: int
    first_quarter: str
    last_quarter: str
    raw: Mapping[str, str]
    # The quarter partitions: every quarter first..last, or for the files source the quarters its files hold.
    quarters: tuple[str, ...] = ()
    # FTM_AUTOMATION=on: the transcript watch and the automation condition sensors start running.
    automation: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = dict(os.environ if environ is None else environ)
        name = env.get("FTM_ENV", "local").strip().lower()
        if name not in ENVIRONMENTS:
            raise ConfigError(f"FTM_ENV={name!r} is not known: use one of {', '.join(ENVIRONMENTS)}.")
        source = env.get("FTM_TRANSCRIPT_SOURCE", "demo").strip().lower()
        if source not in SOURCES:
            raise ConfigError(
                f"FTM_TRANSCRIPT_SOURCE={source!r} is not known: use demo (synthetic corpus), files "
                "(with FTM_TRANSCRIPTS_DIR) or wrds (with FTM_WRDS_USERNAME)."
            )
        root = env.get("FTM_STORAGE_ROOT") or str(C.PROJECT_ROOT / C.DEFAULT_LOCAL_STORAGE_DIRNAME)
        if name == "aws" and not root.startswith("s3://"):
            raise ConfigError(f"FTM_ENV=aws needs FTM_STORAGE_ROOT=s3://bucket[/prefix]; it is {root!r}.")
        first, last, quarters = _quarters(env, source)
        switch = (env.get("FTM_AUTOMATION") or "off").strip().lower()
        if switch not in AUTOMATION:
            raise ConfigError(f"FTM_AUTOMATION={switch!r} is not known: use on (keep the panel current) or off.")
        return cls(
            env=name,
            storage_root=root,
            source=source,
            batch_count=_int(env, "FTM_BATCH_COUNT", C.DEFAULT_BATCH_COUNT, 1, 999),
            first_quarter=first,
            last_quarter=last,
            raw=env,
            quarters=quarters,
            automation=AUTOMATION[switch],
        )

    def quarters_on(self, today: dt.date) -> tuple[str, ...]:
        """The quarter partitions as of ``today`` (the calendar sensor's view; ``quarters`` is the load time's)."""
        return _quarters(self.raw, self.source, today)[2]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.raw.get(key, default)


def _quarters(env: Mapping[str, str], source: str, today: dt.date | None = None) -> tuple[str, str, tuple[str, ...]]:
    """The quarter partitions: FTM_FIRST_QUARTER..FTM_LAST_QUARTER (default 2005Q1..the last complete quarter on
    ``today``, so a new quarter joins once it has ended); for the files source, the quarters its files hold,
    within those bounds where they are set, so that no partition lacks calls."""
    first = env.get("FTM_FIRST_QUARTER") or C.FIRST_QUARTER
    last = env.get("FTM_LAST_QUARTER") or last_complete_quarter(today)
    try:
        if Quarter.parse(last) < Quarter.parse(first):
            raise ConfigError(f"FTM_LAST_QUARTER={last} comes before FTM_FIRST_QUARTER={first}.")
    except QuarterKeyError as exc:
        raise ConfigError(f"FTM_FIRST_QUARTER/FTM_LAST_QUARTER: {exc}") from exc
    if source != "files":
        return first, last, tuple(quarter_keys(first, last))
    folder = env.get("FTM_TRANSCRIPTS_DIR")
    if not folder:
        raise ConfigError("FTM_TRANSCRIPT_SOURCE=files needs FTM_TRANSCRIPTS_DIR, the folder of your transcripts.")
    cache = _files_quarters_cache(env)
    try:
        held = quarters_in_folder(folder, cache)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"FTM_TRANSCRIPTS_DIR={folder}: {exc}") from exc
    lo = Quarter.parse(env["FTM_FIRST_QUARTER"]) if env.get("FTM_FIRST_QUARTER") else None
    hi = Quarter.parse(env["FTM_LAST_QUARTER"]) if env.get("FTM_LAST_QUARTER") else None
    keys = tuple(q for q in held if (lo is None or lo <= Quarter.parse(q)) and (hi is None or Quarter.parse(q) <= hi))
    if not keys:
        raise ConfigError(
            f"FTM_TRANSCRIPTS_DIR={folder} holds calls of {', '.join(held) or 'no quarter'}, none within "
            f"FTM_FIRST_QUARTER/FTM_LAST_QUARTER ({env.get('FTM_FIRST_QUARTER') or '-'}..{env.get('FTM_LAST_QUARTER') or '-'})."
        )
    return keys[0], keys[-1], keys


def _files_quarters_cache(env: Mapping[str, str]) -> Path | None:
    """Where each transcript file's quarters are remembered between loads (under DAGSTER_HOME), if anywhere."""
    return Path(env["DAGSTER_HOME"]) / FILES_QUARTERS_CACHE if env.get("DAGSTER_HOME") else None


def _int(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    """``env[key]`` as a whole number within ``[lo, hi]``, or ``default`` when unset; ConfigError names it."""
    try:
        value = read_int(env, key, lo, hi)
    except VariableError as exc:
        raise ConfigError(str(exc)) from exc
    return default if value is None else value


def transcript_source(settings: Settings) -> dg.ConfigurableResource:
    if settings.source == "demo":
        return DemoTranscriptSource(n_firms=_int(settings.raw, "FTM_DEMO_FIRMS", C.DEFAULT_DEMO_FIRMS, 1, 100_000))
    if settings.source == "files":
        folder = settings.get("FTM_TRANSCRIPTS_DIR")
        if not folder:
            raise ConfigError("FTM_TRANSCRIPT_SOURCE=files needs FTM_TRANSCRIPTS_DIR, the folder of your transcripts.")
        cache = _files_quarters_cache(settings.raw)
        return FilesTranscriptSource(folder=folder, quarters_cache=str(cache) if cache else None)
    from ftm_assets.transcripts.resources import WrdsTranscriptSource

    if not settings.get("FTM_WRDS_USERNAME"):
        raise ConfigError("FTM_TRANSCRIPT_SOURCE=wrds needs FTM_WRDS_USERNAME (your WRDS login).")
    universe = (settings.get("FTM_WRDS_UNIVERSE") or "all").strip()
    country = (settings.get("FTM_WRDS_COUNTRY") or "").strip() or None
    try:  # the one check of both (the id file read and counted); the resource gets the checked values
        Universe.parse(universe, country)
    except WrdsUniverseError as exc:
        raise ConfigError(str(exc)) from exc
    # Credentials and host settings are resolved by the resource at run time (FTM_WRDS_*, PGPASSWORD,
    # .pgpass), so a .pgpass user need not put a password in any variable.
    return WrdsTranscriptSource(universe=universe, country=country)


def returns_source(settings: Settings) -> dg.ConfigurableResource:
    """Returns for ``call_returns``, by transcript source: synthetic (demo), the user's files, or CRSP on WRDS."""
    from ftm_assets.returns.resources import (
        DemoReturnsSource, FilesReturnsSource, NoReturnsSource, WrdsReturnsSource,
    )

    if settings.source == "demo":
        return DemoReturnsSource()
    if settings.source == "wrds":
        crsp_format = (settings.get("FTM_CRSP_FORMAT") or "ciz").strip().lower()
        if crsp_format not in ("ciz", "siz"):
            raise ConfigError(f"FTM_CRSP_FORMAT={settings.get('FTM_CRSP_FORMAT')!r}: use ciz (CRSP's current tables, "
                              "crsp.dsf_v2: the only ones with returns after 2024; the default) or siz (the legacy "
                              "crsp.dsf/dsedelist/dsi, which end on 2024-12-31).")
        return WrdsReturnsSource(crsp_format=crsp_format)
    stock, index = settings.get("FTM_RETURNS_FILE"), settings.get("FTM_INDEX_RETURNS_FILE")
    if not stock or not index:
        return NoReturnsSource(reason="the files source has no returns: set FTM_RETURNS_FILE (permno, date, ret) "
                               "and FTM_INDEX_RETURNS_FILE (date, vwretd), and optionally FTM_DELISTING_FILE "
                               "(permno, dlstdt, dlret), then materialize call_returns again.")
    return FilesReturnsSource(stock_file=stock, index_file=index, delisting_file=settings.get("FTM_DELISTING_FILE"))


def launcher(settings: Settings) -> dg.ConfigurableResource:
    if settings.env == "local":
        # FTM_WORKER_MODULE: what `python -m` runs for a batch (default ftm_assets.worker; a worker of your own,
        # or the tests' scripted one, speaks the same Pipes protocol).
        module = (settings.get("FTM_WORKER_MODULE") or "").strip()
        return LocalLauncher(module=module) if module else LocalLauncher()
    from ftm_assets.launch.aws_batch.resource import AwsBatchLauncher

    missing = [k for k in ("FTM_BATCH_JOB_QUEUE", "FTM_BATCH_JOB_DEFINITION") if not settings.get(k)]
    if missing:
        raise ConfigError(f"FTM_ENV=aws needs {' and '.join(missing)} (Terraform outputs them, see README).")
    bucket, _, prefix = settings.storage_root[len("s3://") :].partition("/")
    return AwsBatchLauncher(
        job_queue=dg.EnvVar("FTM_BATCH_JOB_QUEUE"),
        job_definition=dg.EnvVar("FTM_BATCH_JOB_DEFINITION"),
        pipes_bucket=bucket,
        pipes_prefix=f"{prefix.strip('/')}/pipes" if prefix.strip("/") else "pipes",
        price_table=settings.get("FTM_PRICE_TABLE") or None,
    )


def _from_variables(cls: type, variables: Mapping[str, str], settings: Settings):
    """``cls`` (a pydantic resource) from the variables that are set; a bad value names its variable."""
    given = {name: settings.raw[var] for var, name in variables.items() if settings.raw.get(var)}
    try:
        return cls(**given)
    except pydantic.ValidationError as exc:
        variable = {name: var for var, name in variables.items()}
        problems = [f"{variable[e['loc'][0]]}={e['input']!r}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("; ".join(problems) + ".") from exc


def worker_settings(settings: Settings) -> WorkerSettings:
    return _from_variables(WorkerSettings, WORKER_SETTINGS_VARS, settings)


THEME_SETTINGS_VARS = {
    "FTM_THEME_MIN_FIRMS": "min_firms",
    "FTM_THEME_MAX_FIRM_SHARE": "max_firm_share",
    "FTM_THEME_ASSIGN_SIMILARITY": "assign_similarity",
    "FTM_THEME_LINKAGE_DISTANCE": "linkage_distance",
    "FTM_THEME_SENTENCE_SIMILARITY": "sentence_similarity",
    "FTM_THEME_GENERIC_BREADTH": "generic_breadth",
    "FTM_THEME_GENERIC_ANALYST_SHARE": "generic_analyst_share",
}


RETURNS_SETTINGS_VARS = {"FTM_CAR_MIN_ESTIMATION_OBS": "min_estimation_obs"}


def returns_settings(settings: Settings) -> ReturnsSettings:
    return _from_variables(ReturnsSettings, RETURNS_SETTINGS_VARS, settings)


def theme_settings(settings: Settings) -> ThemeSettings:
    return _from_variables(ThemeSettings, THEME_SETTINGS_VARS, settings)


def resources(settings: Settings) -> dict[str, Any]:
    return {
        "storage": StorageRoot(root=settings.storage_root),
        "transcript_source": transcript_source(settings),
        "returns_source": returns_source(settings),
        "returns_settings": returns_settings(settings),
        "launcher": launcher(settings),
        "worker_settings": worker_settings(settings),
        "theme_settings": theme_settings(settings),
    }

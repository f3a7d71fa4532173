"""The one place that decides the environment: reads FTM_* settings and binds resource implementations.

Environments differ only by which resource implementation is bound here (DESIGN.md), never by ``if`` in
asset code. Secrets (the WRDS password) are never read here: the resource resolves them at run time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from ftm_assets import constants as C
from ftm_assets.quarters import Quarter, QuarterKeyError, current_quarter
from ftm_assets.launch.local import LocalLauncher
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.transcripts.resources import DemoTranscriptSource, FilesTranscriptSource
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.resources.theme_settings import ThemeSettings

ENVIRONMENTS = ("local", "aws")
SOURCES = ("demo", "files", "wrds")


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
        first = env.get("FTM_FIRST_QUARTER", C.FIRST_QUARTER)
        last = env.get("FTM_LAST_QUARTER") or current_quarter()
        try:
            if Quarter.parse(last) < Quarter.parse(first):
                raise ConfigError(f"FTM_LAST_QUARTER={last} comes before FTM_FIRST_QUARTER={first}.")
        except QuarterKeyError as exc:
            raise ConfigError(f"FTM_FIRST_QUARTER/FTM_LAST_QUARTER: {exc}") from exc
        return cls(
            env=name,
            storage_root=root,
            source=source,
            batch_count=_int(env, "FTM_BATCH_COUNT", C.DEFAULT_BATCH_COUNT, 1, 999),
            first_quarter=first,
            last_quarter=last,
            raw=env,
        )

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.raw.get(key, default)


def _number(env: Mapping[str, str], key: str, default, lo, hi, kind: type = int):
    """``env[key]`` as ``kind`` within ``[lo, hi]``, or ``default`` when unset; ConfigError names the variable."""
    text = env.get(key)
    if text in (None, ""):
        return default
    try:
        value = kind(text)
    except ValueError as exc:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{key}={text!r} is not {noun}.") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{key}={value} is outside {lo}..{hi}.")
    return value


def _int(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    return _number(env, key, default, lo, hi, int)


def _float(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float:
    return _number(env, key, default, lo, hi, float)


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    text = env.get(key)
    if text in (None, ""):
        return default
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}={text!r} is not true or false.")


def transcript_source(settings: Settings) -> dg.ConfigurableResource:
    if settings.source == "demo":
        return DemoTranscriptSource(n_firms=_int(settings.raw, "FTM_DEMO_FIRMS", C.DEFAULT_DEMO_FIRMS, 1, 100_000))
    if settings.source == "files":
        folder = settings.get("FTM_TRANSCRIPTS_DIR")
        if not folder:
            raise ConfigError("FTM_TRANSCRIPT_SOURCE=files needs FTM_TRANSCRIPTS_DIR, the folder of your transcripts.")
        return FilesTranscriptSource(folder=folder)
    from ftm_assets.transcripts.resources import WrdsTranscriptSource

    if not settings.get("FTM_WRDS_USERNAME"):
        raise ConfigError("FTM_TRANSCRIPT_SOURCE=wrds needs FTM_WRDS_USERNAME (your WRDS login).")
    # Credentials and host settings are resolved by the resource at run time (FTM_WRDS_*, PGPASSWORD,
    # .pgpass), so a .pgpass user need not put a password in any variable.
    return WrdsTranscriptSource()


def launcher(settings: Settings) -> dg.ConfigurableResource:
    if settings.env == "local":
        return LocalLauncher()
    from ftm_assets.launch.batch.resource import AwsBatchLauncher

    missing = [k for k in ("FTM_BATCH_JOB_QUEUE", "FTM_BATCH_JOB_DEFINITION") if not settings.get(k)]
    if missing:
        raise ConfigError(f"FTM_ENV=aws needs {' and '.join(missing)} (Terraform outputs them, see README).")
    bucket, _, prefix = settings.storage_root[len("s3://") :].partition("/")
    return AwsBatchLauncher(
        job_queue=dg.EnvVar("FTM_BATCH_JOB_QUEUE"),
        job_definition=dg.EnvVar("FTM_BATCH_JOB_DEFINITION"),
        pipes_bucket=bucket,
        pipes_prefix=f"{prefix.strip('/')}/pipes" if prefix.strip("/") else "pipes",
    )


def worker_settings(settings: Settings) -> WorkerSettings:
    env = settings.raw
    return WorkerSettings(
        max_failure_rate=_float(env, "MAX_FAILURE_RATE", C.MAX_FAILURE_RATE, 0.0, 1.0),
        max_consecutive_failures=_int(env, "MAX_CONSECUTIVE_FAILURES", C.MAX_CONSECUTIVE_FAILURES, 1, 10**6),
        min_processed_for_rate=_int(env, "MIN_PROCESSED_FOR_RATE", C.MIN_PROCESSED_FOR_RATE, 1, 10**6),
        allow_failures=_bool(env, "ALLOW_FAILURES", C.ALLOW_FAILURES),
        checkpoint_every=_int(env, "CHECKPOINT_EVERY", C.CHECKPOINT_EVERY, 1, 10**6),
        random_seed=_int(env, "FTM_RANDOM_SEED", C.RANDOM_SEED, 0, 2**31 - 1),
        min_sentences=_int(env, "FTM_MIN_SENTENCES", C.MIN_SENTENCES, 3, 10**6),
        hdbscan_min_cluster_size=_int(env, "FTM_MIN_TOPIC_SIZE", C.HDBSCAN_MIN_CLUSTER_SIZE, 2, 10**6),
        umap_n_neighbors=_int(env, "FTM_UMAP_NEIGHBORS", C.UMAP_N_NEIGHBORS, 2, 10**6),
        embedding_model=env.get("FTM_EMBEDDING_MODEL") or None,
        device=env.get("FTM_DEVICE") or None,
    )


def theme_settings(settings: Settings) -> ThemeSettings:
    env = settings.raw
    return ThemeSettings(
        min_firms=_int(env, "FTM_THEME_MIN_FIRMS", 3, 2, 10**6),
        max_firm_share=_float(env, "FTM_THEME_MAX_FIRM_SHARE", 0.4, 0.01, 1.0),
        assign_similarity=_float(env, "FTM_THEME_ASSIGN_SIMILARITY", ThemeSettings().assign_similarity, -1.0, 1.0),
        linkage_distance=_float(env, "FTM_THEME_LINKAGE_DISTANCE", ThemeSettings().linkage_distance, 0.0, 2.0),
    )


def resources(settings: Settings) -> dict[str, Any]:
    return {
        "storage": StorageRoot(root=settings.storage_root),
        "transcript_source": transcript_source(settings),
        "launcher": launcher(settings),
        "worker_settings": worker_settings(settings),
        "theme_settings": theme_settings(settings),
    }

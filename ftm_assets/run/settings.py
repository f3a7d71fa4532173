"""The settings a command-line run loads: the environment's, with the requested quarters as partitions.

``make demo`` runs a demo quarter that may lie after today's; the quarter partitions end at
``FTM_LAST_QUARTER`` (default: the last complete quarter), so the run extends that bound to its last quarter. The
parent run and each ``--batch`` child call this with their quarters and get those partitions, without anyone
writing to the process environment. The files source is left alone: its partitions are the quarters its files
hold.
"""

from __future__ import annotations

from collections.abc import Mapping

from ftm_assets.environment import Settings


def load_settings(quarters: list[str], environ: Mapping[str, str] | None = None) -> Settings:
    """``Settings.from_env(environ)`` (the one loader; the process environment by default), its last quarter
    moved up to ``quarters[-1]`` when that is later; raises ``ConfigError``."""
    settings = Settings.from_env(environ)
    last = quarters[-1] if quarters else None
    if settings.source != "files" and last and last > settings.last_quarter:
        settings = Settings.from_env({**settings.raw, "FTM_LAST_QUARTER": last})
    return settings

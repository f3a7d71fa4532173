"""Quarters replayed in calendar order: each quarter's themes given the registry of the quarters before it.

A quarter's themes and ids are a function of its own committed topics and of the quarters before it, never
of the order in which quarters were materialized: ``storage_chain.resolve`` replays the earlier quarters from
their stored outcomes (recomputing any whose inputs changed) before computing the one asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from ftm_assets.themes.exposure import section_of, theme_exposure
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.quarter import QuarterThemes, build_quarter
from ftm_assets.themes.registry import Registry


@dataclass(frozen=True)
class QuarterOutcome:
    quarter: str
    fingerprint: str
    themes: QuarterThemes
    exposure: pd.DataFrame
    sentences_total: int  # every modelled sentence of the quarter, outliers included
    firms: list[str]  # every modelled firm of the quarter
    params: str = ""  # the three parts of ``fingerprint``: the theme settings' fingerprint,
    previous: str = ""  # the chain fingerprint of the quarter before ("empty" for the first),
    inputs: str = ""  # and the quarter's own inputs (its commit records), so a reader can check the chain


def chain_fingerprint(params: ThemeParams, previous: str, inputs: str) -> str:
    """Identifies a quarter's outcome: the parameters, the chain before it and the quarter's own inputs."""
    return chain_fingerprint_of(params.fingerprint(), previous, inputs)


def chain_fingerprint_of(params_fingerprint: str, previous: str, inputs: str) -> str:
    """``chain_fingerprint`` from the settings' fingerprint (what a stored outcome records)."""
    return hashlib.sha256(f"{params_fingerprint}|{previous}|{inputs}".encode()).hexdigest()[:24]


def with_sections(sentences: pd.DataFrame) -> pd.DataFrame:
    """``sentences`` plus ``section`` (presentation | qa | None) from their ``component_type`` where present."""
    types = sentences["component_type"] if "component_type" in sentences else pd.Series(None, index=sentences.index)
    return sentences.assign(section=[section_of(t) for t in types])


def run_quarter(registry: Registry, quarter: str, inputs: str, topics: pd.DataFrame, sentences: pd.DataFrame,
                params: ThemeParams) -> QuarterOutcome:
    """Compute ``quarter`` on top of ``registry`` and advance the registry past it."""
    previous = registry.fingerprint
    fingerprint = chain_fingerprint(params, previous, inputs)
    themes = build_quarter(topics, sentences, registry, quarter, params)
    exposure = theme_exposure(topics, themes.members, with_sections(sentences), quarter)
    registry.advance(quarter, fingerprint, themes.present, themes.new_anchors, themes.events)
    firms = sorted(topics["firm_id"].unique().tolist()) if len(topics) else []
    return QuarterOutcome(quarter, fingerprint, themes, exposure, int(topics["n_sentences"].sum()), firms,
                          params.fingerprint(), previous, inputs)


def replay_in_memory(quarters: Iterable[tuple[str, pd.DataFrame, pd.DataFrame]], params: ThemeParams,
                     registry: Registry | None = None) -> list[QuarterOutcome]:
    """Outcomes of ``(quarter, topics, sentences)`` in the order given (calendar order), from an empty registry."""
    registry = registry or Registry()
    return [run_quarter(registry, q, f"memory:{q}:{len(t)}", t, s, params) for q, t, s in quarters]

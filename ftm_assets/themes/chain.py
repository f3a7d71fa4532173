"""Quarters replayed in calendar order: each quarter's themes given the registry of the quarters before it.

A quarter's themes and ids are a function of its own committed topics and of the quarters before it, never
of the order in which quarters were materialized: ``storage_chain.resolve`` replays the earlier quarters from
their stored outcomes (recomputing any whose inputs changed) before computing the one asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftm_assets.storage.sentence_vectors import BatchVectors
from ftm_assets.themes.assign import assign_sentences, in_memory_chunks
from ftm_assets.themes.exposure import section_of, theme_exposure
from ftm_assets.themes.params import ThemeParams
from ftm_assets.themes.quarter import QuarterThemes, build_quarter, finish_themes
from ftm_assets.themes.registry import Registry


@dataclass(frozen=True)
class QuarterOutcome:
    quarter: str
    fingerprint: str
    themes: QuarterThemes
    exposure: pd.DataFrame
    sentences_total: int  # every modelled sentence of the quarter, outliers included
    firms: list[str]  # every modelled firm of the quarter
    assignments: pd.DataFrame | None = None  # (firm_id, sentence_id, theme_id, similarity): sentences on a theme
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


def theme_anchors(themes: QuarterThemes) -> tuple[list[str], np.ndarray]:
    """The quarter's theme ids (sorted) and their anchors, the rows of one matrix."""
    if themes.themes.empty:
        return [], np.zeros((0, 0), dtype=np.float32)
    rows = themes.themes.sort_values("theme_id")
    return rows["theme_id"].tolist(), np.stack([np.asarray(c, dtype=np.float32) for c in rows["centroid"]])


def run_quarter(registry: Registry, quarter: str, inputs: str, topics: pd.DataFrame, sentences: pd.DataFrame,
                params: ThemeParams, chunks: Callable[[], Iterable[BatchVectors]]) -> QuarterOutcome:
    """Compute ``quarter`` on top of ``registry`` and advance the registry past it.

    Themes come from the firm topics; then every sentence is assigned to them from its stored vector
    (``chunks()`` yields the quarter's sentences and vectors batch by batch), which gives the exposure.
    """
    previous = registry.fingerprint
    fingerprint = chain_fingerprint(params, previous, inputs)
    themes = build_quarter(topics, sentences, registry, quarter, params)
    ids, anchors = theme_anchors(themes)
    assignments = assign_sentences(chunks(), anchors, ids, params.sentence_similarity)
    sectioned = with_sections(sentences)
    themes = QuarterThemes(finish_themes(themes.themes, assignments, sectioned, topics, params), themes.members,
                           themes.events, themes.new_anchors, themes.present)
    exposure = theme_exposure(topics, assignments, sectioned, quarter)
    registry.advance(quarter, fingerprint, themes.present, themes.new_anchors, themes.events)
    firms = sorted(topics["firm_id"].unique().tolist()) if len(topics) else []
    return QuarterOutcome(quarter, fingerprint, themes, exposure, int(topics["n_sentences"].sum()), firms,
                          assignments, params.fingerprint(), previous, inputs)


def replay_in_memory(quarters: Iterable[tuple[str, pd.DataFrame, pd.DataFrame, np.ndarray]], params: ThemeParams,
                     registry: Registry | None = None) -> list[QuarterOutcome]:
    """Outcomes of ``(quarter, topics, sentences, vectors)`` in the order given (calendar order), from an empty
    registry; row i of ``vectors`` is the embedding of ``sentences``' row i."""
    registry = registry or Registry()
    return [run_quarter(registry, q, f"memory:{q}:{len(t)}", t, s, params, lambda s=s, v=v: in_memory_chunks(s, v))
            for q, t, s, v in quarters]

"""The theme step's settings: one frozen dataclass, filled from FTM_THEME_* by ``ThemeSettings``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ThemeParams:
    min_firms: int = 3  # FTM_THEME_MIN_FIRMS: a theme spans at least this many firms
    max_firm_share: float = 0.4  # FTM_THEME_MAX_FIRM_SHARE: no firm holds more of a theme's topics
    # Cosine similarity a topic needs to its theme's centroid (known themes and new ones alike).
    assign_similarity: float = 0.5  # FTM_THEME_ASSIGN_SIMILARITY
    # Average-linkage cut (cosine distance) that forms new themes among topics no known theme takes. 0.35 (was
    # 0.65), chosen on demo firms and calls make bench-validity never reports: the best demo truth (0.830 vs
    # 0.723) among cuts keeping issue 15's bars on 16 calls with a real-call retest gap near the best
    # (benchmarks/theme_linkage.py, RESULTS.md "Theme linkage cut, chosen on held-out sets").
    linkage_distance: float = 0.35  # FTM_THEME_LINKAGE_DISTANCE
    # A new cluster holding more than this share of the quarter's topic sentences is cut again, tighter by
    # split_step each time, down to min_linkage_distance.
    max_theme_share: float = 0.10
    split_step: float = 0.05
    min_linkage_distance: float = 0.3
    # A new theme whose anchor is this close (cosine) to a living theme's is recorded as split from it: its
    # topics each stayed under assign_similarity, but together they sit next to that theme.
    split_similarity: float = 0.45
    # Above this many topics to cluster, k-means micro-clusters come first (no n x n matrix).
    exact_max: int = 8000
    micro_cluster_size: int = 20  # topics per micro-cluster above exact_max
    random_seed: int = 42
    # Cosine a sentence's embedding needs to its nearest theme anchor to count as on the theme (the exposure).
    # 0.45: among 0.45-0.6, all within 0.02 of the best as-is vs 15%-dropped retest on the choosing half of the
    # Earnings-22 calls, the best on validity measured on choosing sets only (demo truth on other demo firms,
    # industry p@4 and covid on the choosing half); benchmarks/theme_threshold.py, RESULTS.md "Per-sentence
    # exposure: assignment threshold sweep".
    sentence_similarity: float = 0.45  # FTM_THEME_SENTENCE_SIMILARITY
    # A theme is flagged generic when it reaches more than this share of the quarter's firms (call talk every
    # firm has: results, guidance) or when analysts speak more than this share of its sentences (the form of
    # a question, not its subject). Flagged themes stay in the panel; researchers drop them by ``generic``.
    generic_breadth: float = 0.8  # FTM_THEME_GENERIC_BREADTH
    generic_analyst_share: float = 0.7  # FTM_THEME_GENERIC_ANALYST_SHARE
    top_keywords: int = 10
    representative_sentences: int = 5

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

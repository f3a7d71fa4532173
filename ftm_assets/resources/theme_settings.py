"""The theme step's settings as a Dagster resource (FTM_THEME_*, read in ``environment.py``)."""

from __future__ import annotations

import dagster as dg

from ftm_assets.themes.params import ThemeParams

_DEFAULTS = ThemeParams()


class ThemeSettings(dg.ConfigurableResource):
    min_firms: int = _DEFAULTS.min_firms
    max_firm_share: float = _DEFAULTS.max_firm_share
    assign_similarity: float = _DEFAULTS.assign_similarity
    linkage_distance: float = _DEFAULTS.linkage_distance
    min_exposed_firm_share: float = 0.5  # the coverage check warns below this share of firms with a theme

    def params(self) -> ThemeParams:
        return ThemeParams(min_firms=self.min_firms, max_firm_share=self.max_firm_share,
                           assign_similarity=self.assign_similarity, linkage_distance=self.linkage_distance)

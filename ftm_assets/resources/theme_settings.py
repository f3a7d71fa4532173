"""The theme step's settings as a Dagster resource (FTM_THEME_*, read in ``environment.py``)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ftm_assets.themes.params import ThemeParams

_DEFAULTS = ThemeParams()


class ThemeSettings(dg.ConfigurableResource):
    min_firms: int = Field(default=_DEFAULTS.min_firms, ge=2)
    max_firm_share: float = Field(default=_DEFAULTS.max_firm_share, gt=0.0, le=1.0)
    assign_similarity: float = Field(default=_DEFAULTS.assign_similarity, ge=-1.0, le=1.0)
    linkage_distance: float = Field(default=_DEFAULTS.linkage_distance, gt=0.0, le=2.0)
    sentence_similarity: float = Field(default=_DEFAULTS.sentence_similarity, ge=-1.0, le=1.0)
    generic_breadth: float = Field(default=_DEFAULTS.generic_breadth, ge=0.0, le=1.0)
    generic_analyst_share: float = Field(default=_DEFAULTS.generic_analyst_share, ge=0.0, le=1.0)
    min_exposed_firm_share: float = 0.5  # the coverage check warns below this share of firms with a theme

    def params(self) -> ThemeParams:
        return ThemeParams(min_firms=self.min_firms, max_firm_share=self.max_firm_share,
                           assign_similarity=self.assign_similarity, linkage_distance=self.linkage_distance,
                           sentence_similarity=self.sentence_similarity, generic_breadth=self.generic_breadth,
                           generic_analyst_share=self.generic_analyst_share)

"""The returns step's settings as a Dagster resource (FTM_CAR_*, read in ``environment.py``)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ftm_assets.returns.car import CarSettings

_DEFAULTS = CarSettings()


class ReturnsSettings(dg.ConfigurableResource):
    # Fewer returns than this in the estimation window [-250, -11]: the market-model CARs are null.
    min_estimation_obs: int = Field(default=_DEFAULTS.min_estimation_obs, ge=2, le=240)

    def car_settings(self) -> CarSettings:
        return CarSettings(min_estimation_obs=self.min_estimation_obs)

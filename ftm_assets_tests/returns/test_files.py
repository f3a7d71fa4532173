"""Returns from a user's files (CSV/Parquet, CRSP column names) and how the environment binds a returns source."""

from __future__ import annotations

import numpy as np
import pytest

from ftm_assets.environment import Settings, returns_source
from ftm_assets.returns.car import compute_call_returns
from ftm_assets.returns.crsp import CrspShapeError
from ftm_assets.returns.files import read_returns_files
from ftm_assets.returns.resources import (
    DemoReturnsSource, FilesReturnsSource, NoReturnsSource, WrdsReturnsSource,
)
from ftm_assets_tests.support import crsp as T


def test_files_give_the_same_cars_as_the_hand_computation(tmp_path):
    stock, index, delist = tmp_path / "dsf.csv", tmp_path / "dsi.parquet", tmp_path / "delist.csv"
    T.stock_returns().to_csv(stock, index=False)
    T.index_returns().to_parquet(index)
    T.delisting().to_csv(delist, index=False)
    out = compute_call_returns(T.calls_frame(), read_returns_files(stock, index, delist)).set_index("permno")
    expected = T.hand_cars(T.DELISTED_PERMNO, T.CALLS[4][5])
    np.testing.assert_allclose(out.loc[T.DELISTED_PERMNO, "car_0_1"], expected["car_0_1"], rtol=1e-9)
    assert out.loc[T.MISSING_PERMNO, "n_missing_2_60"] == 1


def test_a_file_without_ret_names_the_column(tmp_path):
    T.stock_returns().rename(columns={"ret": "return"}).to_csv(tmp_path / "dsf.csv", index=False)
    T.index_returns().to_csv(tmp_path / "dsi.csv", index=False)
    with pytest.raises(CrspShapeError, match="ret"):
        read_returns_files(tmp_path / "dsf.csv", tmp_path / "dsi.csv")


def test_the_environment_binds_a_returns_source_per_transcript_source(tmp_path):
    (tmp_path / "calls.csv").write_text("quarter,firm_id,earnings_call_date,component_order,text\n"
                                        "2024Q1,1,2024-02-01,0,Hello.\n")
    files = {"FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(tmp_path)}
    assert isinstance(returns_source(Settings.from_env({"FTM_LAST_QUARTER": "2024Q4"})), DemoReturnsSource)
    assert isinstance(returns_source(Settings.from_env({**files})), NoReturnsSource)
    bound = returns_source(Settings.from_env({**files, "FTM_RETURNS_FILE": "dsf.csv", "FTM_INDEX_RETURNS_FILE": "dsi.csv"}))
    assert isinstance(bound, FilesReturnsSource) and bound.delisting_file is None
    wrds = Settings.from_env({"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "me", "FTM_LAST_QUARTER": "2024Q4"})
    assert isinstance(returns_source(wrds), WrdsReturnsSource)


def test_min_estimation_obs_is_read_and_checked():
    from ftm_assets.environment import ConfigError, resources

    bound = resources(Settings.from_env({"FTM_LAST_QUARTER": "2024Q4", "FTM_CAR_MIN_ESTIMATION_OBS": "100"}))
    assert bound["returns_settings"].car_settings().min_estimation_obs == 100
    with pytest.raises(ConfigError, match="FTM_CAR_MIN_ESTIMATION_OBS='1'"):
        resources(Settings.from_env({"FTM_LAST_QUARTER": "2024Q4", "FTM_CAR_MIN_ESTIMATION_OBS": "1"}))

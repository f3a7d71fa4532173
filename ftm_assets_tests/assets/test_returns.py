"""The call_returns asset: on the demo it writes one row per linked call with CARs; with the files source and no
returns file it materializes nothing and says what to set."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ftm_assets.assets.returns import build_call_returns
from ftm_assets.assets.transcripts import build_raw_transcripts
from ftm_assets.readers.returns import read_call_returns
from ftm_assets.resources.returns_settings import ReturnsSettings
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.returns.resources import DemoReturnsSource, NoReturnsSource
from ftm_assets.transcripts.resources import DemoTranscriptSource

QUARTER = "2024Q4"
PARTITIONS = dg.StaticPartitionsDefinition([QUARTER])


def _run(tmp_path, returns_source) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [build_raw_transcripts(PARTITIONS), build_call_returns(PARTITIONS)], partition_key=QUARTER, instance=instance,
        resources={"storage": StorageRoot(root=str(tmp_path)), "transcript_source": DemoTranscriptSource(n_firms=6),
                   "returns_source": returns_source, "returns_settings": ReturnsSettings(min_estimation_obs=200)},
    )
    return result, instance


def test_demo_call_returns(tmp_path):
    result, _ = _run(tmp_path, DemoReturnsSource())
    assert result.success
    frame = read_call_returns(str(tmp_path), QUARTER)
    assert len(frame) == 6 and frame["permno"].notna().all() and (frame["quarter"] == QUARTER).all()
    assert frame["car_0_1"].notna().all() and (frame["est_obs"] >= 240).all()
    meta = result.asset_materializations_for_node("call_returns")[0].metadata
    assert meta["calls"].value == 6 and meta["source"].value == "demo-synthetic"
    assert meta["min_estimation_obs"].value == 200  # the bound setting, not the default


def test_without_returns_the_asset_is_skipped_with_a_message(tmp_path):
    result, instance = _run(tmp_path, NoReturnsSource(reason="set FTM_RETURNS_FILE"))
    assert result.success and not result.asset_materializations_for_node("call_returns")
    logged = " ".join(e.user_message for e in instance.all_logs(result.run_id))
    assert "call_returns 2024Q4 skipped: set FTM_RETURNS_FILE" in logged
    assert read_call_returns(str(tmp_path), QUARTER, strict=False).empty


def test_the_file_records_its_settings_and_quarters_under_different_ones_are_refused(tmp_path):
    import pytest

    from ftm_assets.readers.returns import MixedReturnSettings

    partitions = dg.StaticPartitionsDefinition(["2024Q3", QUARTER])
    assets = [build_raw_transcripts(partitions), build_call_returns(partitions)]
    for quarter, obs in (("2024Q3", 200), (QUARTER, 120)):  # the setting changed between the two runs
        assert dg.materialize(assets, partition_key=quarter, resources={
            "storage": StorageRoot(root=str(tmp_path)), "transcript_source": DemoTranscriptSource(n_firms=4),
            "returns_source": DemoReturnsSource(), "returns_settings": ReturnsSettings(min_estimation_obs=obs)}).success
    assert read_call_returns(str(tmp_path), QUARTER).attrs["car_settings"]["min_estimation_obs"] == 120
    with pytest.raises(MixedReturnSettings, match=r"2024Q3: .*\"min_estimation_obs\": 200.*2024Q4: .*re-materialize"):
        read_call_returns(str(tmp_path), ["2024Q3", QUARTER])

"""The call_returns asset: on the demo it writes one row per linked call with CARs; with the files source and no
returns file it materializes nothing and says what to set; a run that another run of the quarter overtakes
never replaces what that run stored."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from ftm_assets.assets.returns import build_call_returns
from ftm_assets.assets.transcripts import build_raw_transcripts
from ftm_assets.readers.returns import read_call_returns
from ftm_assets.resources.returns_settings import ReturnsSettings
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.returns.resources import DemoReturnsSource, NoReturnsSource
from ftm_assets.transcripts.resources import DemoTranscriptSource
from ftm_assets_tests.support.aws import moto_server  # noqa: F401

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


class RacingReturnsSource(DemoReturnsSource):
    """The demo source, but while this run fetches, another run of the quarter lands its file (``other``)."""

    root: str
    other: str

    def fetch(self, calls, start, end, log):
        from pathlib import Path

        from ftm_assets.storage import LocalStorage, layout

        LocalStorage(self.root).write_bytes(layout.call_returns(QUARTER), Path(self.other).read_bytes())
        return super().fetch(calls, start, end, log)


def _other_run(tmp_path, obs: int):
    """The bytes a run under ``min_estimation_obs=obs`` stores (materialized in a root of its own)."""
    from ftm_assets.storage import LocalStorage, layout

    root = tmp_path / f"other-{obs}"
    assets = [build_raw_transcripts(PARTITIONS), build_call_returns(PARTITIONS)]
    assert dg.materialize(assets, partition_key=QUARTER, resources={
        "storage": StorageRoot(root=str(root)), "transcript_source": DemoTranscriptSource(n_firms=6),
        "returns_source": DemoReturnsSource(), "returns_settings": ReturnsSettings(min_estimation_obs=obs)}).success
    path = tmp_path / f"other-{obs}.parquet"
    path.write_bytes(LocalStorage(root).read_bytes(layout.call_returns(QUARTER)))
    return path


def test_a_run_overtaken_by_a_run_under_other_settings_fails_and_leaves_its_file_whole(tmp_path):
    other = _other_run(tmp_path, obs=120)
    root = tmp_path / "shared"
    result = _run_raising(root, RacingReturnsSource(root=str(root), other=str(other)))
    assert not result.success and not result.asset_materializations_for_node("call_returns")
    (failure,) = result.get_step_failure_events()
    logged = failure.step_failure_data.error.to_string()
    assert "ConcurrentCallReturns" in logged and "rewritten by another run while this one computed" in logged
    assert '"min_estimation_obs": 120' in logged and '"min_estimation_obs": 200' in logged
    stored = read_call_returns(str(root), QUARTER)
    assert stored.attrs["car_settings"]["min_estimation_obs"] == 120  # the other run's file, whole


def test_a_run_overtaken_by_an_identical_run_succeeds_and_keeps_one_file(tmp_path):
    other = _other_run(tmp_path, obs=200)
    root = tmp_path / "shared"
    result = _run_raising(root, RacingReturnsSource(root=str(root), other=str(other)))
    assert result.success
    assert read_call_returns(str(root), QUARTER).attrs["car_settings"]["min_estimation_obs"] == 200
    assert len(read_call_returns(str(root), QUARTER)) == 6


def test_a_rerun_replaces_the_file_it_found_when_nobody_raced_it(tmp_path):
    _run(tmp_path, DemoReturnsSource())
    result, _ = _run(tmp_path, DemoReturnsSource(seed=1))  # other returns: other bytes, written over the old
    assert result.success
    meta = result.asset_materializations_for_node("call_returns")[0].metadata
    assert meta["stored_by"].value == "this run"


def _run_raising(root, returns_source) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_raw_transcripts(PARTITIONS), build_call_returns(PARTITIONS)], partition_key=QUARTER,
        resources={"storage": StorageRoot(root=str(root)), "transcript_source": DemoTranscriptSource(n_firms=6),
                   "returns_source": returns_source, "returns_settings": ReturnsSettings(min_estimation_obs=200)},
        raise_on_error=False,
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """A local root, or a root on S3 (moto's server, which enforces If-Match / If-None-Match)."""
    from ftm_assets.storage import LocalStorage, open_storage
    from ftm_assets_tests.support.aws import create_bucket

    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    return open_storage(f"s3://{create_bucket(request.getfixturevalue('moto_server'))}/root")


def _file(settings: str, rows: int = 1) -> bytes:
    """A call_returns-like Parquet file recording ``settings``."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from ftm_assets.returns.car import SETTINGS_KEY

    buffer = io.BytesIO()
    pq.write_table(pa.table({"car_0_1": [0.01] * rows}).replace_schema_metadata({SETTINGS_KEY: settings}), buffer)
    return buffer.getvalue()


def test_the_fenced_write_lands_only_on_the_version_it_saw(store):
    from ftm_assets.assets.returns import ConcurrentCallReturns, stored_version, write_fenced

    key = "returns/2024Q4.parquet"
    first, other, mine = _file('{"run": 1}'), _file('{"run": "other"}'), _file('{"run": "mine"}', rows=2)
    seen = stored_version(store, key)
    assert seen is None and write_fenced(store, key, first, seen, '{"run": 1}')
    seen = stored_version(store, key)
    store.write_bytes(key, other)  # a concurrent run lands after this one looked
    with pytest.raises(ConcurrentCallReturns, match=r'rewritten by another run.*"other".*"mine".*re-materialize'):
        write_fenced(store, key, mine, seen, '{"run": "mine"}')
    assert store.read_bytes(key) == other
    assert write_fenced(store, key, other, seen, '{"run": "other"}') in (True, False)  # the same bytes: no error
    assert store.read_bytes(key) == other
    assert write_fenced(store, key, mine, stored_version(store, key), "{}") and store.read_bytes(key) == mine


def test_returns_computed_before_the_raw_transcripts_changed_are_refused_until_recomputed(tmp_path):
    from ftm_assets.readers.returns import StaleCallReturns

    def materialize(selection, n_firms):
        assets = [build_raw_transcripts(PARTITIONS), build_call_returns(PARTITIONS)]
        assert dg.materialize(assets, partition_key=QUARTER, selection=selection, resources={
            "storage": StorageRoot(root=str(tmp_path)), "transcript_source": DemoTranscriptSource(n_firms=n_firms),
            "returns_source": DemoReturnsSource(), "returns_settings": ReturnsSettings(min_estimation_obs=200)}).success

    materialize(["raw_transcripts", "call_returns"], 6)
    materialize(["raw_transcripts"], 6)  # prefetched again, the same content: still current
    assert len(read_call_returns(str(tmp_path), QUARTER)) == 6
    materialize(["raw_transcripts"], 4)  # prefetched again with other calls
    with pytest.raises(StaleCallReturns, match=r"call_returns of 2024Q4 .*changed since.*re-materialize call_returns"):
        read_call_returns(str(tmp_path), QUARTER)
    materialize(["call_returns"], 4)
    assert len(read_call_returns(str(tmp_path), QUARTER)) == 4

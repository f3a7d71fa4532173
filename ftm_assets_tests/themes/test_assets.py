"""The quarter_themes and theme_exposure assets through Dagster: dependencies, files, metadata, pictures, checks."""

import base64

import dagster as dg
import pytest

from ftm_assets.assets.themes import (
    CHECK_FIRMS_EXPOSED,
    CHECK_IDS_ACCOUNTED,
    CHECK_SHARES,
    build_quarter_themes,
    build_theme_exposure,
)
from ftm_assets.partitions import quarter_batch_partitions, quarter_partitions
from ftm_assets.resources.storage import StorageRoot
from ftm_assets.resources.theme_settings import ThemeSettings
from ftm_assets.storage import LocalStorage, layout
from ftm_assets_tests.support.markdown import cells
from ftm_assets_tests.themes.synthetic import commit_quarter, planted_quarter

QUARTERS = quarter_partitions("2023Q1", "2023Q3")
BATCHES = quarter_batch_partitions(QUARTERS, 2)
PNG = b"\x89PNG"


def _assets():
    return [build_quarter_themes(QUARTERS), build_theme_exposure(QUARTERS),
            dg.AssetSpec("firm_topics", partitions_def=BATCHES)]


def _materialize(root, quarter, settings=None, raise_on_error=True):
    return dg.materialize(
        _assets(), selection=["quarter_themes", "theme_exposure"], partition_key=quarter,
        resources={"storage": StorageRoot(root=str(root)), "theme_settings": settings or ThemeSettings()},
        raise_on_error=raise_on_error,
    )


def _png(markdown: str) -> bytes:
    return base64.b64decode(markdown.split("base64,", 1)[1].rstrip(")"))


def test_quarter_themes_depends_on_every_batch_of_its_quarter():
    graph = dg.Definitions(assets=_assets(), resources={"storage": StorageRoot(root="unused"),
                                                         "theme_settings": ThemeSettings()}).resolve_asset_graph()
    mapping = graph.get(dg.AssetKey("quarter_themes")).partition_mappings[dg.AssetKey("firm_topics")]
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        QUARTERS.subset_with_partition_keys(["2023Q2"]), QUARTERS, BATCHES).partitions_subset
    assert sorted(str(k) for k in upstream.get_partition_keys()) == ["000|2023Q2", "001|2023Q2"]


def test_two_quarters_materialize_with_pictures_tables_and_passing_checks(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, "2023Q1", planted_quarter())
    commit_quarter(store, "2023Q2", planted_quarter(skip_theme=2, extra_theme=6, seed=2))
    _materialize(tmp_path, "2023Q1")
    result = _materialize(tmp_path, "2023Q2")

    meta = result.asset_materializations_for_node("quarter_themes")[0].metadata
    assert meta["themes"].value == 6 and meta["births"].value == 1 and meta["deaths"].value == 1
    top = [cells(line) for line in meta["top_themes"].value.splitlines()]
    assert top[0] == ["theme", "label", "firms", "topics", "share of sentences", "breadth", "analysts", "generic",
                      "since"]
    assert len(top) == 2 + 6 and all(row[4].endswith("%") for row in top[2:])  # header, rule, one row a theme
    heat = _png(meta["heatmap"].value)
    assert heat.startswith(PNG) and heat == store.read_bytes(layout.themes_table("2023Q2", "heatmap.png"))
    assert _png(meta["prevalence"].value).startswith(PNG)

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CHECK_FIRMS_EXPOSED].passed and checks[CHECK_IDS_ACCOUNTED].passed and checks[CHECK_SHARES].passed
    assert checks[CHECK_IDS_ACCOUNTED].metadata["ended"].value == 1

    panel_meta = result.asset_materializations_for_node("theme_exposure")[0].metadata
    assert panel_meta["with_gvkey"].value == 1.0 and panel_meta["with_permno"].value == 1.0
    assert cells(panel_meta["first_rows"].value.splitlines()[0])[:3] == ["firm_id", "quarter", "theme_id"]


def test_an_incomplete_quarter_fails_naming_the_missing_batch(tmp_path):
    commit_quarter(LocalStorage(tmp_path), "2023Q1", planted_quarter(), commit={"001"})
    with pytest.raises(dg.Failure, match=r"batch\(es\) 000 have no committed firm_topics"):
        _materialize(tmp_path, "2023Q1")


def test_few_exposed_firms_warn_rather_than_fail(tmp_path):
    commit_quarter(LocalStorage(tmp_path), "2023Q1", planted_quarter())
    result = _materialize(tmp_path, "2023Q1", ThemeSettings(min_firms=12))  # only themes held by all 12 firms
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}[CHECK_FIRMS_EXPOSED]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_stale_themes_stop_theme_exposure(tmp_path):
    store = LocalStorage(tmp_path)
    commit_quarter(store, "2023Q1", planted_quarter())
    _materialize(tmp_path, "2023Q1")
    commit_quarter(store, "2023Q1", planted_quarter(seed=5), run_id="rerun")  # the batches ran again
    with pytest.raises(dg.Failure, match="stale"):
        dg.materialize(_assets(), selection=["theme_exposure"], partition_key="2023Q1",
                       resources={"storage": StorageRoot(root=str(tmp_path)), "theme_settings": ThemeSettings()})

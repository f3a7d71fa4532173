"""The code location loads: asset keys, partitions, checks, resources, and Dagster's own validation."""

import os
import subprocess
import sys

import dagster as dg

from ftm_assets import constants as C
from ftm_assets.assets.summary import CHECK_BATCHES_COMMITTED, CHECK_QUARTER_FAILURE_RATE
from ftm_assets.assets.themes import CHECK_FIRMS_EXPOSED, CHECK_IDS_ACCOUNTED, CHECK_SHARES
from ftm_assets.definitions import build_definitions
from ftm_assets.environment import Settings


def _defs(**env):
    return build_definitions(Settings.from_env({"FTM_LAST_QUARTER": "2024Q4", **env}))


def test_assets_checks_and_partitions():
    defs = _defs()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"raw_transcripts", "firm_manifest", "firm_topics", "firm_topic_failures", "quarter_topic_summary",
                    "quarter_themes", "theme_exposure", "call_returns"}
    quarters = graph.get(dg.AssetKey("raw_transcripts")).partitions_def
    assert isinstance(quarters, dg.DynamicPartitionsDefinition) and quarters.name == "quarter"  # on the instance
    multi = graph.get(dg.AssetKey("firm_topics")).partitions_def
    assert isinstance(multi, dg.MultiPartitionsDefinition)
    assert {d.name for d in multi.partitions_defs} == {"quarter", "batch"}
    batches = next(d for d in multi.partitions_defs if d.name == "batch").partitions_def
    assert batches.get_partition_keys() == ["000", "001", "002", "003", "004"]
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {
        ("firm_topics", C.CHECK_FAILURE_RATE),
        ("firm_topics", C.CHECK_ALL_FIRMS),
        ("firm_topics", C.CHECK_FIRMS_HAVE_TOPICS),
        ("quarter_topic_summary", CHECK_BATCHES_COMMITTED),
        ("quarter_topic_summary", CHECK_QUARTER_FAILURE_RATE),
        ("quarter_themes", CHECK_FIRMS_EXPOSED),
        ("quarter_themes", CHECK_IDS_ACCOUNTED),
        ("theme_exposure", CHECK_SHARES),
    }
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("firm_topics")).parent_keys}
    assert upstream == {"raw_transcripts", "firm_manifest"}
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("call_returns")).parent_keys} == {"raw_transcripts"}


def test_batch_count_is_configurable():
    multi = _defs(FTM_BATCH_COUNT="3").resolve_asset_graph().get(dg.AssetKey("firm_topics")).partitions_def
    batches = next(d for d in multi.partitions_defs if d.name == "batch").partitions_def
    assert batches.get_partition_keys() == ["000", "001", "002"]


def test_dagster_definitions_validate():
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "ftm_assets.definitions"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr

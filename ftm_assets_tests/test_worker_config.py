"""The Pipes contract: WorkerSettings builds a WorkerConfig, to_extras/from_extras round-trip it, errors name the field."""

import json

import pytest

from ftm_assets import constants as C
from ftm_assets.quarters import QuarterKeyError
from ftm_assets.resources.worker_settings import WorkerSettings
from ftm_assets.worker_config import EmbeddingSettings, TopicParams, WorkerConfig, WorkerConfigError

BASE = {"quarter": "2023Q1", "batch": "000", "storage_root": "/tmp/x", "run_id": "r1"}


def test_defaults_come_from_constants():
    cfg = WorkerConfig.from_extras(BASE)
    assert cfg.policy.max_failure_rate == C.MAX_FAILURE_RATE
    assert cfg.policy.allow_failures is C.ALLOW_FAILURES
    assert cfg.checkpoint_every == C.CHECKPOINT_EVERY
    assert cfg.topics.random_seed == C.RANDOM_SEED
    assert cfg.embedding == EmbeddingSettings()  # nothing said: the worker's environment, then constants


def test_dagster_side_settings_round_trip_through_json_extras():
    sent = WorkerSettings(max_failure_rate=0.2, allow_failures=False, min_sentences=7, device="cpu").worker_config(**BASE)
    extras = json.loads(json.dumps(sent.to_extras()))  # what Pipes carries
    received = WorkerConfig.from_extras(extras)
    assert received == sent
    assert received.policy.max_failure_rate == 0.2 and received.policy.allow_failures is False
    assert received.topics.min_sentences == 7 and received.embedding.device == "cpu"


def test_dagster_side_defaults_are_the_workers():
    assert WorkerSettings().worker_config(**BASE) == WorkerConfig(**BASE)


def test_extras_win_over_the_container_which_wins_over_defaults():
    container = EmbeddingSettings(model="/opt/ftm/model", device="cuda", pipeline_depth=2)
    cfg = WorkerConfig.from_extras({**BASE, "embedding": {"device": "cpu", "model": None}}, container=container)
    assert cfg.embedding == EmbeddingSettings(model="/opt/ftm/model", device="cpu", pipeline_depth=2)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"quarter": None}, WorkerConfigError, "quarter"),
        ({"quarter": "2023Q9"}, QuarterKeyError, "2023Q9"),
        ({"policy": {"max_failure_rate": 2}}, WorkerConfigError, r"max_failure_rate=2 is outside \[0.0, 1.0\]"),
        ({"policy": {"allow_failures": "no"}}, WorkerConfigError, "allow_failures must be bool"),
        ({"topics": {"min_sentences": 1.5}}, WorkerConfigError, "min_sentences must be int"),
        ({"embedding": {"pipeline_depth": 9}}, WorkerConfigError, "pipeline_depth=9"),
        ({"policy": {"nope": 1}}, WorkerConfigError, "nope"),
        ({"surprise": 1}, WorkerConfigError, "surprise.*out of step"),
        ({"topics": {"topic_method": "lda"}}, WorkerConfigError, "topic_method='lda'.*ward or umap"),
        ({"topics": {"context_decay": 1.2}}, WorkerConfigError, r"context_decay=1.2 is outside \[0.0, 1.0\]"),
    ],
)
def test_errors_name_the_setting(change, error, match):
    with pytest.raises(error, match=match):
        WorkerConfig.from_extras({**BASE, **change})


def test_dagster_side_validates_the_same_bounds():
    with pytest.raises(ValueError, match="max_failure_rate"):
        WorkerSettings(max_failure_rate=1.5)
    with pytest.raises(ValueError, match="checkpoint_every"):
        WorkerSettings(checkpoint_every=0)


def test_the_identity_holds_the_chosen_methods_settings_only():
    """What the checkpoint fingerprint reads: the common settings and the chosen method's, never the other's."""
    ward, umap = TopicParams().identity(), TopicParams(topic_method="umap").identity()
    ward_only = {"context_window", "context_decay", "sentences_per_topic", "max_topics", "stability_members",
                 "context_gate", "context_gate_scale"}
    umap_only = {"umap_n_neighbors", "umap_n_components", "umap_min_dist", "hdbscan_min_samples"}
    assert ward_only <= set(ward) and not umap_only & set(ward)
    assert umap_only <= set(umap) and not ward_only & set(umap)
    assert set(ward) - ward_only == set(umap) - umap_only >= {"topic_method", "random_seed", "hdbscan_min_cluster_size"}
    assert TopicParams(umap_n_neighbors=30).identity() == ward
    assert TopicParams(topic_method="umap", context_window=1).identity() == umap


def test_dagster_side_rejects_an_unknown_topic_method():
    with pytest.raises(ValueError, match="topic_method='lda'.*ward or umap"):
        WorkerSettings(topic_method="lda")
    assert WorkerSettings(topic_method="UMAP").worker_config(**BASE).topics.topic_method == "umap"

"""Settings from FTM_* variables: defaults, bindings per environment, and fast, actionable config errors."""

from pathlib import Path

import pytest

from ftm_assets import constants as C
from ftm_assets.environment import ConfigError, Settings, resources
from ftm_assets.launch.local import LocalLauncher
from ftm_assets.transcripts.resources import DemoTranscriptSource, FilesTranscriptSource
from ftm_assets.worker_config import TopicParams


def test_defaults_are_the_embedded_demo():
    settings = Settings.from_env({})
    assert (settings.env, settings.source, settings.batch_count) == ("local", "demo", C.DEFAULT_BATCH_COUNT)
    assert settings.storage_root == str(C.PROJECT_ROOT / "data")
    bound = resources(settings)
    assert isinstance(bound["launcher"], LocalLauncher)
    assert isinstance(bound["transcript_source"], DemoTranscriptSource)
    assert bound["transcript_source"].n_firms == C.DEFAULT_DEMO_FIRMS


def test_files_source_and_policy_from_env(tmp_path):
    (tmp_path / "calls.csv").write_text("companyid,mostimportantdateutc,componentorder,componenttext\n1,2023-02-02,0,Hi.\n")
    settings = Settings.from_env(
        {"FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(tmp_path), "MAX_FAILURE_RATE": "0.1",
         "ALLOW_FAILURES": "false", "FTM_BATCH_COUNT": "3", "FTM_FIT_WORKERS": "4"}
    )
    bound = resources(settings)
    assert isinstance(bound["transcript_source"], FilesTranscriptSource)
    assert bound["worker_settings"].max_failure_rate == 0.1
    cfg = bound["worker_settings"].worker_config(quarter="2023Q1", batch="000", storage_root="/r", run_id="x")
    assert cfg.embedding.fit_workers == 4  # travels in the extras to the worker
    assert bound["worker_settings"].allow_failures is False
    assert settings.batch_count == 3
    assert settings.quarters == ("2023Q1",)


def test_the_topic_method_and_its_settings_travel_to_the_worker():
    """FTM_TOPIC_METHOD (any case) and the Ward settings reach the worker's TopicParams; unset, the defaults."""
    env = {"FTM_TOPIC_METHOD": " UMAP ", "FTM_UMAP_NEIGHBORS": "15", "FTM_SENTENCES_PER_TOPIC": "20",
           "FTM_MAX_TOPICS": "30", "FTM_CONTEXT_WINDOW": "2", "FTM_CONTEXT_DECAY": "0.5",
           "FTM_STABILITY_RESAMPLES": "5"}
    worker = resources(Settings.from_env(env))["worker_settings"]
    topics = worker.worker_config(quarter="2024Q4", batch="000", storage_root="/r", run_id="r").topics
    assert (topics.topic_method, topics.umap_n_neighbors, topics.sentences_per_topic, topics.max_topics,
            topics.context_window, topics.context_decay, topics.stability_members) == ("umap", 15, 20, 30, 2, 0.5, 5)
    default = resources(Settings.from_env({}))["worker_settings"]
    assert default.worker_config(quarter="2024Q4", batch="000", storage_root="/r", run_id="r").topics == TopicParams()


def test_the_embedding_store_switch_travels_to_the_worker():
    """FTM_EMBEDDING_STORE on the Dagster side reaches the worker's config; unset, the worker's own env decides."""
    def store(env):
        worker = resources(Settings.from_env(env))["worker_settings"]
        return worker.worker_config(quarter="2024Q4", batch="000", storage_root="/r", run_id="r").embedding.store

    assert store({"FTM_EMBEDDING_STORE": "off"}) is False and store({"FTM_EMBEDDING_STORE": "on"}) is True
    assert store({}) is None
    with pytest.raises(ConfigError, match="FTM_EMBEDDING_STORE='sometimes'"):
        resources(Settings.from_env({"FTM_EMBEDDING_STORE": "sometimes"}))


def test_the_tone_model_travels_to_the_worker():
    """FTM_TONE_MODEL on the Dagster side reaches the worker's config as given (the folder is the worker's, which
    checks it at start); unset, the worker's own FTM_TONE_MODEL decides."""
    def tone_model(env):
        worker = resources(Settings.from_env(env))["worker_settings"]
        return worker.worker_config(quarter="2024Q4", batch="000", storage_root="/r", run_id="r").embedding.tone_model

    assert tone_model({"FTM_TONE_MODEL": " /opt/ftm/finbert "}) == "/opt/ftm/finbert"
    assert tone_model({}) is None and tone_model({"FTM_TONE_MODEL": "  "}) is None


def test_files_source_partitions_are_the_quarters_its_files_hold(tmp_path):
    rows = "".join(f"{i},{day},0,Hello.\n" for i, day in enumerate(["2015-02-02", "2015-11-30", "2017-05-05"]))
    (tmp_path / "calls.csv").write_text("companyid,mostimportantdateutc,componentorder,componenttext\n" + rows)
    env = {"FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home")}
    settings = Settings.from_env(env)
    assert settings.quarters == ("2015Q1", "2015Q4", "2017Q2")  # no partition for a quarter without calls
    assert (settings.first_quarter, settings.last_quarter) == ("2015Q1", "2017Q2")
    assert (tmp_path / "home" / "ftm-files-quarters.json").exists()
    assert Settings.from_env({**env, "FTM_FIRST_QUARTER": "2015Q2"}).quarters == ("2015Q4", "2017Q2")
    with pytest.raises(ConfigError, match=r"holds calls of 2015Q1, 2015Q4, 2017Q2, none within .*2018Q1"):
        Settings.from_env({**env, "FTM_FIRST_QUARTER": "2018Q1"})
    with pytest.raises(ConfigError, match=r"FTM_TRANSCRIPTS_DIR=.*No transcript files"):
        Settings.from_env({**env, "FTM_TRANSCRIPTS_DIR": str(tmp_path / "home")})


@pytest.mark.parametrize(
    "env, match",
    [
        ({"FTM_TRANSCRIPT_SOURCE": "bloomberg"}, "FTM_TRANSCRIPT_SOURCE='bloomberg'.*demo.*files.*wrds"),
        ({"FTM_ENV": "gcp"}, "FTM_ENV='gcp'"),
        ({"FTM_TRANSCRIPT_SOURCE": "files"}, "FTM_TRANSCRIPTS_DIR"),
        ({"FTM_TRANSCRIPT_SOURCE": "wrds"}, "FTM_WRDS_USERNAME"),
        ({"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "u", "FTM_WRDS_UNIVERSE": "sp500"}, "FTM_WRDS_UNIVERSE=sp500: not 'all'"),
        ({"FTM_ENV": "aws"}, "s3://"),
        ({"FTM_ENV": "aws", "FTM_STORAGE_ROOT": "s3://b/p"}, "FTM_BATCH_JOB_QUEUE"),
        ({"FTM_LAST_QUARTER": "2024Q7"}, "2024Q7"),
        ({"FTM_BATCH_COUNT": "many"}, "FTM_BATCH_COUNT"),
        ({"MAX_FAILURE_RATE": "5%"}, "MAX_FAILURE_RATE='5%'"),
        ({"MAX_FAILURE_RATE": "1.5"}, "MAX_FAILURE_RATE='1.5'.*less than or equal to 1"),
        ({"FTM_MIN_TOPIC_SIZE": "1"}, "FTM_MIN_TOPIC_SIZE='1'.*greater than or equal to 2"),
        ({"CHECKPOINT_EVERY": "ten"}, "CHECKPOINT_EVERY='ten'.*integer"),
        ({"ALLOW_FAILURES": "maybe"}, "ALLOW_FAILURES='maybe'"),
        ({"FTM_TOPIC_METHOD": "lda"}, "FTM_TOPIC_METHOD='lda'.*use ward or umap"),
        ({"FTM_CONTEXT_DECAY": "1.5"}, "FTM_CONTEXT_DECAY='1.5'.*less than or equal to 1"),
        ({"FTM_CONTEXT_WINDOW": "-1"}, "FTM_CONTEXT_WINDOW='-1'.*greater than or equal to 0"),
        ({"FTM_SENTENCES_PER_TOPIC": "1"}, "FTM_SENTENCES_PER_TOPIC='1'.*greater than or equal to 2"),
        ({"FTM_MAX_TOPICS": "0"}, "FTM_MAX_TOPICS='0'"),
        ({"FTM_STABILITY_RESAMPLES": "1000"}, "FTM_STABILITY_RESAMPLES='1000'.*less than or equal to 200"),
        ({"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "u", "FTM_CRSP_FORMAT": "v1"},
         "FTM_CRSP_FORMAT='v1': use ciz .* or siz"),
    ],
)
def test_bad_configuration_fails_fast(env, match):
    with pytest.raises(ConfigError, match=match):
        resources(Settings.from_env(env))


def test_wrds_universe_and_country_are_checked_at_load_and_passed_in(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("companyid\n18749\n19691\n")
    env = {"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "u"}
    source = resources(Settings.from_env({**env, "FTM_WRDS_UNIVERSE": str(ids), "FTM_WRDS_COUNTRY": "us,ca"}))[
        "transcript_source"
    ]
    assert (source.universe, source.country) == (str(ids), "us,ca")  # the resource never reads the variables
    plain = resources(Settings.from_env(env))["transcript_source"]
    assert (plain.universe, plain.country) == ("all", None)
    (tmp_path / "empty.txt").write_text("# no ids yet\n")
    with pytest.raises(ConfigError, match="empty.txt lists no company ids"):
        resources(Settings.from_env({**env, "FTM_WRDS_UNIVERSE": str(tmp_path / "empty.txt")}))


def test_files_source_gets_the_quarters_cache_the_load_wrote(tmp_path):
    (tmp_path / "calls.csv").write_text("companyid,mostimportantdateutc,componentorder,componenttext\n1,2015-02-02,0,Hello.\n")
    env = {"FTM_TRANSCRIPT_SOURCE": "files", "FTM_TRANSCRIPTS_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home")}
    source = resources(Settings.from_env(env))["transcript_source"]
    assert source.quarters_cache == str(tmp_path / "home" / "ftm-files-quarters.json")
    assert Path(source.quarters_cache).exists()
    no_home = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
    assert resources(Settings.from_env(no_home))["transcript_source"].quarters_cache is None


def test_wrds_returns_read_crsps_current_tables_unless_told_otherwise():
    env = {"FTM_TRANSCRIPT_SOURCE": "wrds", "FTM_WRDS_USERNAME": "u"}
    assert resources(Settings.from_env(env))["returns_source"].label == "wrds-ciz"
    legacy = resources(Settings.from_env({**env, "FTM_CRSP_FORMAT": "SIZ"}))["returns_source"]
    assert (legacy.crsp_format, legacy.label) == ("siz", "wrds-siz")

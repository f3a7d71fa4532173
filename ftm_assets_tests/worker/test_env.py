"""The worker's environment loader: every FTM_* variable read once, bad values named, the documented list kept."""

import os

import pytest

from ftm_assets.worker_config import EmbeddingSettings
from ftm_assets.env_values import VariableError
from ftm_assets.worker.env import (
    CRASH_AT_ENV,
    FIT_CRASH_ENV,
    PROCESS_DEFAULTS,
    WORKER_ENV_VARS,
    FaultHooks,
    WorkerEnv,
    apply_process_defaults,
)

SET = {
    "FTM_EMBEDDING_MODEL": "/opt/ftm/model",
    "FTM_DEVICE": "cuda",
    "FTM_EMBED_BACKEND": "torch",
    "FTM_EMBED_PRECISION": "fp16",
    "FTM_PIPELINE_DEPTH": "0",
    "FTM_ONNX_CACHE_DIR": "/tmp/onnx",
    "FTM_FIT_WORKERS": "0",
    "FTM_EMBEDDING_STORE": "off",
    "FTM_TONE_MODEL": "/opt/ftm/finbert",
    "AWS_BATCH_JOB_ATTEMPT": "3",
}


def test_unset_environment_says_nothing():
    assert WorkerEnv.read({}) == WorkerEnv(embedding=EmbeddingSettings(), batch_attempt=1)
    assert WorkerEnv.read({"FTM_DEVICE": "  ", "FTM_PIPELINE_DEPTH": ""}).embedding == EmbeddingSettings()


def test_every_variable_lands_in_its_setting():
    env = WorkerEnv.read(SET)
    assert env.embedding == EmbeddingSettings(model="/opt/ftm/model", device="cuda", backend="torch",
                                              precision="fp16", pipeline_depth=0, onnx_cache_dir="/tmp/onnx",
                                              fit_workers=0, store=False, tone_model="/opt/ftm/finbert")  # fmt: skip
    assert env.batch_attempt == 3
    assert set(SET) <= set(WORKER_ENV_VARS)  # documented for infra and the README


@pytest.mark.parametrize("value, store", [("on", True), ("ON", True), ("true", True), ("1", True), ("off", False),
                                          ("no", False), ("0", False)])
def test_the_store_switch_reads_on_and_off(value, store):
    assert WorkerEnv.read({"FTM_EMBEDDING_STORE": value}).embedding.store is store


@pytest.mark.parametrize(
    "variable, value, match",
    [
        ("FTM_PIPELINE_DEPTH", "two", "FTM_PIPELINE_DEPTH='two' is not a whole number"),
        ("FTM_PIPELINE_DEPTH", "9", "FTM_PIPELINE_DEPTH=9 is outside 0..8"),
        ("FTM_FIT_WORKERS", "-1", "FTM_FIT_WORKERS=-1 is outside 0..256"),
        ("AWS_BATCH_JOB_ATTEMPT", "zero", "AWS_BATCH_JOB_ATTEMPT='zero'"),
        ("AWS_BATCH_JOB_ATTEMPT", "0", "AWS_BATCH_JOB_ATTEMPT=0 is outside 1.."),
        ("FTM_EMBEDDING_STORE", "maybe", "FTM_EMBEDDING_STORE='maybe' is not on or off"),
    ],
)
def test_bad_values_name_the_variable(variable, value, match):
    with pytest.raises(VariableError, match=match):
        WorkerEnv.read({variable: value})


def test_process_defaults_leave_what_is_set(monkeypatch):
    for name in PROCESS_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_DYNAMIC", "TRUE")
    apply_process_defaults()
    assert os.environ["OMP_DYNAMIC"] == "TRUE" and os.environ["MKL_DYNAMIC"] == "FALSE"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_fault_hooks_are_read_with_the_rest_and_default_to_off():
    assert WorkerEnv.read({}).hooks == FaultHooks()
    hooks = WorkerEnv.read({CRASH_AT_ENV: "after-part:2", FIT_CRASH_ENV: " 18749:SIGTERM "}).hooks
    assert hooks == FaultHooks(crash_at="after-part:2", fit_crash="18749:SIGTERM")
    assert {CRASH_AT_ENV, FIT_CRASH_ENV} <= set(WORKER_ENV_VARS)

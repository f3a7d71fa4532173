"""The worker's environment variables: the list of who sets each, and the one loader that reads them.

Everything about *what* to process (quarter, batch, storage root, failure policy, topic-model parameters)
travels in the Pipes extras (``worker_config``). The environment carries only what belongs to the
container: where the model is, which device and embedder, caches, the Batch attempt, and the Pipes
bootstrap (read by ``dagster_pipes`` itself). ``WorkerEnv.read()`` is the only reader of these variables
(a bad value raises ``env_values.VariableError``, naming it);
the rest of the worker is handed what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ftm_assets import constants as C
from ftm_assets.env_values import read_int, read_switch, read_text
from ftm_assets.worker_config import EmbeddingSettings

BATCH_ATTEMPT_ENV = "AWS_BATCH_JOB_ATTEMPT"
CRASH_AT_ENV = "FTM_TEST_CRASH_AT"
FIT_CRASH_ENV = "FTM_TEST_FIT_CRASH"

# name -> (who sets it, what it is)
WORKER_ENV_VARS: dict[str, tuple[str, str]] = {
    "DAGSTER_PIPES_CONTEXT": ("launcher", "Pipes bootstrap: where the context is (S3 on Batch)."),
    "DAGSTER_PIPES_MESSAGES": ("launcher", "Pipes bootstrap: where messages go (S3 on Batch)."),
    BATCH_ATTEMPT_ENV: ("Batch", "Attempt number; the worker keys its Pipes messages by it."),
    "FTM_EMBEDDING_MODEL": (
        "image",
        "Path or name of the sentence-transformers model; default: the packaged all-MiniLM-L6-v2.",
    ),
    "FTM_DEVICE": ("job definition", "auto (default), cpu or cuda."),
    "HF_HUB_OFFLINE": ("image", "1: never download a model at run time."),
    "TRANSFORMERS_OFFLINE": ("image", "1: never download a model at run time."),
    "NUMBA_CACHE_DIR": ("image", "Where numba caches compiled UMAP/HDBSCAN kernels (pays the JIT once)."),
    "AWS_DEFAULT_REGION": ("job definition", "Region for S3 calls from the container."),
    "AWS_ENDPOINT_URL": ("optional", "An S3-compatible endpoint (tests use moto's server)."),
    "FTM_EMBED_BACKEND": ("optional", "auto (default), torch or onnx (CPU only)."),
    "FTM_EMBED_PRECISION": ("optional", "auto (default), fp32, bf16, fp16 (CUDA) or int8 (ONNX Runtime)."),
    "FTM_PIPELINE_DEPTH": ("optional", "Firms embedded ahead of the fit (default 1; 0 turns the overlap off)."),
    "FTM_FIT_WORKERS": ("optional", "Topic-fit processes (default: the cores the embedder leaves free, >= 1; 0 = in-process)."),
    "FTM_ONNX_CACHE_DIR": ("optional", "Where the exported fp32/int8 ONNX models are cached (once per machine)."),
    "FTM_EMBEDDING_STORE": ("optional", "on (default) or off: keep each batch's embeddings and reuse them."),
    "FTM_TONE_MODEL": ("optional", "A local sequence-classification model folder (e.g. FinBERT): each sentence's "
                                   "P(positive) - P(negative) in tone_model; unset: null (LM tone only)."),
    "MKL_DYNAMIC": ("worker", "Defaults to FALSE: fixed thread counts keep resumed firms bit-identical."),
    "OMP_DYNAMIC": ("worker", "Defaults to FALSE, as MKL_DYNAMIC."),
    CRASH_AT_ENV: ("tests", "<window>[:<n>]: end the worker at a window of the commit protocol (worker.crash)."),
    FIT_CRASH_ENV: ("tests", "<firm_id>[:<signal>] or @start: kill a fit process (worker.fit_pool)."),
}

# Set by the launcher at submit time (containerOverrides.environment), not by the job definition.
LAUNCHER_ENV_VARS = tuple(k for k, (who, _) in WORKER_ENV_VARS.items() if who == "launcher")
# Must be set by the image or the job definition.
DEPLOYMENT_ENV_VARS = tuple(k for k, (who, _) in WORKER_ENV_VARS.items() if who in ("image", "job definition"))

# What the worker process sets for itself unless the environment says otherwise: a resumed job must
# recompute a firm bit for bit (BERTopic's assignments flip on 1e-5 noise, and MKL/OpenMP may otherwise
# change their thread counts, and summation order, under load), and a job never downloads a model.
PROCESS_DEFAULTS = {"MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def apply_process_defaults() -> None:
    """``PROCESS_DEFAULTS`` where unset; before torch is imported, so that MKL and OpenMP see them."""
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class FaultHooks:
    """Test-only fault injection; both None in production. Their modules parse the values (``worker.crash``,
    ``worker.fit_pool``), so that what each hook means stays beside the code it breaks."""

    crash_at: str | None = None  # FTM_TEST_CRASH_AT
    fit_crash: str | None = None  # FTM_TEST_FIT_CRASH


@dataclass(frozen=True)
class WorkerEnv:
    """What the container's environment tells the worker."""

    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    batch_attempt: int = 1
    hooks: FaultHooks = field(default_factory=FaultHooks)

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> WorkerEnv:
        """Read every worker variable once (``os.environ`` by default); VariableError names a bad one."""
        env = os.environ if environ is None else environ
        return cls(
            embedding=EmbeddingSettings(
                model=read_text(env, "FTM_EMBEDDING_MODEL"),
                device=read_text(env, "FTM_DEVICE"),
                backend=read_text(env, "FTM_EMBED_BACKEND"),
                precision=read_text(env, "FTM_EMBED_PRECISION"),
                pipeline_depth=read_int(env, "FTM_PIPELINE_DEPTH", 0, C.MAX_PIPELINE_DEPTH,
                                        "0 = no overlap, 1 = one firm ahead"),  # fmt: skip
                onnx_cache_dir=read_text(env, "FTM_ONNX_CACHE_DIR"),
                fit_workers=read_int(env, "FTM_FIT_WORKERS", 0, C.MAX_FIT_WORKERS, "0 = fit in the worker's process"),
                store=read_switch(env, "FTM_EMBEDDING_STORE"),
                tone_model=read_text(env, "FTM_TONE_MODEL"),
            ),
            batch_attempt=read_int(env, BATCH_ATTEMPT_ENV, 1, None, "Batch attempts start at 1") or 1,
            hooks=FaultHooks(crash_at=read_text(env, CRASH_AT_ENV), fit_crash=read_text(env, FIT_CRASH_ENV)),
        )

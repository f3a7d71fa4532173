"""Environment variables the worker reads, with who sets them: the one list infra and docs check against.

Everything about *what* to process (quarter, batch, storage root, failure policy, topic-model parameters)
travels in the Pipes context's ``extras``, set by the Dagster side. The environment carries only what
belongs to the container: where the model is, which device, and the Pipes bootstrap.
"""

from __future__ import annotations

# name -> (who sets it, what it is)
WORKER_ENV_VARS: dict[str, tuple[str, str]] = {
    "DAGSTER_PIPES_CONTEXT": ("launcher", "Pipes bootstrap: where the context is (S3 on Batch)."),
    "DAGSTER_PIPES_MESSAGES": ("launcher", "Pipes bootstrap: where messages go (S3 on Batch)."),
    "AWS_BATCH_JOB_ATTEMPT": ("Batch", "Attempt number; the worker keys its Pipes messages by it."),
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
    "FTM_ONNX_CACHE_DIR": ("optional", "Where the exported fp32/int8 ONNX models are cached (once per machine)."),
    "MKL_DYNAMIC": ("worker", "Defaults to FALSE: fixed thread counts keep resumed firms bit-identical."),
    "OMP_DYNAMIC": ("worker", "Defaults to FALSE, as MKL_DYNAMIC."),
}

# Set by the launcher at submit time (containerOverrides.environment), not by the job definition.
LAUNCHER_ENV_VARS = tuple(k for k, (who, _) in WORKER_ENV_VARS.items() if who == "launcher")
# Must be set by the image or the job definition.
DEPLOYMENT_ENV_VARS = tuple(k for k, (who, _) in WORKER_ENV_VARS.items() if who in ("image", "job definition"))

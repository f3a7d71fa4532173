#!/usr/bin/env bash
# The GPU check (issue 17), one command on the GPU machine, from any directory:
#     bash benchmarks/gpu_check.sh [--firms N] [--budget-s S]
# with the bundle of `make gpu-bundle` beside the tree as .gpu/ (the device tool: carry [".gpu"]).
# Installs the bundle's wheels into a temporary folder (no index, no dependencies: the machine has the rest),
# points the worker at the bundle's fp16 model, and runs `python -m benchmarks.gpu_check` (see its docstring),
# which writes benchmarks/gpu.json and, when OUT is set, $OUT/gpu.json and $OUT/gpu_check.log.
# Without a CUDA device it says so and exits 0, writing nothing.
set -euo pipefail
export GPU_CHECK_STARTED_AT="${GPU_CHECK_STARTED_AT:-$(date +%s.%N)}"
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
BUNDLE="${GPU_BUNDLE:-.gpu}"

for arg in "$@"; do
    if [[ "$arg" == --allow-cpu ]]; then
        echo "gpu_check.sh: --allow-cpu is for development (python -m benchmarks.gpu_check); this runs on CUDA." >&2
        exit 2
    fi
done

site="$(mktemp -d "${TMPDIR:-/tmp}/ftm-gpu-site.XXXXXX")"
trap 'rm -rf "$site"' EXIT
shopt -s nullglob
wheels=("$BUNDLE"/wheels/*.whl)
# A failed install (e.g. CPython 3.12 wheels under another Python) is reported by gpu_check after its CUDA
# check: without CUDA the check refuses anyway, with CUDA it stops, naming pip's error.
if (( ${#wheels[@]} )); then
    if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
        --target "$site" "${wheels[@]}" 2>"$site/pip.err"; then
        GPU_CHECK_WHEELS_FAILED="$(grep -m1 ERROR "$site/pip.err" || tail -n 3 "$site/pip.err")"
        export GPU_CHECK_WHEELS_FAILED
    fi
fi
export PYTHONPATH="$site:$PWD" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$site/numba-cache}"
model="$(cd "$BUNDLE" 2>/dev/null && pwd)/model-fp16" || true
if [[ -d "$model" ]]; then
    export FTM_EMBEDDING_MODEL="$model"
fi

if [[ -n "${OUT:-}" ]]; then
    "$PYTHON" -m benchmarks.gpu_check --bundle "$BUNDLE" "$@" 2>&1 | tee "$OUT/gpu_check.log"
else
    "$PYTHON" -m benchmarks.gpu_check --bundle "$BUNDLE" "$@"
fi

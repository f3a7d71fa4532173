# Performance (issue 7). `make bench` is NOT part of `make test` (it takes ~10-15 min): it appends to
# benchmarks/RESULTS.md and writes benchmarks/latest.json. BENCH_ARGS passes options through, e.g.
#   make bench BENCH_ARGS="--real-firms 4 --demo-firms 4 --rss-firms 20,200 --skip dagster"
# `make bench` also compares the opt-in ONNX Runtime embedder (FTM_EMBED_BACKEND=onnx), so it installs
# onnxruntime and onnx: four packages, no pinned version changes, `pip check` clean. Not needed by `make test`
# (the ONNX test skips without them).
ONNXRUNTIME_VERSION := 1.31.1
ONNX_VERSION := 1.23.2
FLATBUFFERS_VERSION := 25.12.19
ML_DTYPES_VERSION := 0.6.0
BENCH_ARGS ?=
# The exported ONNX model, like numba's kernels, is built once per machine and reused by every job.
export FTM_ONNX_CACHE_DIR ?= $(CURDIR)/.cache/onnx

.PHONY: bench onnx-runtime

$(VENV)/.onnx-installed: $(VENV)/.installed mk/bench.mk
	$(PY) -m pip install -q onnxruntime==$(ONNXRUNTIME_VERSION) onnx==$(ONNX_VERSION) \
		flatbuffers==$(FLATBUFFERS_VERSION) ml_dtypes==$(ML_DTYPES_VERSION) -c constraints.txt
	$(PY) -m pip check
	touch $@

onnx-runtime: $(VENV)/.onnx-installed

bench: install onnx-runtime
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Performance (issue 7). `make bench` is NOT part of `make test` (it takes ~10-15 min): it appends to
# benchmarks/RESULTS.md and writes benchmarks/latest.json. BENCH_ARGS passes options through, e.g.
#   make bench BENCH_ARGS="--real-firms 4 --demo-firms 4 --rss-firms 20,200 --skip dagster"
BENCH_ARGS ?=

.PHONY: bench bench-quality

bench: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Issue 16's topic quality only (~15 min on 2 shared cores, most of it embedding the 125 calls once):
#   make bench-quality BENCH_ARGS="--embed-cache /tmp/e22.npz"   (a second run reuses the embeddings)
bench-quality: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.quality $(BENCH_ARGS)

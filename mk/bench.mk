# Performance (issue 7). `make bench` is NOT part of `make test` (it takes ~10-15 min): it appends to
# benchmarks/RESULTS.md and writes benchmarks/latest.json. BENCH_ARGS passes options through, e.g.
#   make bench BENCH_ARGS="--real-firms 4 --demo-firms 4 --rss-firms 20,200 --skip dagster"
BENCH_ARGS ?=

.PHONY: bench

bench: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

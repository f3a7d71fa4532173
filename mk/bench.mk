# Performance (issues 7, 29). `make bench` is NOT part of `make test` (~6-8 min on a quiet 2-core machine): worker
# and naive loop interleaved, medians of 3 with their spread, the load sampled throughout. A quiet run appends
# to benchmarks/RESULTS.md and merges into benchmarks/latest.json; a loaded one writes only
# benchmarks/latest_loaded.json and exits 3. BENCH_ARGS passes options through, e.g.
#   make bench BENCH_ARGS="--wait-quiet 1800"         (wait up to 30 min for a quiet machine first)
#   make bench BENCH_ARGS="--skip '' --rss-firms 100,1000"   (also the slow probes: peak RSS, topic quality)
BENCH_ARGS ?=

.PHONY: bench bench-quality

bench: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Topic quality beside content-free nulls (issues 16, 24), on the reporting half of the Earnings-22 calls
# (embedding the 125 calls once takes ~25 min on 2 busy cores; each method's nulls and perturbations more):
#   make bench-quality BENCH_ARGS="--embed-cache /tmp/ftm-e22.npz"   (a second run reuses the embeddings)
# The settings were chosen on the other half: python -m benchmarks.topic_sweep --embed-cache ... --write
bench-quality: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.quality $(BENCH_ARGS)

# Themes (issue 15): quality on the real calls' cached firm topics (fitted once by `theme_cache`, ~20 min on
# 2 cores) and clustering time/memory at 10,000 and 100,000 synthetic topics. Appends to RESULTS.md.
THEME_CACHE ?= /tmp/ftm-theme-cache
.PHONY: bench-themes
bench-themes: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	test -f $(THEME_CACHE)/2023Q2.pkl || $(PY) -m benchmarks.theme_cache --out $(THEME_CACHE)
	$(PY) -m benchmarks.bench_themes --cache $(THEME_CACHE)

# The demo quarter's batch jobs before and after a change (issue 17), side by side in one run: checks BASELINE
# out into a temporary worktree, runs `make demo`'s command from each tree in turn, writes
# benchmarks/demo_batches.json and prints the table for RESULTS.md.
BASELINE ?= 7e3473b
.PHONY: bench-demo
bench-demo: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.demo_batches --baseline $(BASELINE) $(BENCH_ARGS)

# External validity (issue 25): covid on the Earnings-22 calls, the demo generator's truth over 8 quarters,
# industry peers against TF-IDF, chains started in different quarters. The worker's fits are cached under
# VALIDITY_CACHE (a first run fits 3 sets of 30 demo firms x 8 quarters and the 125 calls, ~22 min on 2 quiet
# cores); merges into latest.json and appends to RESULTS.md. VALIDITY_ARGS passes options through, e.g. VALIDITY_ARGS="--skip covid".
VALIDITY_CACHE ?= /tmp/ftm-validity-cache
VALIDITY_ARGS ?=
.PHONY: bench-validity
bench-validity: install
	mkdir -p $(NUMBA_CACHE_DIR) $(FTM_ONNX_CACHE_DIR)
	$(PY) -m benchmarks.validity --cache $(VALIDITY_CACHE) $(VALIDITY_ARGS)

# How the themes' linkage cut was chosen (FTM_THEME_LINKAGE_DISTANCE): each cut scored on demo firms and calls
# the validity figures never report (benchmarks/theme_linkage.py); the real calls come from theme_threshold's
# cache (python -m benchmarks.theme_threshold --limit 64 fits it once). Appends to RESULTS.md.
THEME_SWEEP_CACHE ?= /tmp/ftm-theme-sweep
.PHONY: bench-theme-linkage
bench-theme-linkage: install
	$(PY) -m benchmarks.theme_linkage --cache $(VALIDITY_CACHE) --real-cache $(THEME_SWEEP_CACHE)

# How exposure vectors are compared in the industry checks (benchmarks/peer_similarity.py): nine transforms
# scored on the choosing demo firms and the choosing half of the calls (bench-validity's cache; ~2 min once
# fitted); writes benchmarks/peer_weighting.json and appends to RESULTS.md.
.PHONY: bench-peer-weighting
bench-peer-weighting: install
	$(PY) -m benchmarks.peer_similarity --cache $(VALIDITY_CACHE)

# Two commands do all the set-up on a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0
# Where pip takes torch from. Empty: pip's configured index, as CI uses. On a Linux machine without a GPU,
# `make install TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` takes the CPU wheel instead of PyPI's
# multi-GB CUDA build (macOS and Windows wheels on PyPI are CPU builds already).
TORCH_INDEX_URL ?=

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# numba compiles UMAP/HDBSCAN kernels on first use (~10 s); caching them pays that once per machine.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
# The CPU embedder's ONNX model (fp32 export ~5 s; int8, when asked for, ~15 s more) is built once per machine too.
export FTM_ONNX_CACHE_DIR ?= $(CURDIR)/.cache/onnx

# A bare `make` runs the demo; the fragments in mk/ are included below and must not take the default.
.DEFAULT_GOAL := demo

# Extra prerequisites of `make test` (services, linters) are added by the fragments in mk/.
TEST_DEPS :=
-include mk/*.mk

.PHONY: install demo run dev test lock clean

# The package itself, editable, with everything the tests need (pyproject.toml's `test` extra), at the exact
# versions of constraints.txt. torch first, on its own, so that TORCH_INDEX_URL decides which build.
$(VENV)/.installed: constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install -q -e ".[test]" -c constraints.txt
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m ftm_assets.run_demo

# Quarters end to end without the UI, on the same instance as `make dev`:  make run QUARTERS="2015Q1:2019Q4" [JOBS=2]
run: install $(DAGSTER_HOME)/dagster.yaml
	@test -n "$(QUARTERS)" || { echo 'usage: make run QUARTERS="2015Q1:2019Q4" [JOBS=N]' >&2; exit 2; }
	$(PY) -m ftm_assets.run --quarters "$(QUARTERS)" $(if $(JOBS),--jobs $(JOBS))

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p $${FTM_DEV_PORT:-3000}

# PYTEST_WORKERS=2: the modules on two processes (pytest-xdist; each module stays on one, so its fixtures are
# made once); much of the suite waits on subprocesses, servers and polls. 0: one process, as before.
PYTEST_WORKERS ?= 2
test: install $(DAGSTER_HOME)/dagster.yaml $(TEST_DEPS)
	$(PY) -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

# After changing pyproject.toml's dependencies: install, then write the exact versions (torch aside).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^torch==' > constraints.txt

clean:
	rm -rf $(VENV) .cache .pytest_cache

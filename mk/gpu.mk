# The GPU check (issue 17; benchmarks/README.md, "GPU check"). Here, with PyPI reachable:
#   make gpu-bundle [GPU_BUNDLE_ARGS=--with-bertopic]   -> .gpu/ (wheels, fp16 model, manifest; <= 64 MiB with the tree)
# On the GPU machine (the device tool: carry [".gpu"], command `bash benchmarks/gpu_check.sh`), or `make gpu-check`
# where make exists. It needs no venv there: the machine's python3 has torch; gpu_check.sh installs the wheels.
GPU_BUNDLE_ARGS ?=

.PHONY: gpu-bundle gpu-check

gpu-bundle: install
	$(PY) -m benchmarks.gpu_bundle $(GPU_BUNDLE_ARGS)

# The venv's python where there is one (here), else python3 (the GPU machine's, with torch).
gpu-check:
	PYTHON=$(if $(wildcard $(PY)),$(PY),$(PYTHON)) bash benchmarks/gpu_check.sh

"""UMAP's numba kernels are disk-cacheable after the patched import, and compiling one writes the cache."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json
from numba.core.caching import NullCache
from numba.core.dispatcher import Dispatcher
from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache
first, second = import_umap_with_jit_cache(), import_umap_with_jit_cache()
import umap.layouts as layouts, umap.umap_ as umap_
kernels = [v for m in (layouts, umap_) for v in vars(m).values() if isinstance(v, Dispatcher)]
cached = [k for k in kernels if not isinstance(k._cache, NullCache)]
layouts.clip(7.0)  # compile one small kernel: its cache index must appear in NUMBA_CACHE_DIR
print(json.dumps([first, second, len(kernels), len(cached)]))
"""


def _run(cache_dir: Path, script: str) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow  # a fresh process with an empty cache: imports and compiles (~20-40 s)
def test_umap_kernels_become_cacheable_and_land_in_the_cache_dir(tmp_path):
    first, second, n_kernels, n_cached = json.loads(_run(tmp_path, SCRIPT))
    assert (first, second) == (True, False)  # the second call finds umap imported: nothing to do
    assert n_kernels >= 10 and n_cached == n_kernels  # umap-learn alone marks 1 of ~120 cache=True
    assert any(p.name.startswith("layouts.clip") for p in tmp_path.rglob("*.nbi"))


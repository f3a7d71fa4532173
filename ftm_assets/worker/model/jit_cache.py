"""Makes numba cache UMAP's compiled kernels on disk, so the ~10 s first-firm JIT is paid once per machine.

umap-learn declares 1 of its ~120 numba kernels with ``cache=True``, so ``NUMBA_CACHE_DIR`` alone does not
help: every fresh worker process recompiles them. Importing umap (and what it imports) while numba's
``njit``/``jit`` default to ``cache=True`` turns caching on for all of them; the kernels numba cannot cache
(dynamic globals) just compile as before, with a warning we silence. Must run before anything imports
``umap`` (BERTopic does, at import), so the worker calls it before loading the topic model.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable

CACHED_PACKAGES = ("umap", "pynndescent")


def _with_cache(decorator: Callable) -> Callable:
    @functools.wraps(decorator)
    def wrapper(*args, **kwargs):
        kwargs.setdefault("cache", True)
        return decorator(*args, **kwargs)

    return wrapper


def import_umap_with_jit_cache() -> bool:
    """Import umap with disk-cached kernels; False when umap was already imported (nothing to do then)."""
    if any(name in sys.modules for name in CACHED_PACKAGES):
        return False
    import numba
    from numba.core.errors import NumbaWarning

    original = numba.njit, numba.jit
    numba.njit, numba.jit = _with_cache(numba.njit), _with_cache(numba.jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)
            import umap  # noqa: F401
    finally:
        numba.njit, numba.jit = original
    warnings.filterwarnings("ignore", message=r"Cannot cache compiled function", category=NumbaWarning)
    return True

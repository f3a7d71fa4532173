"""exact_knn: the compiled all-pairs cosine matrix and neighbours equal umap-learn's own, bit for bit."""

import numpy as np
import pytest

from ftm_assets.worker.model.jit_cache import import_umap_with_jit_cache

import_umap_with_jit_cache()

from sklearn.metrics import pairwise_distances  # noqa: E402
from umap.distances import cosine  # noqa: E402
from umap.umap_ import nearest_neighbors  # noqa: E402

from ftm_assets.worker.model.exact_knn import SMALL_DATA_LIMIT, cosine_distances, cosine_knn  # noqa: E402


def _embeddings(n: int, dim: int = 48, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[: n // 3] += 1.5  # a cluster, so that neighbour lists have structure and near-ties
    x[n - 1] = x[n - 2]  # an exact duplicate: ties are broken as umap breaks them
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n", [3, 17, 160])
def test_matrix_equals_umaps_small_data_path(n):
    x = _embeddings(n)
    expected = pairwise_distances(x, metric=cosine)  # what UMAP.fit computes below 4,096 rows
    assert np.array_equal(cosine_distances(x), expected)


def test_neighbours_equal_umaps_precomputed_ranking():
    x = _embeddings(160)
    indices, distances = cosine_knn(x, 15)
    dmat = pairwise_distances(x, metric=cosine)
    ref_indices, ref_distances, _ = nearest_neighbors(dmat, 15, "precomputed", {}, False, None)
    assert np.array_equal(indices, ref_indices)
    assert np.array_equal(distances, ref_distances)
    assert indices.shape == (160, 15) and distances.dtype == np.float32


def test_refuses_inputs_umap_would_not_search_exactly():
    with pytest.raises(ValueError, match="small-data"):
        cosine_knn(np.zeros((SMALL_DATA_LIMIT, 2), dtype=np.float32), 15)

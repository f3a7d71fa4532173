"""Topic centroids the worker stores for themes: unit mean of the topic's sentence embeddings, none for -1."""

import numpy as np

from ftm_assets.worker.model.topic_model import Topic
from ftm_assets.worker.processor import topic_centroids


def test_centroid_is_the_normalised_mean_and_outliers_have_none():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    topics = [Topic(-1, [], [0]), Topic(0, ["a"], [1, 2, 3]), Topic(1, ["b"], [4, 5])]
    out = topic_centroids(emb, topics)
    assert set(out) == {0, 1}
    expected = emb[[1, 2, 3]].mean(axis=0)
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), rtol=1e-5)
    assert abs(np.linalg.norm(out[1]) - 1.0) < 1e-5 and all(isinstance(v, float) for v in out[1])

"""The test worker's sentence cache: a list of texts all embedded before (in this process or an earlier one)
is not embedded again and comes back in the caller's order; a list with a new text goes to the model whole."""

import numpy as np

from ftm_assets_tests.support.cached_embedding_worker import SentenceVectors


class CountingModel:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_a_known_list_is_not_embedded_again_and_a_new_text_sends_the_whole_list(tmp_path):
    model = CountingModel()
    first = SentenceVectors(tmp_path).encode(model, ["a b", "ccc", "a b"])
    np.testing.assert_array_equal(first, model(["a b", "ccc", "a b"]))
    model.calls.clear()

    later = SentenceVectors(tmp_path)  # a new worker process reads the files
    subset = later.encode(model, ["ccc", "a b"])
    assert model.calls == []
    np.testing.assert_array_equal(subset, first[[1, 0]])
    mixed = later.encode(model, ["ccc", "dd a"])
    assert model.calls == [["ccc", "dd a"]]  # as the shipped worker sends it
    np.testing.assert_array_equal(later.encode(model, ["dd a"]), mixed[[1]])
    assert len(model.calls) == 1

"""The test worker's sentence cache: a text embedded once is not embedded again, in this process or the next,
and the vectors come back in the caller's order."""

import numpy as np

from ftm_assets_tests.support.cached_embedding_worker import SentenceVectors


class CountingModel:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_each_text_is_embedded_once_across_processes(tmp_path):
    model = CountingModel()
    first = SentenceVectors(tmp_path).encode(model, ["a b", "ccc", "a b"])
    assert model.seen == ["a b", "ccc"]
    np.testing.assert_array_equal(first, model(["a b", "ccc", "a b"]))
    model.seen.clear()
    again = SentenceVectors(tmp_path).encode(model, ["ccc", "dd a", "a b"])  # a new process reads the files
    assert model.seen == ["dd a"]
    np.testing.assert_array_equal(again, np.stack([first[1], model(["dd a"])[0], first[0]]))

"""worker/model/tone_model.py on a tiny BERT classifier that the test builds (support/tiny_tone_model.py: random
weights): scores' shape, range and determinism, labels mapped by name, and the errors a bad FTM_TONE_MODEL gives."""

from __future__ import annotations

import numpy as np
import pytest

from ftm_assets.worker.model.tone_model import ToneClassifier, ToneModelError, label_indices, resolve_tone_model
from ftm_assets_tests.support.tiny_tone_model import tiny_tone_model as _tiny_model

pytest.importorskip("transformers")

SENTENCES = [
    "Revenue grew strongly.",
    "Margins declined.",
    "We expect uncertain demand in the quarter.",
    "The quarter",
    "Words outside the vocabulary map to the unknown token.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return _tiny_model(tmp_path_factory.mktemp("tone") / "model", {0: "positive", 1: "negative", 2: "neutral"})


def test_scores_have_one_value_per_sentence_in_range_and_repeat(tiny):
    scores = ToneClassifier(tiny, "cpu", batch_size=2).score(SENTENCES)  # batches of 2: padding across batches
    assert scores.shape == (len(SENTENCES),) and scores.dtype == np.float32
    assert np.all(np.abs(scores) <= 1.0) and np.unique(scores).size > 1
    again = ToneClassifier(tiny, "cpu", batch_size=len(SENTENCES)).score(SENTENCES)
    np.testing.assert_allclose(scores, again, atol=1e-5)  # another load, one batch: the same scores


def test_a_sentence_longer_than_the_model_takes_is_truncated(tiny):
    classifier = ToneClassifier(tiny, "cpu")
    assert classifier.max_length == 64  # the tiny model's position table, under MAX_LENGTH (128)
    long = " ".join(["revenue grew strongly"] * 60)  # 180 tokens
    assert np.abs(classifier.score([long, SENTENCES[0]])).max() <= 1.0


def test_labels_are_mapped_by_name_not_position(tiny, tmp_path):
    # The same weights with positive and negative swapped in id2label (and capitalised): the sign follows.
    swapped = _tiny_model(tmp_path / "swapped", {0: "Negative", 1: "Positive", 2: "Neutral"})
    a = ToneClassifier(tiny, "cpu").score(SENTENCES)
    b = ToneClassifier(swapped, "cpu").score(SENTENCES)
    np.testing.assert_allclose(b, -a, atol=1e-6)
    assert label_indices({0: "Neutral", 1: "Positive", 2: "Negative"}) == (1, 2)  # finbert-tone's order


def test_a_model_without_positive_and_negative_labels_is_refused_with_its_labels(tmp_path):
    folder = _tiny_model(tmp_path / "stars", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ToneModelError, match=r"\['LABEL_0', 'LABEL_1'\].*'positive' and a 'negative'"):
        ToneClassifier(folder, "cpu")


def test_a_missing_folder_fails_with_its_path(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ToneModelError, match=f"{missing} does not exist.*FTM_TONE_MODEL"):
        resolve_tone_model(missing)
    assert resolve_tone_model(None) is None and resolve_tone_model("") is None

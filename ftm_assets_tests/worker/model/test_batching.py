"""The CPU embedder's token-budget batches: every sentence once, longest first, within the budget, and far less
padding than batches of a fixed count on long-tailed lengths."""

from __future__ import annotations

import numpy as np
import pytest

from ftm_assets.worker.model.batching import padded_tokens, token_budget_batches


def test_every_sentence_once_longest_first_within_budget_and_count():
    lengths = [12, 80, 7, 7, 300, 33, 12, 9, 64, 5]
    batches = token_budget_batches(lengths, max_sentences=3, token_budget=100)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert [int(i) for i in flat if lengths[i] == 7] == [2, 3]  # ties keep input order
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 100  # 300 > budget: alone
    assert batches[0].tolist() == [4]


def test_long_tailed_lengths_pad_less_than_fixed_count_batches():
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(3.2, 0.6, size=400).astype(int), 4, 256).tolist()
    by_count = [np.argsort([-n for n in lengths], kind="stable")[i : i + 64] for i in range(0, 400, 64)]
    budget = token_budget_batches(lengths, max_sentences=64, token_budget=2048)
    real = sum(lengths)
    assert padded_tokens(lengths, budget) / real < 1.25 < 1.5 < padded_tokens(lengths, by_count) / real


def test_a_bad_budget_is_refused():
    with pytest.raises(ValueError, match="must be >= 1"):
        token_budget_batches([3], max_sentences=0, token_budget=10)

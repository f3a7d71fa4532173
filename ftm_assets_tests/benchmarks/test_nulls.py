"""nulls.py: content-free nulls keep turn shapes, perturbations are seeded by the call and drop what they say."""

import numpy as np

from benchmarks import nulls
from benchmarks.nulls import Prepared


def _call(n_comp=20, per=6, dim=8, seed=0) -> Prepared:
    rng = np.random.default_rng(seed)
    keys = [(c, f"call{seed} component {c} sentence {i}") for c in range(n_comp) for i in range(per)]
    return Prepared([t for _, t in keys], keys, rng.normal(size=(len(keys), dim)).astype(np.float32))


def test_shuffled_null_keeps_turns_and_carries_each_drawn_sentences_own_embedding():
    calls = [_call(seed=s) for s in range(3)]
    pool = nulls.corpus_pool(calls)
    null = nulls.shuffled_null("firm-a", calls[0], pool)
    assert null.groups == calls[0].groups  # turn shapes kept
    where = {t: i for i, t in enumerate(pool.texts)}
    for text, vec in zip(null.texts, null.embeddings):
        assert np.array_equal(vec, pool.embeddings[where[text]])  # the drawn sentence's real embedding
    assert sum(t.startswith("call0") for t in null.texts) < 0.6 * len(null.texts)  # drawn across the corpus
    again = nulls.shuffled_null("firm-a", calls[0], pool)
    assert again.texts == null.texts and nulls.shuffled_null("firm-b", calls[0], pool).texts != null.texts


def test_random_vector_null_keeps_the_text_and_replaces_the_vectors():
    call = _call()
    null = nulls.random_vector_null("firm-a", call)
    assert null.texts == call.texts and null.groups == call.groups
    assert np.allclose(np.linalg.norm(null.embeddings, axis=1), 1.0, atol=1e-5)
    assert abs(float(np.corrcoef(null.embeddings.ravel(), call.embeddings.ravel())[0, 1])) < 0.1


def test_component_drop_removes_whole_components():
    call = _call()
    kept = nulls.drop_components("firm-a", call.groups)
    gone = set(call.groups) - {call.groups[i] for i in kept}
    assert len(gone) == 3  # 15% of 20
    assert all(call.groups[i] not in gone for i in kept)
    assert len(kept) == len(call.texts) - 3 * 6
    assert np.array_equal(kept, nulls.drop_components("firm-a", call.groups))


def test_within_turn_drop_takes_about_15_percent_from_inside_the_turns():
    n = 2000
    draws = [nulls.drop_within_turns("firm-a", n, d) for d in range(3)]
    for kept in draws:
        assert 0.12 < 1 - len(kept) / n < 0.18
    assert not np.array_equal(draws[0], draws[1])
    assert np.array_equal(draws[0], nulls.drop_within_turns("firm-a", n, 0))


def test_clause_splitter_cuts_where_the_worker_splitter_does_not():
    text = "Revenue rose 5% vs. last year; margins held. We expect growth: maybe more. e.g. this."
    assert nulls.clause_split(text) == ["Revenue rose 5% vs.", "last year;", "margins held.", "We expect growth:",
                                        "maybe more.", "e.g.", "this."]  # fmt: skip


def test_char_labels_align_two_segmentations_on_shared_words():
    text = "Revenue rose; margins held. Costs fell."
    first = nulls.char_labels(text, ["Revenue rose; margins held.", "Costs fell."], [0, 1])
    second = nulls.char_labels(text, ["Revenue rose;", "margins held.", "Costs fell."], [5, 6, 7])
    assert sorted(first) == sorted(second) == [0, 8, 14, 22, 28, 34]
    assert [first[p] for p in sorted(first)] == [0, 0, 0, 0, 1, 1]
    assert [second[p] for p in sorted(second)] == [5, 5, 6, 6, 7, 7]

"""reference_npmi.py: sliding-window NPMI over a reference corpus, pairs never together at -1, no window across calls."""

import math

import pytest

from benchmarks.reference_npmi import ReferenceCorpus


def test_counts_windows_within_each_call_only():
    corpus = ReferenceCorpus([["aa bb cc dd"], ["ee ff"]], window=3)
    # call 1: windows (aa bb cc), (bb cc dd); call 2 (two tokens) has no full window
    assert corpus.n_windows == 2
    assert corpus.presence("aa")[1] == 1 and corpus.presence("cc")[1] == 2 and corpus.presence("ee")[1] == 0
    assert corpus.pair("dd", "ee") == -1.0  # the last word of one call and the first of the next never share one


def test_npmi_is_the_textbook_formula_on_a_small_stream():
    corpus = ReferenceCorpus([["revenue grew margin revenue fell cash flow strong cash flow weak margin"]], window=3)
    n = corpus.n_windows
    na, nb = corpus.presence("revenue")[1], corpus.presence("margin")[1]
    # both words inside one 3-token window: "revenue grew margin" and "grew margin revenue", "margin revenue fell"
    nab = 3
    expected = math.log((nab / n) / ((na / n) * (nb / n))) / -math.log(nab / n)
    assert corpus.pair("revenue", "margin") == pytest.approx(expected)
    assert corpus.pair("margin", "revenue") == corpus.pair("revenue", "margin")
    assert corpus.pair("revenue", "weak") == -1.0  # never within 3 tokens


def test_a_bigram_keyword_occurs_only_where_its_words_stand_together():
    corpus = ReferenceCorpus([["cash flow strong", "flow of cash", "cash flow weak"]], window=3)
    assert corpus.presence("cash flow")[1] > 0
    assert corpus.presence("cash flow")[1] < corpus.presence("cash")[1]
    assert corpus.presence("flow cash")[1] == 0 and corpus.presence("unknown word")[1] == 0


def test_topic_score_is_the_mean_over_pairs_of_its_top_keywords():
    corpus = ReferenceCorpus([["alpha beta gamma delta", "alpha beta zeta"]], window=2)
    words = ["alpha", "beta", "delta"]
    expected = (corpus.pair("alpha", "beta") + corpus.pair("alpha", "delta") + corpus.pair("beta", "delta")) / 3
    assert corpus.npmi(words) == pytest.approx(expected)
    assert corpus.npmi(words, top=2) == corpus.pair("alpha", "beta")
    assert math.isnan(corpus.npmi(["alpha"]))

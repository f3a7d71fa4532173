"""Topic numbering and c-TF-IDF keywords as BERTopic 0.17 gives them for labels decided beforehand, without it.

The Ward path decides the labels itself and used BERTopic only to number and name them; importing BERTopic
costs ~1.5 s (umap, hdbscan, numba, pandas, plotly) and the GPU image does not ship it. This module repeats
exactly what ``BERTopic.fit_transform`` does with a pass-through reduction and given labels, step for step
with the same numpy/scipy/scikit-learn operations, so ties break the same way (``test_ctfidf`` compares the
two on the demo corpus and real calls):

1. ``renumber_by_size``: topics by size, largest first (``_sort_mappings_by_frequency``: a pandas
   ``sort_values`` of the sizes in first-appearance order, i.e. numpy's unstable quicksort on the reversed
   sizes; -1 stays -1).
2. ``keywords``: per topic (ascending id, the outliers included), the topic's sentences joined by spaces,
   stripped to ``[A-Za-z0-9 ]``; word and bigram counts (``CountVectorizer``); rows l1-normalised and
   weighted by ``idf = log(avg_words_per_topic / word_frequency + 1)`` (``ClassTfidfTransformer``);
   the top 30 of each row by ``argpartition`` then ``argsort``, highest first, non-positive scores dropped.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

TOP_N_CANDIDATES = 30  # BERTopic ranks at least 30 words per topic before cutting to top_n_words
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9 ]+")


def renumber_by_size(labels: Sequence[int]) -> np.ndarray:
    """Labels renumbered 0, 1, ... by topic size, largest first, ties as BERTopic breaks them; -1 stays."""
    labels = np.asarray(labels, dtype=np.int64)
    sizes = Counter(labels.tolist())  # first-appearance order, as BERTopic's Counter of the topic column
    old = np.asarray(list(sizes.keys()), dtype=np.int64)
    counts = np.asarray(list(sizes.values()), dtype=np.int64)
    # pandas' sort_values(ascending=False) for one column: quicksort of the reversed array, reversed back.
    idx = np.arange(len(counts))[::-1]
    order = idx[counts[::-1].argsort(kind="quicksort")][::-1]
    ranked = [int(t) for t in old[order] if t != -1]
    mapping = {-1: -1, **{t: i for i, t in enumerate(ranked)}}
    return np.asarray([mapping[t] for t in labels.tolist()], dtype=np.int64)


def keywords(
    documents: Sequence[str], labels: Sequence[int], stop_words: list[str], top_n: int
) -> dict[int, list[str]]:
    """Each topic's top ``top_n`` c-TF-IDF words and bigrams (fewer where fewer score above 0)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    labels = np.asarray(labels)
    topics = sorted(set(labels.tolist()))
    joined = [" ".join(documents[i] for i in np.flatnonzero(labels == t)) for t in topics]
    cleaned = [_NOT_ALNUM.sub("", doc.replace("\n", " ").replace("\t", " ")) or "emptydoc" for doc in joined]
    vectorizer = CountVectorizer(stop_words=stop_words, ngram_range=(1, 2))
    with warnings.catch_warnings():
        # The call's own stop words (names, fillers) hold contractions like "don't": sklearn notes that its
        # tokenizer splits them, once per fit, in every fit process's stderr. The counts are as intended.
        warnings.filterwarnings("ignore", message="Your stop_words may be inconsistent", category=UserWarning)
        counts = vectorizer.fit_transform(cleaned)
    words = vectorizer.get_feature_names_out()
    frequency = np.squeeze(np.asarray(counts.sum(axis=0)))
    avg_words = int(counts.sum(axis=1).mean())
    idf = np.log((avg_words / frequency) + 1)
    n_features = counts.shape[1]
    idf_diag = sp.diags(idf, offsets=0, shape=(n_features, n_features), format="csr", dtype=np.float64)
    scores = normalize(counts, axis=1, norm="l1", copy=False) * idf_diag
    return {int(t): _top_words(scores, row, words, top_n) for row, t in enumerate(topics)}


def _top_words(matrix, row: int, words, top_n: int) -> list[str]:
    """BERTopic's ``_top_n_idx_sparse`` / ``_top_n_values_sparse`` and ordering, for one row."""
    n = max(top_n, TOP_N_CANDIDATES)
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    pick = min(n, hi - lo)
    picked = lo + np.argpartition(matrix.data[lo:hi], -pick)[-pick:]
    columns = [int(c) for c in matrix.indices[picked]] + [None] * (n - pick)
    values = np.asarray([float(v) for v in matrix.data[picked]] + [0.0] * (n - pick))
    order = np.argsort(values)[::-1]
    ranked = [words[columns[i]] if columns[i] is not None and values[i] > 0 else "" for i in order]
    return [w for w in ranked[:top_n] if w]

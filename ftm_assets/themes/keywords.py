"""Theme labels: c-TF-IDF keywords over the member topics' sentences, with call boilerplate removed.

c-TF-IDF (BERTopic's class-based TF-IDF) treats all sentences of a theme as one document: a word scores
``tf(word, theme) * log(1 + A / f(word))``, ``A`` the average word count per theme and ``f`` the word's count
over all themes, so words every theme uses (``quarter``, ``year``) sink. Words of the one stop list
(``ftm_assets/text/stopwords.py``: English stop words, call procedure, fillers, the form of analysts' questions,
words every call uses) never become keywords: the same list as the firms' topic keywords.
"""

from __future__ import annotations

import numpy as np

from ftm_assets.text import stopwords


def c_tf_idf_keywords(theme_texts: list[str], top_n: int = 10) -> list[list[str]]:
    """Top ``top_n`` keywords (uni- and bigrams) per theme; ``theme_texts[i]`` is theme i's sentences joined."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not theme_texts:
        return []
    vectorizer = CountVectorizer(stop_words=stopwords.stop_words(), ngram_range=(1, 2), min_df=1,
                                 token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    try:
        counts = vectorizer.fit_transform(theme_texts).astype(np.float64)
    except ValueError:  # nothing but stop words
        return [[] for _ in theme_texts]
    words = vectorizer.get_feature_names_out()
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    freq = np.asarray(counts.sum(axis=0)).ravel()
    avg = counts.sum() / counts.shape[0]
    idf = np.log(1.0 + avg / np.maximum(freq, 1))
    scores = tf.multiply(idf).tocsr()
    out = []
    for i in range(scores.shape[0]):
        row = scores.getrow(i)
        order = np.lexsort((row.indices, -row.data))[:top_n]
        out.append([str(words[row.indices[j]]) for j in order])
    return out

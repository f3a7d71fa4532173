"""Theme labels: c-TF-IDF keywords over the member topics' sentences, with call boilerplate removed.

c-TF-IDF (BERTopic's class-based TF-IDF) treats all sentences of a theme as one document: a word scores
``tf(word, theme) * log(1 + A / f(word))``, ``A`` the average word count per theme and ``f`` the word's count
over all themes, so words every theme uses (``quarter``, ``year``) sink. English stop words and the
procedural words of earnings calls below never become keywords.
"""

from __future__ import annotations

import numpy as np

# The procedure of a call, not its content: greetings, thanks, turn-taking, the operator's lines, the
# safe-harbor statement, filler verbs and hedges. Documented in the README (Themes).
PROCEDURAL_WORDS = frozenset(
    """
    thank thanks thanked thanking welcome hello hi good morning afternoon evening everyone everybody today
    question questions answer answers ask asking asked follow operator line lines open call calls conference
    turn turning hand handing pass joining join joined listen listening participants presentation remarks
    prepared comment comments comments mention mentioned mentioning talk talked talking speak speaking said say
    saying says think thinking thought know knew known just really actually maybe probably obviously certainly
    yes yeah okay ok right great sure guess mean kind sort lot bit little things thing way going want wanted
    like look looking let appreciate appreciated color clarify clarification helpful question great
    forward looking statements statement safe harbor risks uncertainties cautionary sec filings filing
    factors differ materially reconciliation gaap non webcast website replay slide slides deck page
    ceo cfo chief officer executive president vice director relations investor investors analyst analysts
    quarter quarters year years time period also well would could should may might will can one two
    press star pound key keypad queue phone please sorry ladies gentlemen session conclude concludes
    concluding congratulations congrats moderator host hope taking take took ve ll re don didn doesn isn
    wasn aren won couldn wouldn shouldn
    """.split()
)


def c_tf_idf_keywords(theme_texts: list[str], top_n: int = 10) -> list[list[str]]:
    """Top ``top_n`` keywords (uni- and bigrams) per theme; ``theme_texts[i]`` is theme i's sentences joined."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if not theme_texts:
        return []
    stop = sorted(ENGLISH_STOP_WORDS | PROCEDURAL_WORDS)
    vectorizer = CountVectorizer(stop_words=stop, ngram_range=(1, 2), min_df=1,
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

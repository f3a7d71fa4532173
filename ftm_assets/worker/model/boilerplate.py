"""What a call says about its own procedure, so that it neither forms topics nor leads keywords.

The word lists live in the one stop list (``ftm_assets/text/stopwords.py``); this module adds what is
specific to one call:

- ``call_names(sentences)``: the speakers' and analysts' names of one call, found as capitalised words that
  never appear in lower case in the call and stand in a sentence with a procedural cue ("Thank you, Steve",
  "turn it over to Lindsey", "Lindsey, our chief financial officer");
- ``procedural_mask``: a sentence is *procedural* when at least half of its content words (not English stop
  words) are procedural words (``stopwords.PROCEDURAL``) or the call's names; such sentences go to the
  outliers (topic -1) before the topics are formed;
- ``stop_words(sentences)``: the keyword vectorizer's stop words for the call, the one stop list and its names.

``is_procedural_keyword`` is the benchmark's test of a keyword, with the same lists, so the bench measures
what this module promises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ftm_assets.text import stopwords

_CUES = re.compile(
    r"\b(thank|thanks|turn|hand|question|call|officer|chief|president|joining|joined|operator|introduce|"
    r"over to|go ahead|analyst|from)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']+")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,})\b")
_FORM = stopwords.PROCEDURAL | stopwords.FILLER | stopwords.QUESTION_FORM  # procedure and form, not content


def call_names(sentences: Sequence[str]) -> frozenset[str]:
    """Lower-cased names in this call: capitalised mid-sentence, never lower case, next to a procedural cue."""
    lower_seen = {t for s in sentences for t in _TOKEN.findall(s) if t.islower()}
    names: set[str] = set()
    for s in sentences:
        if not _CUES.search(s):
            continue
        for word in _CAPITALISED.findall(s):
            low = word.lower()
            if low not in lower_seen:
                names.add(low)
    return frozenset(names)


def stop_words(sentences: Sequence[str]) -> list[str]:
    """The keyword vectorizer's stop words for one call: the one stop list and the call's names."""
    return stopwords.stop_words(call_names(sentences))


def procedural_mask(sentences: Sequence[str], names: Iterable[str] | None = None) -> list[bool]:
    """Per sentence: True when at least half its content words are procedural words or the call's names."""
    names = frozenset(call_names(sentences) if names is None else names)
    english = stopwords.english()
    procedural = stopwords.PROCEDURAL
    out = []
    for s in sentences:
        words = [t.lower() for t in _TOKEN.findall(s)]
        content = [w for w in words if w not in english or w in procedural]
        hits = sum(1 for w in content if w in procedural or w in names)
        out.append(bool(content) and 2 * hits >= len(content))
    return out


def is_procedural_keyword(keyword: str, names: Iterable[str] = ()) -> bool:
    """A keyword (a word or a bigram) made only of procedural, filler, question-form or name words."""
    words = [t.lower() for t in _TOKEN.findall(keyword)] or [keyword.lower()]
    bad = _FORM | frozenset(names)
    return all(w in bad for w in words)


def is_procedural_topic(keywords: Sequence[str], names: Iterable[str] = ()) -> bool:
    """Mostly procedure: at least 3 of the topic's top-4 keywords are procedural (the bench's measure)."""
    top = list(keywords[:4])
    return bool(top) and sum(is_procedural_keyword(k, names) for k in top) * 4 >= 3 * len(top)

"""What a call says about its own procedure, so that it neither forms topics nor leads keywords.

Three word lists, one per kind of non-content, and the call-specific speaker names:

- ``PROCEDURAL_WORDS``: greetings, thanks, call logistics (operator instructions, "next question", "turn the
  call over"), safe-harbor and non-GAAP disclaimers;
- ``FILLER_WORDS``: conversational fillers that lead keywords of spoken text ("think", "going", "lot");
- ``call_names(sentences)``: the speakers' and analysts' names of one call, found as capitalised words that
  never appear in lower case in the call and stand in a sentence with a procedural cue ("Thank you, Steve",
  "turn it over to Lindsey", "Lindsey, our chief financial officer").

A sentence is *procedural* when at least half of its content words (not English stop words) are procedural
words or the call's names; such sentences go to the outliers (topic -1) before the topics are formed. The
keyword vectorizer drops all three lists. ``is_procedural_keyword`` is the benchmark's test of a keyword,
with the same lists, so the bench measures what this module promises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

PROCEDURAL_WORDS = frozenset(
    """
    thank thanks thanking thankful welcome welcoming morning afternoon evening good hello hi hey everybody
    everyone ladies gentlemen joining joined join participation participating participants participant
    appreciate appreciated pleasure congratulations congrats call calls conference webcast replay
    operator question questions queue line lines ahead please press star pound hash key keypad telephone
    touchtone phone cancel request announce announced listen mode instructions session turn turning hand
    handing floor open opening remarks closing concludes conclude disconnect presentation presenter
    speakers speaker host introduce today's forward looking statements statement safe harbor risks
    uncertainties uncertainty actual differ materially undertake obligation update sec filings filed
    non gaap reconciliation reconciliations press release website investor investors relations slides
    slide deck page ir follow followup comes come go next final last time allow sir madam mr ms
    morning's afternoon's bye goodbye okay ok great yes sure right chief officer ceo cfo
    """.split()
)

FILLER_WORDS = frozenset(
    """
    think thinking thought know just like really going gonna kind sort bit actually guess mean say said
    talk talked talking lot little maybe obviously basically certainly clearly yeah yes perfect sure
    let want wanted way things thing look looking looks got get getting theres thats youre weve ive
    dont didnt doesnt isnt wasnt arent theyre were we're i'm it's that's there's don't you're we've
    question questions answer answers point points terms ask asking asked quick quickly topic color
    different add adding follow
    """.split()
)

_CUES = re.compile(
    r"\b(thank|thanks|turn|hand|question|call|officer|chief|president|joining|joined|operator|introduce|"
    r"over to|go ahead|analyst|from)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']+")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,})\b")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


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
    """The keyword vectorizer's stop words for one call: English, procedural, filler and the call's names."""
    return sorted(_stop_words() | PROCEDURAL_WORDS | FILLER_WORDS | call_names(sentences))


def procedural_mask(sentences: Sequence[str], names: Iterable[str] | None = None) -> list[bool]:
    """Per sentence: True when at least half its content words are procedural words or the call's names."""
    names = frozenset(call_names(sentences) if names is None else names)
    english = _stop_words()
    out = []
    for s in sentences:
        words = [t.lower() for t in _TOKEN.findall(s)]
        content = [w for w in words if w not in english or w in PROCEDURAL_WORDS]
        hits = sum(1 for w in content if w in PROCEDURAL_WORDS or w in names)
        out.append(bool(content) and 2 * hits >= len(content))
    return out


def is_procedural_keyword(keyword: str, names: Iterable[str] = ()) -> bool:
    """A keyword (a word or a bigram) made only of procedural, filler or name words."""
    words = [t.lower() for t in _TOKEN.findall(keyword)] or [keyword.lower()]
    bad = PROCEDURAL_WORDS | FILLER_WORDS | frozenset(names)
    return all(w in bad for w in words)


def is_procedural_topic(keywords: Sequence[str], names: Iterable[str] = ()) -> bool:
    """Mostly procedure: at least 3 of the topic's top-4 keywords are procedural (the bench's measure)."""
    top = list(keywords[:4])
    return bool(top) and sum(is_procedural_keyword(k, names) for k in top) * 4 >= 3 * len(top)

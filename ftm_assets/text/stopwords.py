"""The one stop list: words that say how an earnings call is conducted, not what it is about.

One list serves three readers, so that a word dropped from one is dropped from all:

- the topic keywords' vectorizer (``worker/model/bertopic_fit.py``: BERTopic's ``CountVectorizer``), with the
  call's own speaker names added (``worker/model/boilerplate.call_names``);
- the theme keywords (``themes/keywords.py``);
- the procedural-sentence filter (``worker/model/boilerplate.procedural_mask``), which reads only ``PROCEDURAL``:
  a sentence made mostly of those words is set aside as an outlier before topics are formed.

The list is the union of scikit-learn's English stop words and five groups:

- ``PROCEDURAL``: greetings, thanks, call logistics (the operator's lines, "next question", "turn the call
  over"), safe-harbor and non-GAAP disclaimers;
- ``FILLER``: conversational fillers and hedges that lead the keywords of spoken text ("think", "going", "lot");
- ``QUESTION_FORM``: the form of an analyst's question, not its subject ("a quick question", "a couple of
  questions", "a different topic", "to follow up", "just to clarify", "if I could squeeze one in"): in "a
  quick follow-up on pricing" only "pricing" stays;
- ``GENERIC``: words every call uses whatever it discusses (quarter, year, modal verbs, titles, contractions
  as tokenizers leave them: "don", "ll", and "todays", "wont" once BERTopic strips the apostrophe), which
  c-TF-IDF would otherwise rank among the keywords of broad themes.

No Dagster and no worker import: both sides import it. scikit-learn is imported on first use only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

PROCEDURAL = frozenset(
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

FILLER = frozenset(
    """
    think thinking thought know knew known just like really going gonna kind sort bit actually guess mean say
    said saying says talk talked talking speak speaking lot little maybe probably obviously basically certainly
    clearly yeah yes perfect sure let want wanted way things thing look looking looks got get getting theres
    thats youre weve ive dont didnt doesnt isnt wasnt arent theyre were we're i'm it's that's there's don't
    you're we've point points terms add adding hope sorry thanked listening
    """.split()
)

QUESTION_FORM = frozenset(
    """
    question questions answer answers ask asking asked quick quickly couple topic topics different follow
    followup followups clarify clarification clarifying curious wondering wonder elaborate unpack color
    colour commentary comment comments mention mentioned mentioning helpful housekeeping squeeze sneak
    piggyback gears touch touched regarding prepared answering answered chance
    """.split()
)

GENERIC = frozenset(
    """
    quarter quarters year years time period also well would could should may might will can one two today
    executive president vice director analyst analysts cautionary filing factors moderator taking take took
    ve ll re don didn doesn isn wasn aren couldn wouldn shouldn concluding
    todays wont cant youve theyve lets whats im ill id youll theyll itll hes shes
    """.split()
)

_TOKEN = re.compile(r"[A-Za-z][A-Za-z']+")


@functools.cache
def english() -> frozenset[str]:
    """scikit-learn's English stop words (the list BERTopic's ``stop_words="english"`` means)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@functools.cache
def _all() -> frozenset[str]:
    return english() | PROCEDURAL | FILLER | QUESTION_FORM | GENERIC


def stop_words(extra: Iterable[str] = ()) -> list[str]:
    """The one stop list, sorted (a vectorizer's ``stop_words``), with ``extra`` words (a call's names) added."""
    return sorted(_all() | frozenset(w.lower() for w in extra))


def is_stop_word(word: str) -> bool:
    """``word`` (any case) is on the stop list."""
    return word.lower() in _all()


def content_words(text: str) -> list[str]:
    """The lower-cased words of ``text`` that are not on the stop list, in order."""
    return [w for w in (t.lower() for t in _TOKEN.findall(text)) if w not in _all()]
